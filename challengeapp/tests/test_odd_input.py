"""Odd input on every route: never a 5xx, and nothing changes.

Unicode digits, numbers too large for any column, NUL characters, bytes that are not UTF-8, JSON of
the wrong types or with a key given twice, parameters given twice, ids past 64 bits: each answered
with a clear 4xx (or ignored where a page has a sensible default), and the database as it was.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from challengeapp.identity import dev_session_token_issue
from challengeapp.learning.attempts import attempt_record
from challengeapp.models import (
    ActivityDay,
    Attempt,
    Challenge,
    DeletedLearner,
    Quota,
    ReviewCard,
    ReviewLog,
    WebhookEvent,
)
from challengeapp.tests.conftest import signed_in

pytestmark = pytest.mark.django_db

ODD_NUMBERS = [
    "²",
    "①",
    "١٢",
    "٣",
    "+1",
    "-1",
    " 1",
    "1 ",
    "1.0",
    "1e3",
    "0x10",
    "9" * 30,
    "9" * 5000,
    "",
    "NaN",
]
ODD_TEXT = ["\x00", "a\x00b", "%FF%FE", "%C0%AF", "%ED%A0%80", "\u202e", "<script>", "'; DROP TABLE x;--"]
ODD_JSON_VALUES = [
    None,
    True,
    1.5,
    10**30,
    -1,
    "1",
    "easy\x00",
    [],
    {},
    [1, 2],
    {"$gt": ""},
    "\ud800",
]
ODD_RAW_BODIES = [
    b"",
    b"\xff\xfe\x00",
    b"\xc0\xaf",
    b"null",
    b"[]",
    b'"easy"',
    b"1e999999",
    b"9" * 5000,
    b'{"difficulty": "easy", "difficulty": "medium"}',
    b'{"answer_id": 1, "answer_id": 2}',
    b"[" * 5000 + b"]" * 5000,
    b'{"difficulty": "\x00"}',
    b'{"difficulty": NaN}',
]
HUGE_IDS = ["9" * 19, "9" * 40, "00000000000000000000001"]


@pytest.fixture
def world(learner, other_learner):
    def challenge(owner, key):
        return Challenge.objects.create(
            owner=owner,
            difficulty="easy",
            topic="python",
            title="T",
            question="Q?",
            code="print(1)",
            code_language="python",
            options=["a", "b", "c", "d"],
            correct_index=1,
            explanation="E",
            provider="bank",
            source_key=key,
        )

    answered = challenge(learner, "bank:answered")
    attempt_record(challenge=answered, chosen_index=0)  # scheduled for review too
    open_challenge = challenge(learner, "bank:open")
    theirs = challenge(other_learner, "bank:theirs")
    return {"answered": answered.id, "open": open_challenge.id, "theirs": theirs.id}


def snapshot() -> tuple:
    return (
        list(
            get_user_model()
            .objects.values_list("username", "email", "first_name", "is_active")
            .order_by("id")
        ),
        list(Challenge.objects.values_list("id", "owner_id").order_by("id")),
        list(Attempt.objects.values_list("challenge_id", "chosen_index", "is_correct").order_by("id")),
        list(Quota.objects.values_list("user_id", "used", "day", "daily_limit", "in_flight").order_by("id")),
        WebhookEvent.objects.count(),
        DeletedLearner.objects.count(),
        list(
            ReviewCard.objects.values_list("challenge_id", "due_at", "option_order", "reviews").order_by("id")
        ),
        ReviewLog.objects.count(),
        list(ActivityDay.objects.values_list("owner_id", "day", "answers").order_by("id")),
    )


def page_client(learner) -> Client:
    return signed_in(Client(), learner)


def bearer(learner) -> dict[str, str]:
    token = dev_session_token_issue(user_id=learner.username, session_id="sess_odd")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_no_5xx(response, what: str) -> None:
    assert response.status_code < 500, f"{what} answered {response.status_code}"


def query_strings(names: list[str]) -> list[str]:
    queries = []
    for name in names:
        for value in ODD_NUMBERS + ODD_TEXT:
            queries.append(f"{name}={quote(value, safe='%')}")
        queries.append(f"{name}=1&{name}=2")
        queries.append(f"{name}[]=1")
    queries.append("%FF=%FF")
    queries.append("&&&=&")
    return queries


PAGE_QUERIES = {
    "/": ["x"],
    "/history/": ["before", "difficulty", "topic", "result"],
    "/sign-in/": ["next"],
    "/sign-out/": ["x"],
    "/healthz": ["x"],
    "/review/": ["early", "answered"],
    "/progress/": ["x"],
}
API_QUERIES = {
    "/api/quota": ["x"],
    "/api/history": ["limit", "offset"],
    "/api/review": ["limit", "offset", "cursor"],
    "/api/progress": ["x"],
}


def test_odd_query_strings_on_every_get_route(learner, world):
    before = snapshot()
    pages, api = page_client(learner), Client()
    for path, names in PAGE_QUERIES.items():
        for query in query_strings(names):
            assert_no_5xx(pages.get(f"{path}?{query}"), f"GET {path}?{query}")
    for path, names in API_QUERIES.items():
        for query in query_strings(names):
            response = api.get(f"{path}?{query}", **bearer(learner))
            assert_no_5xx(response, f"GET {path}?{query}")
            assert response["Content-Type"] == "application/json"
    for challenge_id in world.values():
        assert_no_5xx(pages.get(f"/challenges/{challenge_id}/?x=%00"), "challenge page")
    assert snapshot() == before


def test_ids_past_64_bits_and_foreign_ids_are_404(learner, world):
    before = snapshot()
    pages, api = page_client(learner), Client()
    for challenge_id in [*HUGE_IDS, str(world["theirs"]), str(world["open"])]:
        review = api.post(
            f"/api/review/{challenge_id}/answer",
            json.dumps({"answer_id": 1}),
            content_type="application/json",
            **bearer(learner),
        )
        assert review.status_code == 404  # not theirs, or never answered
    for challenge_id in [*HUGE_IDS, str(world["theirs"])]:
        assert pages.get(f"/challenges/{challenge_id}/").status_code == 404
        assert pages.post(f"/challenges/{challenge_id}/answer/", {"choice": "1"}).status_code == 404
        response = api.post(
            f"/api/challenges/{challenge_id}/answer",
            json.dumps({"answer_id": 1}),
            content_type="application/json",
            **bearer(learner),
        )
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert snapshot() == before


def test_odd_json_bodies_on_every_api_post_route(learner, world):
    before = snapshot()
    api = Client()
    routes = [
        "/api/generate-challenge",
        f"/api/challenges/{world['open']}/answer",
        f"/api/review/{world['answered']}/answer",
    ]
    bodies: list[bytes] = list(ODD_RAW_BODIES)
    for value in ODD_JSON_VALUES:
        for field in ("difficulty", "topic", "answer_id"):
            if field == "topic" and value is None:
                continue  # no topic is allowed: the seed front ends send none
            if field == "topic":
                payload = {"difficulty": "easy", "topic": value}
            elif field == "confidence":
                if value is None:
                    continue  # no confidence is allowed
                payload = {"answer_id": 1, "confidence": value}
            else:
                payload = {field: value}
            bodies.append(json.dumps(payload).encode("utf-8", "surrogatepass"))
    for path in routes:
        for body in bodies:
            for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
                response = api.post(path, body, content_type=content_type, **bearer(learner))
                assert_no_5xx(response, f"POST {path} {body[:40]!r}")
                assert 400 <= response.status_code < 500, (path, body[:40], response.status_code)
                assert response.json()["detail"]
    assert snapshot() == before


def test_odd_form_posts_on_every_page_route(learner, world):
    before = snapshot()
    pages = page_client(learner)
    odd_values = ["²", "١", "4", "-1", "9" * 5000, "\x00", "1\x00", "", "on"]
    for value in odd_values:
        forms = {
            "/challenges/generate/": [
                {"difficulty": value, "topic": "python"},
                {"difficulty": "easy", "topic": value},
            ],
            f"/challenges/{world['open']}/answer/": [{"choice": value}],
            "/sign-in/": [{"display_name": "\x00" + value, "email": "not an email"}, {"display_name": ""}],
        }
        for path, payloads in forms.items():
            for payload in payloads:
                assert_no_5xx(pages.post(path, payload), f"POST {path} {payload!r}")
                assert_no_5xx(pages.post(path, payload, HTTP_HX_REQUEST="true"), f"htmx POST {path}")
        # The same field given twice, and bytes that are not UTF-8.
        raw = b"choice=1&choice=2&difficulty=%FF&topic=%00"
        for path in forms:
            response = pages.post(path, raw, content_type="application/x-www-form-urlencoded")
            assert_no_5xx(response, f"POST {path} raw")
    assert snapshot() == before


def test_odd_webhook_deliveries_change_nothing(settings, world):
    settings.CLERK_WEBHOOK_SIGNING_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    before = snapshot()
    client = Client()
    for body in ODD_RAW_BODIES:
        for headers in (
            {},
            {"HTTP_SVIX_ID": "\x00", "HTTP_SVIX_TIMESTAMP": "²", "HTTP_SVIX_SIGNATURE": "v1,\xff"},
            {"HTTP_SVIX_ID": "msg_1", "HTTP_SVIX_TIMESTAMP": "9" * 40, "HTTP_SVIX_SIGNATURE": "v1,abc v1,"},
        ):
            response = client.post("/webhooks/clerk", body, content_type="application/json", **headers)
            assert response.status_code == 400, (body[:40], headers, response.status_code)
    assert snapshot() == before
