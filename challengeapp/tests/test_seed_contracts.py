"""The two seed front ends' contracts, side by side, as each reads the API.

- The FastAPI tutorial's React app (and its forks): `GET /api/quota`, `POST /api/generate-challenge`
  with `{"difficulty"}`, `GET /api/my-history` → `{"challenges": [...]}`. It shows `title` as the
  question and the options below it, grades with `correct_answer_id`, reads `options` as a list or a
  JSON-encoded string, shows "next reset" as `last_reset_date` + 24 hours, and turns a 429 into its
  "quota reached" state. Its origins are named in API_TITLE_ONLY_ORIGINS.
- The other seed front end: `title` as a heading and `prompt` (question and code) below it,
  `GET /api/history` as a plain list.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from challengeapp import quota as quota_service
from challengeapp.models import Challenge
from challengeapp.tests.test_api import bearer

pytestmark = pytest.mark.django_db

TUTORIAL = "http://localhost:5173"
PROMPT_FRONT_END = "http://localhost:3000"


@pytest.fixture
def call(learner, settings):
    """A request as a front end on `origin` makes it: a Bearer token and its Origin header."""
    settings.API_TITLE_ONLY_ORIGINS = [TUTORIAL]
    client = Client()

    def request(method: str, path: str, *, origin: str, data=None):
        headers = {**bearer(learner), "HTTP_ORIGIN": origin}
        if method == "post":
            return client.post(path, json.dumps(data), content_type="application/json", **headers)
        return client.get(path, **headers)

    return request


def tutorial_options(challenge: dict) -> list[str]:
    """How the tutorial's component reads options: a list, or a JSON-encoded string."""
    options = challenge["options"]
    return json.loads(options) if isinstance(options, str) else options


def code_challenge(learner, **fields) -> Challenge:
    values = {
        "owner": learner,
        "difficulty": "medium",
        "topic": "python",
        "title": "Slicing past the end",
        "question": "What does this code print?",
        "code": "xs = [1, 2, 3]\nprint(xs[1:10])",
        "code_language": "python",
        "options": ["[2, 3]", "IndexError", "[2, 3, None]", "[]"],
        "correct_index": 0,
        "explanation": "Slices clamp to the list's length.",
        "provider": "bank",
        "source_key": "bank:slicing-past-the-end",
        **fields,
    }
    return Challenge.objects.create(**values)


# --- The tutorial's front end: title only ------------------------------------------------------------


def test_the_tutorial_front_end_sees_the_whole_question_and_code_in_the_title(call):
    response = call("post", "/api/generate-challenge", origin=TUTORIAL, data={"difficulty": "easy"})

    assert response.status_code == 201
    challenge = response.json()
    stored = Challenge.objects.get(id=challenge["id"])
    assert stored.question in challenge["title"]
    if stored.code:
        assert stored.code in challenge["title"]
    assert stored.title != challenge["title"]  # not the heading alone
    assert len(tutorial_options(challenge)) == 4
    assert challenge["correct_answer_id"] == stored.correct_index


def test_every_generation_is_answerable_from_the_title_alone(call):
    # Every difficulty, and topics with and without code: the question and code always arrive.
    for difficulty in ("easy", "medium", "hard"):
        for topic in ("python", "sql", "git", "system-design"):
            response = call(
                "post",
                "/api/generate-challenge",
                origin=TUTORIAL,
                data={"difficulty": difficulty, "topic": topic},
            )
            assert response.status_code == 201
            challenge = response.json()
            stored = Challenge.objects.get(id=challenge["id"])
            assert challenge["title"].startswith(stored.question)
            assert stored.code in challenge["title"]


def test_my_history_is_the_tutorial_contract(call, learner):
    older = code_challenge(learner)
    newer = code_challenge(
        learner, title="A SQL join", question="Which rows come back?", code="", topic="sql"
    )

    response = call("get", "/api/my-history", origin=TUTORIAL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"challenges"}
    items = body["challenges"]
    assert [item["id"] for item in items] == [newer.id, older.id]  # newest first
    first, second = items
    for item in items:
        assert {
            "id",
            "difficulty",
            "title",
            "options",
            "correct_answer_id",
            "explanation",
            "date_created",
        } <= set(item)
        assert dt.datetime.fromisoformat(item["date_created"]).tzinfo is not None
        assert len(tutorial_options(item)) == 4
    assert first["title"] == "Which rows come back?"
    assert second["title"].startswith("What does this code print?") and older.code in second["title"]
    assert second["correct_answer_id"] == 0 and second["explanation"] == older.explanation


def test_my_history_is_empty_not_missing_for_a_new_learner(call):
    response = call("get", "/api/my-history", origin=TUTORIAL)

    assert response.status_code == 200 and response.json() == {"challenges": []}


def test_my_history_pages_like_history_and_refuses_bad_paging(call, learner):
    challenges = [code_challenge(learner, source_key=f"bank:page-{n}") for n in range(5)]

    page = call("get", "/api/my-history?limit=2&offset=1", origin=TUTORIAL).json()["challenges"]
    assert [item["id"] for item in page] == [challenges[3].id, challenges[2].id]
    for bad in ("limit=0", "limit=101", "limit=x", "offset=-1", "limit=1&limit=2"):
        response = call("get", f"/api/my-history?{bad}", origin=TUTORIAL)
        assert response.status_code == 422 and response.json()["detail"]


