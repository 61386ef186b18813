"""LearnerAuthenticationMiddleware end to end: tokens through real requests to pages and the API.

test_identity.py covers session_token_verify itself; here we assert what a browser, an API client
or an attacker sees over HTTP (status, redirect, refresh page, JSON), and that no request with a
token we must not trust creates a learner.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from challengeapp import auth, identity
from challengeapp.identity import dev_session_token_issue
from challengeapp.middleware import SESSION_COOKIE
from challengeapp.models import Quota
from challengeapp.tests.conftest import csp_directives as parse_csp
from challengeapp.tests.fakes.clerk import (
    OMIT,
    TEST_FRONTEND_API_HOST,
    TEST_PUBLISHABLE_KEY,
    TEST_USER_ID,
    b64url,
    mint_token,
    other_signing_key,
    rotated_signing_key,
    session_claims,
    signing_key,
)

pytestmark = pytest.mark.django_db

User = get_user_model()

HTMX = {"HTTP_HX_REQUEST": "true"}
CLERK_ORIGIN = f"https://{TEST_FRONTEND_API_HOST}"
CLERK_JS_SRC = f"{CLERK_ORIGIN}/npm/@clerk/clerk-js@6/dist/clerk.browser.js"


# --- Helpers --------------------------------------------------------------------------------------


@pytest.fixture(params=["pem", "jwks"])
def clerk(request):
    """Clerk on, keys from CLERK_JWT_KEY or from the JWKS: every request must behave the same."""
    return request.getfixturevalue(f"clerk_{request.param}")


@pytest.fixture
def clock(clerk_clock):
    """The JWKS cache's clock, moved forward instead of sleeping."""
    return clerk_clock


def now() -> int:
    return int(time.time())


def api_get(token: str, path: str = "/api/quota"):
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def page_get(token: str, path: str = "/", **extra):
    # The raw header, so that any string reaches the server exactly as a browser would send it.
    return Client().get(path, HTTP_COOKIE=f"{SESSION_COOKIE}={token}", **extra)


def text(response) -> str:
    return response.content.decode()


