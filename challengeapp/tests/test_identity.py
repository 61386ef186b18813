"""session_token_verify, the JWKS client and the development sign-in (challengeapp/identity/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import stat
import threading
import time
import uuid

import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from challengeapp import identity
from challengeapp.core.errors import IdentityUnavailable, InvalidToken
from challengeapp.identity import SessionClaims, dev_session_token_issue, session_token_verify
from challengeapp.identity.dev_sign_in import _dev_key_create, _dev_key_load_or_create
from challengeapp.tests.fakes.clerk import (
    JWT_TEMPLATE_CATEGORY,
    OMIT,
    TEST_AUTHORIZED_PARTY,
    TEST_SESSION_ID,
    TEST_USER_ID,
    FakeJwks,
    b64url,
    mint_token,
    other_signing_key,
    rotated_signing_key,
    session_claims,
    signing_key,
    token_from_parts,
)
from challengeapp.tests.fakes.clerk_fixtures import clerk_clock, clerk_jwks, clerk_pem


def now() -> int:
    return int(time.time())


def rejected(token, *, expired: bool = False) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        session_token_verify(token)
    assert caught.value.expired is expired
    return caught.value


# --- Genuine tokens -------------------------------------------------------------------------------


def test_genuine_token_verifies_with_the_pem(clerk_pem):
    token = mint_token()

    claims = session_token_verify(token)

    expected = session_claims()
    assert claims == SessionClaims(
        user_id=TEST_USER_ID,
        session_id=TEST_SESSION_ID,
        issued_at=claims.issued_at,
        expires_at=claims.expires_at,
        authorized_party=TEST_AUTHORIZED_PARTY,
    )
    assert abs(claims.issued_at - expected["iat"]) <= 2
    assert claims.expires_at - claims.issued_at == 60


def test_genuine_token_verifies_with_the_jwks(clerk_jwks):
    claims = session_token_verify(mint_token())

    assert claims.user_id == TEST_USER_ID
    assert clerk_jwks.jwks.request_count == 1
    assert clerk_jwks.jwks.authorizations == ["Bearer sk_test_x"]


def test_token_without_sid_verifies_with_an_empty_session_id(clerk_pem):
    assert session_token_verify(mint_token(sid=OMIT)).session_id == ""


def test_token_expired_3_seconds_ago_is_accepted_within_the_leeway(clerk_pem):
    token = mint_token(iat=now() - 63, nbf=now() - 73, exp=now() - 3)

    assert session_token_verify(token).user_id == TEST_USER_ID


def test_authorized_party_is_not_required_when_no_parties_are_configured(clerk_pem, settings):
    settings.CLERK_AUTHORIZED_PARTIES = []

    assert session_token_verify(mint_token(azp=OMIT)).authorized_party == ""


# --- Rejected tokens ------------------------------------------------------------------------------


def test_expired_token_is_rejected_as_expired(clerk_pem):
    token = mint_token(iat=now() - 120, nbf=now() - 130, exp=now() - 60)

    error = rejected(token, expired=True)

    assert error.message == identity.TOKEN_EXPIRED


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda: mint_token(iat=now() - 120, exp=now() - 60, iss="https://evil.test"), id="wrong-issuer"
        ),
        pytest.param(
            lambda: mint_token(iat=now() - 120, exp=now() - 60, key=other_signing_key()), id="other-key"
        ),
        pytest.param(
            lambda: mint_token(iat=now() - 120, exp=now() - 60, azp="https://evil.test"), id="wrong-party"
        ),
        pytest.param(lambda: mint_token(iat=now() - 120, exp=now() - 60, sub=12), id="sub-int"),
        pytest.param(
            lambda: token_from_parts({"alg": "RS256"}, session_claims(exp=now() - 60)), id="garbage-signature"
        ),
    ],
)
def test_expired_token_that_is_also_wrong_is_not_reported_as_expired(clerk_pem, make_token):
    rejected(make_token(), expired=False)


def hs256_with_public_pem_as_secret() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signing_key().kid}))
    payload = b64url(json.dumps(session_claims()))
    secret = signing_key().public_pem.encode()
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def tampered_payload() -> str:
    header, _, signature = mint_token().split(".")
    return f"{header}.{b64url(json.dumps(session_claims(sub='user_attacker')))}.{signature}"


def huge_header() -> str:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "pad": "x" * 100_000}))
    _, payload, signature = mint_token().split(".")
    return f"{header}.{payload}.{signature}"


def with_header(header) -> str:
    _, payload, signature = mint_token().split(".")
    return f"{b64url(json.dumps(header))}.{payload}.{signature}"


REJECTED_TOKENS = {
    "alg-none": lambda: mint_token(alg="none"),
    "alg-none-with-a-signature": lambda: with_header({"alg": "none", "typ": "JWT"}),
    "hs256-with-public-pem-as-secret": hs256_with_public_pem_as_secret,
    "rs512": lambda: mint_token(alg="RS512"),
    "nbf-in-the-future": lambda: mint_token(nbf=now() + 60),
    "iat-in-the-future-beyond-leeway": lambda: mint_token(iat=now() + 30, nbf=now() - 10),
    "wrong-issuer": lambda: mint_token(iss="https://evil.clerk.accounts.dev"),
    "issuer-not-a-string": lambda: mint_token(iss=["https://clerk.codedrill.test"]),
    "azp-not-allowed": lambda: mint_token(azp="https://evil.test"),
    "azp-missing": lambda: mint_token(azp=OMIT),
    "azp-not-a-string": lambda: mint_token(azp=["http://testserver"]),
    "sub-missing": lambda: mint_token(sub=OMIT),
    "sub-empty": lambda: mint_token(sub=""),
    "sub-int": lambda: mint_token(sub=12345),
    "sub-with-odd-characters": lambda: mint_token(sub="user_1/../admin"),
    "sub-with-a-newline": lambda: mint_token(sub="user_1\n"),
    "sub-too-long": lambda: mint_token(sub="user_" + "a" * 200),
    "sid-not-a-string": lambda: mint_token(sid=7),
    "exp-missing": lambda: mint_token(exp=OMIT),
    "exp-as-string": lambda: mint_token(exp=str(now() + 60)),
    "exp-as-bool": lambda: mint_token(exp=True),
    "exp-null": lambda: mint_token(exp=None),
    "iat-missing": lambda: mint_token(iat=OMIT),
    "iat-as-string": lambda: mint_token(iat=str(now())),
    "nbf-missing": lambda: mint_token(nbf=OMIT),
    "nbf-as-list": lambda: mint_token(nbf=[1]),
    "iss-missing": lambda: mint_token(iss=OMIT),
    "tampered-payload": tampered_payload,
    "other-key-same-kid": lambda: mint_token(key=other_signing_key()),
    "truncated": lambda: mint_token()[:-12],
    "signature-removed": lambda: mint_token().rsplit(".", 1)[0] + ".",
    "abc": lambda: "abc",
    "a.b": lambda: "a.b",
    "a.b.c": lambda: "a.b.c",
    "a.b.c.d": lambda: "a.b.c.d",
    "empty": lambda: "",
    "100-kb-header": huge_header,
    "non-base64": lambda: "@@@.###.$$$",
    "non-ascii": lambda: "ëyJ.ëyJ.ëyJ",
    "header-a-json-array": lambda: with_header(["RS256"]),
    "header-not-json": lambda: b64url(b"{alg: RS256") + "." + mint_token().split(".", 1)[1],
    "header-not-utf8": lambda: b64url(b"\xff\xfe\xfd") + "." + mint_token().split(".", 1)[1],
    "payload-a-json-array": lambda: mint_token().split(".")[0] + "." + b64url("[1,2]") + ".c2ln",
    "typ-not-jwt": lambda: mint_token(headers={"typ": "at+jwt"}),
    "cat-of-a-jwt-template": lambda: mint_token(headers={"cat": JWT_TEMPLATE_CATEGORY}),
    "cat-not-a-string": lambda: mint_token(headers={"cat": ["cl_B7d4PD111AAA"]}),
    "kid-not-a-string": lambda: with_header({"alg": "RS256", "kid": 5}),
    "bytes": lambda: mint_token().encode(),
    "none": lambda: None,
}


@pytest.mark.parametrize("make_token", REJECTED_TOKENS.values(), ids=REJECTED_TOKENS.keys())
def test_bad_token_is_rejected_and_never_looks_expired(clerk_pem, make_token):
    rejected(make_token(), expired=False)


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda: with_header({"alg": "none"}), identity.TOKEN_WRONG_ALGORITHM),
        (hs256_with_public_pem_as_secret, identity.TOKEN_WRONG_ALGORITHM),
        (lambda: mint_token(key=other_signing_key()), identity.TOKEN_BAD_SIGNATURE),
        (lambda: mint_token(nbf=now() + 60), identity.TOKEN_NOT_YET_VALID),
        (lambda: mint_token(iss="https://evil.test"), identity.TOKEN_WRONG_ISSUER),
        (lambda: mint_token(azp=OMIT), identity.TOKEN_WRONG_PARTY),
        (lambda: mint_token(sub=OMIT), identity.TOKEN_BAD_CLAIMS),
        (lambda: mint_token(headers={"cat": JWT_TEMPLATE_CATEGORY}), identity.TOKEN_WRONG_KIND),
        (lambda: "a.b", identity.TOKEN_MALFORMED),
    ],
)
def test_rejection_says_why(clerk_pem, make_token, message):
    assert rejected(make_token()).message == message


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "cat", "crit", "x"]),
        st.one_of(st.just("RS256"), st.text(max_size=5), st.integers(), st.none(), st.lists(st.integers())),
    ),
    payload=st.one_of(
        st.dictionaries(
            st.sampled_from(["sub", "iss", "exp", "nbf", "iat", "azp", "sid"]),
            st.one_of(st.text(max_size=5), st.integers(), st.floats(), st.none(), st.booleans()),
        ),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_any_hand_made_token_is_rejected_with_invalid_token_only(clerk_pem, header, payload):
    with pytest.raises(InvalidToken):
        session_token_verify(token_from_parts(header, payload))


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_any_string_is_rejected_with_invalid_token_only(clerk_pem, text):
    with pytest.raises(InvalidToken):
        session_token_verify(text)


def test_a_clerk_pem_that_is_not_a_key_makes_identity_unavailable(clerk_pem, settings, caplog):
    settings.CLERK_JWT_KEY = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"

    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token())


# --- JWKS -----------------------------------------------------------------------------------------


def test_jwks_is_fetched_once_for_many_verifications(clerk_jwks):
    for _ in range(3):
        session_token_verify(mint_token())

    assert clerk_jwks.jwks.request_count == 1


def test_unknown_kid_is_rejected(clerk_jwks):
    error = rejected(mint_token(kid="ins_unknownKid"))

    assert error.message == identity.TOKEN_UNKNOWN_KEY


def test_token_without_kid_is_rejected_in_jwks_mode(clerk_jwks):
    rejected(mint_token(headers={"kid": OMIT}))
    assert clerk_jwks.jwks.request_count == 0  # decided before any network


def test_token_signed_by_another_key_with_a_known_kid_is_rejected(clerk_jwks):
    session_token_verify(mint_token())

    assert rejected(mint_token(key=other_signing_key())).message == identity.TOKEN_BAD_SIGNATURE


def test_rotated_key_verifies_after_one_refetch(clerk_jwks, clerk_clock):
    session_token_verify(mint_token())
    clerk_jwks.jwks.set_keys([signing_key(), rotated_signing_key()])
    clerk_clock.advance(30)  # past CLERK_JWKS_MIN_REFETCH_SECONDS, well within the cache lifetime

    claims = session_token_verify(mint_token(key=rotated_signing_key()))

    assert claims.user_id == TEST_USER_ID
    assert clerk_jwks.jwks.request_count == 2
    session_token_verify(mint_token(key=rotated_signing_key()))
    session_token_verify(mint_token())
    assert clerk_jwks.jwks.request_count == 2


def test_unknown_kid_soon_after_a_fetch_does_not_refetch(clerk_jwks, clerk_clock):
    session_token_verify(mint_token())
    clerk_jwks.jwks.set_keys([signing_key(), rotated_signing_key()])
    clerk_clock.advance(5)

    rejected(mint_token(key=rotated_signing_key()))

    assert clerk_jwks.jwks.request_count == 1


def test_jwks_is_refetched_when_the_cache_expires(clerk_jwks, clerk_clock, settings):
    session_token_verify(mint_token())
    clerk_clock.advance(settings.CLERK_JWKS_CACHE_SECONDS + 1)

    session_token_verify(mint_token())

    assert clerk_jwks.jwks.request_count == 2


def test_key_removed_from_the_jwks_stops_verifying_after_the_cache_expires(clerk_jwks, clerk_clock, settings):
    session_token_verify(mint_token())
    clerk_jwks.jwks.set_keys([rotated_signing_key()])
    clerk_clock.advance(settings.CLERK_JWKS_CACHE_SECONDS + 1)

    assert rejected(mint_token()).message == identity.TOKEN_UNKNOWN_KEY


def test_many_unknown_kids_cause_at_most_two_fetches(clerk_jwks):
    session_token_verify(mint_token())

    for _ in range(50):
        rejected(mint_token(kid=f"ins_{uuid.uuid4().hex}"))

    assert clerk_jwks.jwks.request_count <= 2


def run_in_threads(count: int, work) -> list:
    results: list = [None] * count
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work(index)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    return results


def test_threads_on_a_cold_cache_share_one_fetch(clerk_jwks):
    clerk_jwks.jwks.delay = 0.2  # so that every thread arrives while the fetch is in flight
    tokens = [mint_token() for _ in range(16)]

    results = run_in_threads(16, lambda index: session_token_verify(tokens[index]))

    assert all(isinstance(result, SessionClaims) for result in results), results
    assert clerk_jwks.jwks.request_count == 1


def test_threads_with_unknown_kids_share_one_refetch(clerk_jwks, clerk_clock):
    session_token_verify(mint_token())
    clerk_clock.advance(30)
    clerk_jwks.jwks.delay = 0.2
    tokens = [mint_token(kid=f"ins_{uuid.uuid4().hex}") for _ in range(16)]

    results = run_in_threads(16, lambda index: session_token_verify(tokens[index]))

    assert all(isinstance(result, InvalidToken) for result in results), results
    assert clerk_jwks.jwks.request_count == 2


def in_background(work) -> tuple[threading.Thread, dict]:
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except Exception as error:
            outcome["result"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_for_requests(jwks: FakeJwks, count: int) -> None:
    deadline = time.monotonic() + 5
    while jwks.request_count < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jwks.request_count >= count, "the JWKS was not fetched"


def finishes_while_held(work) -> object:
    """Run `work` in a thread and wait for it; it must finish on its own (the liveness bound is
    generous: a thread stuck behind a held fetch never finishes while the fetch is held)."""
    thread, outcome = in_background(work)
    thread.join(5)
    assert not thread.is_alive(), "it waited for the held fetch"
    return outcome["result"]


def test_known_key_verifies_while_an_unknown_kid_waits_on_the_endpoint(clerk_jwks, clerk_clock):
    session_token_verify(mint_token())
    clerk_clock.advance(30)  # an unknown kid may refetch
    clerk_jwks.jwks.gate = threading.Event()  # the fetch below is held until the gate opens
    unknown, outcome = in_background(lambda: session_token_verify(mint_token(kid="ins_unknownKid")))
    wait_for_requests(clerk_jwks.jwks, 2)

    claims = finishes_while_held(lambda: session_token_verify(mint_token(sid="sess_another")))

    assert claims.session_id == "sess_another"
    assert not clerk_jwks.jwks.gate.is_set()
    clerk_jwks.jwks.gate.set()
    unknown.join(5)
    assert isinstance(outcome.get("result"), InvalidToken), outcome


def test_stale_key_verifies_at_once_while_another_thread_refreshes(clerk_jwks, clerk_clock, settings):
    session_token_verify(mint_token())
    clerk_clock.advance(settings.CLERK_JWKS_CACHE_SECONDS + 1)
    clerk_jwks.jwks.gate = threading.Event()
    refresher, outcome = in_background(lambda: session_token_verify(mint_token(sid="sess_refresher")))
    wait_for_requests(clerk_jwks.jwks, 2)

    claims = finishes_while_held(lambda: session_token_verify(mint_token(sid="sess_another")))

    assert claims.session_id == "sess_another"
    clerk_jwks.jwks.gate.set()
    refresher.join(5)
    assert isinstance(outcome.get("result"), SessionClaims), outcome
    assert clerk_jwks.jwks.request_count == 2


def test_jwks_redirect_is_not_followed(clerk_jwks, caplog):
    caplog.set_level(logging.ERROR, logger="challengeapp.identity")
    with FakeJwks([signing_key()]) as elsewhere:
        clerk_jwks.jwks.mode = "redirect"
        clerk_jwks.jwks.redirect_to = elsewhere.url

        with pytest.raises(IdentityUnavailable):
            session_token_verify(mint_token())

        # Following it would have sent the secret key's Authorization header there.
        assert elsewhere.request_count == 0
    assert clerk_jwks.jwks.request_count == 1
    assert "HTTP 302" in caplog.records[-1].getMessage()


def test_jwks_answer_over_the_size_cap_makes_identity_unavailable(clerk_jwks, caplog):
    clerk_jwks.jwks.mode = "huge"
    caplog.set_level(logging.ERROR, logger="challengeapp.identity")

    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token())

    assert "larger than" in caplog.records[-1].getMessage()


def test_jwks_without_an_rs256_key_makes_identity_unavailable(clerk_jwks):
    clerk_jwks.jwks.entries = [{**signing_key().jwk(), "alg": "RS512"}]

    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token())


def test_jwks_keys_that_are_no_use_are_skipped(clerk_jwks):
    clerk_jwks.jwks.entries = [
        {"kty": "EC", "kid": "ins_ec", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {"kty": "RSA", "kid": "ins_broken", "n": "not base64!", "e": "AQAB"},
        "not a key",
        signing_key().jwk(),
    ]

    assert session_token_verify(mint_token()).user_id == TEST_USER_ID


def test_jwks_url_that_is_not_http_makes_identity_unavailable(clerk_jwks, settings, caplog):
    settings.CLERK_JWKS_URL = "file:///etc/passwd"
    caplog.set_level(logging.ERROR, logger="challengeapp.identity")

    for _ in range(3):
        with pytest.raises(IdentityUnavailable):
            session_token_verify(mint_token())

    assert len([r for r in caplog.records if r.name == "challengeapp.identity"]) == 1


# What the log says when the fetch gave up on its own: a fetch without a timeout or a deadline
# would have ended differently (the fake hangs up after a while, or stops trickling).
GAVE_UP = {
    "error": "HTTP 500",
    "garbage": "not JSON",
    "hang": "timed out",
    "trickle": "no complete answer within",
}


@pytest.mark.parametrize("mode", ["error", "garbage", "hang", "trickle"])
def test_jwks_down_with_no_cache_makes_identity_unavailable_and_says_why(clerk_jwks, settings, caplog, mode):
    settings.CLERK_JWKS_TIMEOUT = 0.5
    clerk_jwks.jwks.mode = mode
    caplog.set_level(logging.ERROR, logger="challengeapp.identity")

    with pytest.raises(IdentityUnavailable) as caught:
        session_token_verify(mint_token())

    assert caught.value.args[0] == identity.IDENTITY_UNAVAILABLE
    lines = [record.getMessage() for record in caplog.records if record.name == "challengeapp.identity"]
    assert len(lines) == 1
    assert clerk_jwks.jwks.url in lines[0]
    assert GAVE_UP[mode] in lines[0], lines[0]


def test_jwks_down_logs_once_and_is_not_hammered(clerk_jwks, caplog):
    clerk_jwks.jwks.mode = "error"
    caplog.set_level(logging.ERROR, logger="challengeapp.identity")

    for _ in range(10):
        with pytest.raises(IdentityUnavailable):
            session_token_verify(mint_token())

    assert clerk_jwks.jwks.request_count == 1
    assert len([r for r in caplog.records if r.name == "challengeapp.identity"]) == 1


def test_jwks_unreachable_makes_identity_unavailable(clerk_jwks, settings):
    settings.CLERK_JWKS_URL = "http://127.0.0.1:9/v1/jwks"  # discard port: connection refused

    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token())


def test_jwks_down_with_a_warm_cache_keeps_verifying(clerk_jwks, clerk_clock, settings):
    session_token_verify(mint_token())
    clerk_jwks.jwks.mode = "error"
    clerk_clock.advance(settings.CLERK_JWKS_CACHE_SECONDS + 1)  # stale: a refresh is attempted and fails

    assert session_token_verify(mint_token()).user_id == TEST_USER_ID
    assert clerk_jwks.jwks.request_count == 2
    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token(kid="ins_unknownKid"))


def test_jwks_recovers_after_an_outage(clerk_jwks, clerk_clock):
    clerk_jwks.jwks.mode = "error"
    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token())
    clerk_jwks.jwks.mode = "ok"
    clerk_clock.advance(30)

    assert session_token_verify(mint_token()).user_id == TEST_USER_ID


# --- Development sign-in --------------------------------------------------------------------------


@pytest.fixture
def dev_sign_in(settings, tmp_path):
    settings.DEV_SIGN_IN = True
    settings.CLERK_ENABLED = False
    settings.CLERK_ISSUER = ""
    settings.DEV_SIGNING_KEY_PATH = tmp_path / "var" / "keys" / "dev-signing-key.pem"
    return settings.DEV_SIGNING_KEY_PATH


def test_dev_token_round_trips(dev_sign_in, settings):
    token = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_1")

    claims = session_token_verify(token)

    assert claims.user_id == "user_dev_ada"
    assert claims.session_id == "sess_dev_1"
    assert claims.authorized_party == identity.DEV_AUTHORIZED_PARTY
    assert claims.expires_at - claims.issued_at == settings.DEV_SESSION_SECONDS
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == settings.DEV_ISSUER


def test_dev_key_file_is_private_and_reused(dev_sign_in):
    dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_1")
    pem = dev_sign_in.read_bytes()

    token = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_2")

    assert stat.S_IMODE(os.stat(dev_sign_in).st_mode) == 0o600
    assert dev_sign_in.read_bytes() == pem
    assert session_token_verify(token).session_id == "sess_dev_2"
    assert [path.name for path in dev_sign_in.parent.iterdir()] == [dev_sign_in.name]


def test_dev_key_file_made_by_another_process_is_used(dev_sign_in):
    dev_sign_in.parent.mkdir(parents=True)
    dev_sign_in.write_bytes(signing_key().private_pem)

    token = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_1")

    assert (
        jwt.decode(
            token,
            signing_key().public_key,
            algorithms=["RS256"],
            options={"verify_iss": False, "verify_aud": False},
        )["sub"]
        == "user_dev_ada"
    )


def test_dev_key_created_by_racing_writers_is_one_whole_key(tmp_path):
    path = tmp_path / "race" / "key.pem"

    results = run_in_threads(8, lambda index: _dev_key_create(path))

    assert results == [None] * 8
    assert _dev_key_load_or_create(path).kid.startswith("ins_dev_")
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]


def test_dev_token_cannot_be_issued_without_dev_sign_in(clerk_pem):
    with pytest.raises(RuntimeError):
        dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_1")


def test_dev_token_is_rejected_when_clerk_is_on(dev_sign_in, settings, clerk_pem):
    settings.DEV_SIGN_IN = True
    token = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_1")
    settings.DEV_SIGN_IN = False

    rejected(token)


def test_clerk_token_is_rejected_by_the_dev_sign_in(dev_sign_in):
    rejected(mint_token())


def test_dev_token_from_another_key_is_rejected(dev_sign_in, settings, tmp_path):
    token = dev_session_token_issue(user_id="user_dev_ada", session_id="sess_dev_1")
    settings.DEV_SIGNING_KEY_PATH = tmp_path / "other" / "key.pem"

    assert rejected(token).message == identity.TOKEN_UNKNOWN_KEY


def test_corrupt_dev_key_file_makes_identity_unavailable(dev_sign_in):
    dev_sign_in.parent.mkdir(parents=True)
    dev_sign_in.write_text("not a key")

    with pytest.raises(IdentityUnavailable):
        session_token_verify(mint_token())