def test_my_history_needs_a_token(client):
    response = client.get("/api/my-history", HTTP_ORIGIN=TUTORIAL)

    assert response.status_code == 401 and response.json()["detail"]


def test_the_tutorial_front_end_gets_a_429_when_the_quota_is_spent(call, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    assert (
        call("post", "/api/generate-challenge", origin=TUTORIAL, data={"difficulty": "easy"}).status_code
        == 201
    )

    response = call("post", "/api/generate-challenge", origin=TUTORIAL, data={"difficulty": "easy"})

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json" and response.json()["detail"]
    assert call("get", "/api/quota", origin=TUTORIAL).json()["quota_remaining"] == 0
    assert Challenge.objects.count() == 1


# "Next reset" is last_reset_date + 24 hours on the tutorial's page: it must be the real reset, on
# ordinary days and on the days a clock change makes 23 or 25 hours long.
@pytest.mark.parametrize(
    "time_zone,day",
    [
        ("UTC", dt.date(2026, 12, 7)),
        ("America/New_York", dt.date(2026, 3, 8)),  # 23 hours
        ("America/New_York", dt.date(2026, 11, 1)),  # 25 hours
        ("Europe/Berlin", dt.date(2026, 3, 29)),
        ("Australia/Lord_Howe", dt.date(2026, 4, 5)),  # a half-hour change
        ("Asia/Kolkata", dt.date(2026, 12, 7)),
    ],
)
def test_last_reset_date_plus_24_hours_is_the_real_reset(call, settings, monkeypatch, time_zone, day):
    settings.TIME_ZONE = time_zone
    monkeypatch.setattr(quota_service, "quota_today", lambda: day)

    quota = call("get", "/api/quota", origin=TUTORIAL).json()

    last_reset = dt.datetime.fromisoformat(quota["last_reset_date"])
    resets_at = dt.datetime.fromisoformat(quota["resets_at"])
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=ZoneInfo(time_zone))
    assert resets_at == next_midnight
    assert last_reset + dt.timedelta(hours=24) == resets_at  # instants, as a browser adds them
    assert last_reset.utcoffset() == last_reset.astimezone(ZoneInfo(time_zone)).utcoffset()


# --- The other seed front end: title and prompt ------------------------------------------------------


def test_the_prompt_front_end_keeps_the_heading_and_shows_nothing_twice(call, learner):
    response = call("post", "/api/generate-challenge", origin=PROMPT_FRONT_END, data={"difficulty": "medium"})

    assert response.status_code == 201
    challenge = response.json()
    stored = Challenge.objects.get(id=challenge["id"])
    assert challenge["title"] == stored.title
    assert challenge["prompt"].startswith(stored.question) and stored.code in challenge["prompt"]
    assert stored.question not in challenge["title"]

    history = call("get", "/api/history", origin=PROMPT_FRONT_END).json()
    assert isinstance(history, list) and history[0]["title"] == stored.title


def test_without_the_setting_every_client_gets_the_heading(call, settings):
    settings.API_TITLE_ONLY_ORIGINS = []

    challenge = call("post", "/api/generate-challenge", origin=TUTORIAL, data={"difficulty": "easy"}).json()

    assert challenge["title"] == Challenge.objects.get(id=challenge["id"]).title


def test_a_star_gives_every_client_the_whole_question_in_the_title(call, settings):
    settings.API_TITLE_ONLY_ORIGINS = ["*"]

    challenge = call(
        "post", "/api/generate-challenge", origin=PROMPT_FRONT_END, data={"difficulty": "easy"}
    ).json()
    stored = Challenge.objects.get(id=challenge["id"])

    assert challenge["title"].startswith(stored.question)
    history = call("get", "/api/history", origin=PROMPT_FRONT_END).json()
    assert history[0]["title"] == challenge["title"]


# --- A whole list is bounded -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,origin,items_of",
    [
        ("/api/history", PROMPT_FRONT_END, lambda body: body),
        ("/api/my-history", TUTORIAL, lambda body: body["challenges"]),
    ],
)
def test_a_whole_list_past_the_bound_sends_the_newest_and_links_to_the_rest(
    call, learner, settings, path, origin, items_of
):
    settings.API_HISTORY_WHOLE_MAX = 4
    ids = [code_challenge(learner, source_key=f"bank:whole-{n}").id for n in range(7)]

    response = call("get", path, origin=origin)

    assert response.status_code == 200
    assert [item["id"] for item in items_of(response.json())] == ids[::-1][:4]
    link = response["Link"]
    assert link == f'<{path}?limit=100&offset=4>; rel="next"'
    rest = call("get", link[1 : link.index(">")], origin=origin)
    assert [item["id"] for item in items_of(rest.json())] == ids[::-1][4:]
    assert "Link" not in rest


def test_a_whole_list_within_the_bound_is_all_of_it_without_a_link(call, learner, settings):
    settings.API_HISTORY_WHOLE_MAX = 4
    ids = [code_challenge(learner, source_key=f"bank:within-{n}").id for n in range(4)]

    response = call("get", "/api/history", origin=PROMPT_FRONT_END)

    assert [item["id"] for item in response.json()] == ids[::-1]
    assert "Link" not in response