def assert_api_refused(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": auth.INVALID_SESSION}
    assert response["WWW-Authenticate"].startswith("Bearer")


def assert_sent_to_sign_in(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/?next=")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))


def scripts_of(response) -> list[dict[str, str | None]]:
    parser = _Tags()
    parser.feed(text(response))
    return parser.scripts


def clerk_js_script(response) -> dict[str, str | None]:
    matching = [script for script in scripts_of(response) if script.get("src") == CLERK_JS_SRC]
    assert len(matching) == 1, scripts_of(response)
    return matching[0]


def csp_directives(response) -> dict[str, list[str]]:
    return parse_csp(response["Content-Security-Policy"])


# --- Attacks --------------------------------------------------------------------------------------


def hs256_with_public_pem_as_secret() -> str:
    """The classic algorithm confusion: HMAC keyed with the public key the server verifies with."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signing_key().kid}))
    payload = b64url(json.dumps(session_claims()))
    secret = signing_key().public_pem.encode()
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def tampered_payload() -> str:
    header, _, signature = mint_token().split(".")
    return f"{header}.{b64url(json.dumps(session_claims(sub='user_attacker')))}.{signature}"


def huge_jwt_header() -> str:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "pad": "x" * 100_000}))
    _, payload, signature = mint_token().split(".")
    return f"{header}.{payload}.{signature}"


def expired() -> str:
    return mint_token(iat=now() - 120, nbf=now() - 130, exp=now() - 60)


ATTACKS = {
    "alg-none": lambda: mint_token(alg="none"),
    "hs256-with-the-public-pem-as-secret": hs256_with_public_pem_as_secret,
    "expired": expired,
    "expired-and-signed-by-another-key": lambda: mint_token(
        key=other_signing_key(), iat=now() - 120, nbf=now() - 130, exp=now() - 60
    ),
    "nbf-in-the-future": lambda: mint_token(nbf=now() + 60),
    "iat-in-the-future-beyond-leeway": lambda: mint_token(iat=now() + 30, nbf=now() - 10),
    "wrong-iss": lambda: mint_token(iss="https://evil.clerk.accounts.dev"),
    "azp-not-allowed": lambda: mint_token(azp="https://evil.test"),
    "azp-missing": lambda: mint_token(azp=OMIT),
    "sub-missing": lambda: mint_token(sub=OMIT),
    "unknown-kid-and-key": lambda: mint_token(key=rotated_signing_key()),
    "tampered-payload": tampered_payload,
    "other-key-same-kid": lambda: mint_token(key=other_signing_key()),
    "truncated": lambda: mint_token()[:-12],
    "signature-removed": lambda: mint_token().rsplit(".", 1)[0] + ".",
    "not-a-jwt": lambda: "garbage",
    "two-segments": lambda: "a.b",
    "three-junk-segments": lambda: "a.b.c",
    "non-base64": lambda: "@@@.###.$$$",
    "non-ascii": lambda: "ëyJ.ëyJ.ëyJ",
    "100-kb-string": lambda: "x" * 100_000,
    "100-kb-jwt-header": huge_jwt_header,
    "sub-an-int": lambda: mint_token(sub=12345),
    "sub-a-list": lambda: mint_token(sub=[TEST_USER_ID]),
    "sub-a-path": lambda: mint_token(sub="user_1/../admin"),
    "exp-a-string": lambda: mint_token(exp=str(now() + 60)),
    "exp-a-bool": lambda: mint_token(exp=True),
    "exp-infinite": lambda: mint_token(exp=float("inf")),
    "iat-a-string": lambda: mint_token(iat=str(now())),
    "nbf-a-list": lambda: mint_token(nbf=[1]),
    "iss-a-list": lambda: mint_token(iss=[f"https://{TEST_FRONTEND_API_HOST}"]),
    "azp-a-list": lambda: mint_token(azp=["http://testserver"]),
    "sid-an-int": lambda: mint_token(sid=7),
}


@pytest.mark.parametrize("make_token", ATTACKS.values(), ids=ATTACKS.keys())
def test_api_refuses_an_untrusted_bearer_token_and_creates_nobody(clerk, make_token):
    token = make_token()
    users_before = User.objects.count()

    assert_api_refused(api_get(token))

    assert User.objects.count() == users_before
    assert not User.objects.filter(username__in=[TEST_USER_ID, "user_attacker"]).exists()


@pytest.mark.parametrize("make_token", ATTACKS.values(), ids=ATTACKS.keys())
def test_page_refuses_an_untrusted_session_cookie_and_creates_nobody(clerk, make_token):
    token = make_token()
    users_before = User.objects.count()

    response = page_get(token)

    if make_token is expired:
        # Genuine but old: Clerk's JavaScript can refresh it (see the refresh tests below).
        assert response.status_code == 401 and "data-clerk-refresh" in text(response)
    else:
        assert_sent_to_sign_in(response)
    assert User.objects.count() == users_before
    assert not User.objects.filter(username__in=[TEST_USER_ID, "user_attacker"]).exists()


def test_a_wrong_authorization_scheme_is_not_a_session(clerk):
    response = Client().get("/api/quota", HTTP_AUTHORIZATION=f"Basic {clerk.token()}")

    assert response.status_code == 401 and response.json() == {"detail": auth.NOT_SIGNED_IN}
    assert User.objects.count() == 0


# --- Genuine tokens -------------------------------------------------------------------------------


def test_a_genuine_bearer_token_reaches_the_api_and_creates_the_learner_once(clerk):
    first = api_get(clerk.token())

    assert first.status_code == 200
    assert first.json()["user_id"] == TEST_USER_ID
    learner = User.objects.get(username=TEST_USER_ID)
    assert Quota.objects.filter(user=learner).count() == 1
    assert not learner.has_usable_password()

    second = api_get(clerk.token())

    assert second.status_code == 200 and second.json()["user_id"] == TEST_USER_ID
    assert User.objects.count() == 1 and Quota.objects.count() == 1


def test_a_genuine_session_cookie_reaches_the_practice_page(clerk):
    first = page_get(clerk.token())

    assert first.status_code == 200
    learner = User.objects.get(username=TEST_USER_ID)
    assert Quota.objects.filter(user=learner).count() == 1

    assert page_get(clerk.token()).status_code == 200
    assert User.objects.count() == 1 and Quota.objects.count() == 1


def test_the_cookie_is_read_past_an_unrelated_malformed_cookie(clerk):
    # Clerk's Python SDK (SimpleCookie) loses every cookie in this header; Django's parser does not.
    header = f'junk cookie; other="unterminated; {SESSION_COOKIE}={clerk.token()}'

    response = Client().get("/", HTTP_COOKIE=header)

    assert response.status_code == 200
    assert User.objects.filter(username=TEST_USER_ID).exists()


def test_the_api_ignores_the_session_cookie(clerk):
    # A cookie rides along on cross-site requests; only a Bearer token may act on the API.
    response = Client().get("/api/quota", HTTP_COOKIE=f"{SESSION_COOKIE}={clerk.token()}")

    assert response.status_code == 401 and response.json() == {"detail": auth.NOT_SIGNED_IN}
    assert User.objects.count() == 0


def test_a_token_a_few_seconds_past_exp_is_within_the_leeway(clerk):
    token = clerk.token(iat=now() - 63, nbf=now() - 73, exp=now() - 2)

    assert api_get(token).status_code == 200
    assert page_get(token).status_code == 200


# --- Expired sessions -----------------------------------------------------------------------------


def test_an_expired_cookie_on_a_page_load_gets_the_refresh_page(clerk):
    response = page_get(expired(), "/history/?topic=sql")

    assert response.status_code == 401
    page = text(response)
    assert "data-clerk-refresh" in page
    assert 'data-next="/history/?topic=sql"' in page
    assert clerk_js_script(response)["data-clerk-publishable-key"] == TEST_PUBLISHABLE_KEY
    assert "data-clerk-user-button" not in page  # nobody is signed in on this page
    assert User.objects.count() == 0


def test_an_expired_cookie_on_an_htmx_request_redirects_the_page_to_sign_in(clerk):
    response = page_get(expired(), "/history/", **HTMX)

    assert response.status_code == 200  # htmx follows HX-Redirect only on a 2xx
    assert response["HX-Redirect"].startswith("/sign-in/?next=")
    assert "data-clerk-refresh" not in text(response)


def test_an_expired_cookie_on_a_form_post_goes_to_sign_in(clerk):
    response = Client().post(
        "/challenges/generate/",
        {"difficulty": "easy", "topic": "sql"},
        HTTP_COOKIE=f"{SESSION_COOKIE}={expired()}",
    )

    assert_sent_to_sign_in(response)


def test_an_expired_bearer_token_gets_401_from_the_api(clerk):
    assert_api_refused(api_get(expired()))


# --- JWKS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_jwks_down_with_no_cached_key_answers_503_and_logs_once(clerk_jwks, settings, caplog, mode):
    settings.CLERK_JWKS_TIMEOUT = 0.5
    clerk_jwks.jwks.mode = mode
    caplog.set_level(logging.ERROR, logger="challengeapp.identity")
    token = clerk_jwks.token()

    api = api_get(token)

    assert api.status_code == 503
    assert api["Content-Type"] == "application/json"
    assert api.json() == {"detail": auth.IDENTITY_UNAVAILABLE}

    page = page_get(token)

    assert page.status_code == 503
    assert auth.IDENTITY_UNAVAILABLE in text(page)
    lines = [record.getMessage() for record in caplog.records if record.name == "challengeapp.identity"]
    assert len(lines) == 1
    assert clerk_jwks.jwks.url in lines[0]
    # The fetch gave up by itself: its timeout, not the fake hanging up later.
    assert ("timed out" if mode == "hang" else "HTTP 500") in lines[0]
    assert User.objects.count() == 0


def test_many_requests_with_unknown_kids_cause_at_most_two_jwks_fetches(clerk_jwks):
    assert api_get(clerk_jwks.token()).status_code == 200

    for _ in range(30):
        assert_api_refused(api_get(clerk_jwks.token(kid=f"ins_{uuid.uuid4().hex}")))
        assert_sent_to_sign_in(page_get(clerk_jwks.token(kid=f"ins_{uuid.uuid4().hex}")))

    assert api_get(clerk_jwks.token()).status_code == 200
    assert clerk_jwks.jwks.request_count <= 2
    assert User.objects.count() == 1


def test_unknown_kids_on_a_cold_cache_cause_at_most_two_jwks_fetches(clerk_jwks):
    for _ in range(20):
        assert_api_refused(api_get(clerk_jwks.token(kid=f"ins_{uuid.uuid4().hex}")))

    assert clerk_jwks.jwks.request_count <= 2
    assert User.objects.count() == 0


def test_key_rotation_works_through_the_api(clerk_jwks, clock):
    assert api_get(clerk_jwks.token()).status_code == 200
    clerk_jwks.jwks.set_keys([signing_key(), rotated_signing_key()])
    clock.advance(30)  # past CLERK_JWKS_MIN_REFETCH_SECONDS, well inside the cache lifetime

    rotated = api_get(clerk_jwks.token(key=rotated_signing_key()))

    assert rotated.status_code == 200 and rotated.json()["user_id"] == TEST_USER_ID
    assert api_get(clerk_jwks.token()).status_code == 200  # the old key still verifies
    assert clerk_jwks.jwks.request_count == 2
    assert User.objects.count() == 1


def test_a_key_dropped_from_the_jwks_stops_working_once_the_cache_expires(clerk_jwks, clock, settings):
    assert api_get(clerk_jwks.token()).status_code == 200
    clerk_jwks.jwks.set_keys([rotated_signing_key()])
    clock.advance(settings.CLERK_JWKS_CACHE_SECONDS + 1)

    assert_api_refused(api_get(clerk_jwks.token()))
    assert api_get(clerk_jwks.token(key=rotated_signing_key())).status_code == 200


# --- Clerk's pages --------------------------------------------------------------------------------


def test_sign_in_mounts_clerk(clerk_pem):
    response = Client().get("/sign-in/?next=/history/")

    assert response.status_code == 200
    page = text(response)
    assert "data-clerk-sign-in" in page and 'data-next="/history/"' in page
    assert clerk_js_script(response)["data-clerk-publishable-key"] == TEST_PUBLISHABLE_KEY
    assert 'name="display_name"' not in page  # no development sign-in form


def test_sign_in_with_clerk_keeps_next_on_this_site(clerk_pem):
    page = text(Client().get("/sign-in/?next=https://evil.example/"))

    assert 'data-next="/"' in page and "evil.example" not in page


def test_a_signed_in_learner_gets_clerks_user_button(clerk_pem):
    response = page_get(clerk_pem.token())

    assert response.status_code == 200
    assert "data-clerk-user-button" in text(response)
    assert 'action="/sign-out/"' not in text(response)  # Clerk's button signs out, not our form


def test_sign_out_asks_on_get_and_hands_over_to_clerk_only_on_a_post_with_csrf(clerk_pem):
    # GET only asks: a link or an <img> on another site must not sign a learner out.
    for response in (Client().get("/sign-out/"), page_get(clerk_pem.token(), "/sign-out/")):
        assert response.status_code == 200
        assert "data-clerk-sign-out" not in text(response)
        assert 'method="post"' in text(response)
        clerk_js_script(response)

    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/sign-out/").status_code == 403  # no CSRF token: refused

    form = browser.get("/sign-out/")
    token = form.cookies["csrftoken"].value
    response = browser.post("/sign-out/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "data-clerk-sign-out" in text(response)


@pytest.mark.parametrize("path", ["/sign-in/", "/sign-out/", "/"])
def test_the_policy_allows_clerk_and_no_other_external_script(clerk_pem, path):
    response = page_get(clerk_pem.token(), path)
    assert response.status_code == 200

    directives = csp_directives(response)

    assert CLERK_ORIGIN in directives["script-src"]
    assert CLERK_ORIGIN in directives["connect-src"]
    assert [source for source in directives["script-src"] if not source.startswith("'")] == [CLERK_ORIGIN]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    # Every script the page loads is allowed by the policy: ours, or Clerk's from its Frontend API.
    for script in scripts_of(response):
        source = script.get("src") or ""
        assert source.startswith((f"{CLERK_ORIGIN}/", "/static/")), script


def test_the_development_sign_in_is_off_when_clerk_is_on(clerk_pem):
    response = Client().post("/sign-in/", {"display_name": "Mallory", "email": "m@example.com"})

    assert User.objects.count() == 0
    assert SESSION_COOKIE not in response.cookies
    assert "data-clerk-sign-in" in text(response)


@pytest.fixture
def dev_token(settings):
    """A development token, minted while the development sign-in is still on (before clerk_pem)."""
    return dev_session_token_issue(user_id="user_dev_mallory", session_id="sess_dev")


def test_a_development_token_does_not_sign_in_once_clerk_is_on(dev_token, clerk_pem):
    assert_api_refused(api_get(dev_token))
    assert_sent_to_sign_in(page_get(dev_token))
    assert User.objects.count() == 0


# --- The development sign-in goes through the same verification -----------------------------------


def broken_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    # A character in the middle: the last one may only carry padding bits.
    middle = len(signature) // 2
    swapped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{swapped}{signature[middle + 1 :]}"


def dev_kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_a_genuine_development_token_signs_in(settings):
    token = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev")

    assert api_get(token).json()["user_id"] == "user_dev_ada"
    assert page_get(token).status_code == 200


def test_a_development_token_with_a_broken_signature_is_refused(settings):
    assert settings.DEV_SIGN_IN and not settings.CLERK_ENABLED  # the default test settings
    token = broken_signature(dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev"))

    assert_api_refused(api_get(token))
    assert_sent_to_sign_in(page_get(token))
    assert User.objects.count() == 0


def test_a_development_token_signed_by_another_key_is_refused(settings):
    genuine = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev")
    forged = mint_token(
        key=other_signing_key(),
        kid=dev_kid(genuine),
        iss=settings.DEV_ISSUER,
        azp=identity.DEV_AUTHORIZED_PARTY,
        sub="user_dev_ada",
    )

    assert_api_refused(api_get(forged))
    assert_sent_to_sign_in(page_get(forged))
    assert User.objects.count() == 0


def test_an_unsigned_development_token_is_refused(settings):
    genuine = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev")
    forged = mint_token(alg="none", kid=dev_kid(genuine), iss=settings.DEV_ISSUER, sub="user_dev_ada")

    assert_api_refused(api_get(forged))
    assert_sent_to_sign_in(page_get(forged))
    assert User.objects.count() == 0


# --- Learners who may no longer sign in -----------------------------------------------------------


@pytest.mark.django_db
def test_a_deactivated_learner_is_signed_out_everywhere_until_reactivated():
    token = dev_session_token_issue(user_id="user_paused", session_id="sess_paused")
    assert api_get(token).status_code == 200
    get_user_model().objects.filter(username="user_paused").update(is_active=False)

    response = api_get(token)
    assert response.status_code == 401
    assert response.json() == {"detail": "This account has been deactivated. Contact the site's operator."}
    assert_sent_to_sign_in(page_get(token, "/history/"))
    # The sign-in page says why instead of offering a sign-in that would lead back here.
    refused = page_get(token, "/sign-in/")
    assert refused.status_code == 403 and "deactivated" in text(refused)

    get_user_model().objects.filter(username="user_paused").update(is_active=True)
    assert api_get(token).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["staff", "superuser"])
def test_a_session_token_never_signs_in_as_an_operators_account(kind):
    # An operator's username that a token could name (a Clerk-like id, or a development name).
    operator = get_user_model().objects.create_user("user_operator", password="an-operator-passphrase")
    operator.is_staff = True
    operator.is_superuser = kind == "superuser"
    operator.save()
    token = dev_session_token_issue(user_id="user_operator", session_id="sess_operator")

    response = api_get(token)
    assert response.status_code == 401 and "operator" in response.json()["detail"]
    assert_sent_to_sign_in(page_get(token, "/history/"))
    operator.refresh_from_db()
    assert operator.is_staff and operator.check_password("an-operator-passphrase")


# --- Mounted under a prefix (SCRIPT_NAME) ---------------------------------------------------------


@pytest.mark.django_db
def test_path_rules_hold_when_the_site_is_mounted_under_a_prefix():
    token = dev_session_token_issue(user_id="user_mounted", session_id="sess_mounted")
    mounted = {"SCRIPT_NAME": "/codedrill"}

    # The API still takes Bearer tokens only: a cookie must not authenticate a cross-site call.
    cookie_only = Client().get("/api/quota", HTTP_COOKIE=f"{SESSION_COOKIE}={token}", **mounted)
    assert cookie_only.status_code == 401
    bearer = Client().get("/api/quota", HTTP_AUTHORIZATION=f"Bearer {token}", **mounted)
    assert bearer.status_code == 200
    # Pages still read the cookie; the admin keeps Django's own login and no CSP of ours.
    assert page_get(token, "/history/", **mounted).status_code == 200
    admin = Client().get("/admin/login/", **mounted)
    assert admin.status_code == 200 and "Content-Security-Policy" not in admin
    # Unknown API paths still answer JSON.
    missing = Client().get("/api/nothing", HTTP_AUTHORIZATION=f"Bearer {token}", **mounted)
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
