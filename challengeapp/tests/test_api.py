"""The JSON API: every shape and status the React front ends rely on; never a 500 or HTML."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from challengeapp.core.errors import GenerationError
from challengeapp.identity import dev_session_token_issue
from challengeapp.models import Attempt, Challenge
from challengeapp.quota import quota_status
from challengeapp.tests.conftest import signed_in

pytestmark = pytest.mark.django_db

CHALLENGE_KEYS = {
    "id",
    "difficulty",
    "topic",
    "title",
    "prompt",
    "code",
    "options",
    "correct_answer_id",
    "explanation",
    "provider",
    "created_at",
}


def bearer(user) -> dict[str, str]:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_api")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def api(learner):
    client = Client(enforce_csrf_checks=True)  # no CSRF needed: Bearer tokens only

    class Api:
        def get(self, path, **extra):
            return client.get(path, **{**bearer(learner), **extra})

        def post(self, path, data=None, raw=None, **extra):
            body = raw if raw is not None else json.dumps(data)
            return client.post(path, body, content_type="application/json", **{**bearer(learner), **extra})

    return Api()


def test_the_front_end_flow_quota_generate_answer_history(api, learner):
    quota = api.get("/api/quota").json()
    assert quota["user_id"] == learner.username and quota["quota_remaining"] == 50
    assert quota["daily_limit"] == 50 and set(quota) == {
        "user_id",
        "quota_remaining",
        "last_reset_date",
        "daily_limit",
        "resets_at",
    }

    response = api.post("/api/generate-challenge", {"difficulty": "medium", "topic": "sql"})
    assert response.status_code == 201 and response["Content-Type"] == "application/json"
    challenge = response.json()
    assert set(challenge) >= CHALLENGE_KEYS
    assert (challenge["difficulty"], challenge["topic"], challenge["provider"]) == ("medium", "sql", "bank")
    assert len(challenge["options"]) == 4 and challenge["correct_answer_id"] in range(4)
    assert api.get("/api/quota").json()["quota_remaining"] == 49

    wrong = (challenge["correct_answer_id"] + 1) % 4
    result = api.post(f"/api/challenges/{challenge['id']}/answer", {"answer_id": wrong}).json()
    assert result["correct"] is False and result["correct_answer_id"] == challenge["correct_answer_id"]
    assert result["explanation"] == challenge["explanation"]
    again = api.post(
        f"/api/challenges/{challenge['id']}/answer", {"answer_id": challenge["correct_answer_id"]}
    ).json()
    assert again["correct"] is False  # the first answer counts

    history = api.get("/api/history").json()
    assert [item["id"] for item in history] == [challenge["id"]]
    assert history[0]["answer_id"] == wrong and history[0]["is_correct"] is False


def test_generate_without_a_topic_picks_a_curated_one(api):
    challenge = api.post("/api/generate-challenge", {"difficulty": "easy"}).json()
    assert challenge["topic"] in {
        "python",
        "javascript",
        "sql",
        "algorithms",
        "data-structures",
        "web",
        "git",
        "system-design",
    }


@pytest.mark.parametrize(
    "path,method",
    [
        ("/api/quota", "get"),
        ("/api/history", "get"),
        ("/api/generate-challenge", "post"),
        ("/api/challenges/1/answer", "post"),
    ],
)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer a.b.c"]
)
def test_no_or_invalid_token_is_401_json(client, path, method, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = getattr(client, method)(path, **extra)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json" and "detail" in response.json()


def test_a_session_cookie_does_not_authenticate_the_api(learner):
    client = signed_in(Client(), learner)
    assert client.get("/").status_code == 200
    assert client.get("/api/quota").status_code == 401


@pytest.mark.parametrize("raw", ["{", "not json", "\xff", '{"difficulty": "easy"', "[" * 60_000])
def test_malformed_json_is_400(api, raw):
    response = api.post("/api/generate-challenge", raw=raw)
    assert response.status_code == 400 and response.json()["detail"] == "The request body is not valid JSON."
    assert Challenge.objects.count() == 0


@pytest.mark.parametrize(
    "data",
    [
        [],
        "easy",
        3,
        None,
        {},
        {"difficulty": "extreme"},
        {"difficulty": 1},
        {"difficulty": ["easy"]},
        {"difficulty": "easy", "topic": "cobol"},
        {"difficulty": "easy", "topic": 7},
        {"difficulty": "EASY"},
    ],
)
def test_invalid_generate_fields_are_422_and_cost_nothing(api, learner, data):
    response = api.post("/api/generate-challenge", data)
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)
    assert Challenge.objects.count() == 0 and quota_status(user=learner).used == 0


def test_a_huge_body_is_refused(api):
    response = api.post(
        "/api/generate-challenge", raw=json.dumps({"difficulty": "easy", "pad": "x" * 200_000})
    )
    assert response.status_code == 400 and Challenge.objects.count() == 0


@pytest.mark.parametrize("answer_id", [4, -1, "1", 1.0, True, None, [1]])
def test_invalid_answers_are_422_and_change_nothing(api, learner, answer_id):
    challenge = api.post("/api/generate-challenge", {"difficulty": "easy", "topic": "git"}).json()
    response = api.post(f"/api/challenges/{challenge['id']}/answer", {"answer_id": answer_id})
    assert response.status_code == 422
    assert not Attempt.objects.exists()


def test_someone_elses_challenge_is_404(api, other_learner):
    theirs = Challenge.objects.create(
        owner=other_learner,
        difficulty="easy",
        topic="git",
        title="t",
        question="q",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation="e",
        provider="bank",
        source_key="bank:x",
    )
    response = api.post(f"/api/challenges/{theirs.id}/answer", {"answer_id": 0})
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert api.post("/api/challenges/987654/answer", {"answer_id": 0}).status_code == 404
    assert not Attempt.objects.exists()


def test_quota_spent_is_429_with_the_reset_time(api, learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    assert api.post("/api/generate-challenge", {"difficulty": "easy"}).status_code == 201
    response = api.post("/api/generate-challenge", {"difficulty": "easy"})
    assert response.status_code == 429
    body = response.json()
    assert (
        body["detail"] == "Daily quota exceeded"
        and body["resets_at"] == quota_status(user=learner).resets_at.isoformat()
    )


def test_an_upstream_failure_is_502_and_costs_nothing(api, learner, monkeypatch):
    from challengeapp.generation import pipeline as generation

    class Failing:
        name = "openai"

        def generate(self, request):
            raise GenerationError("The AI model did not answer in time. Try again.", cause="timeout")

    monkeypatch.setattr(generation, "provider_for_settings", lambda: Failing())
    response = api.post("/api/generate-challenge", {"difficulty": "easy"})
    assert (
        response.status_code == 502
        and response.json()["detail"] == "The AI model did not answer in time. Try again."
    )
    assert quota_status(user=learner).used == 0 and Challenge.objects.count() == 0


def test_history_is_newest_first_with_limit_and_offset(api, settings):
    settings.DAILY_CHALLENGE_QUOTA = 200
    ids = [api.post("/api/generate-challenge", {"difficulty": "hard"}).json()["id"] for _ in range(7)]
    assert [item["id"] for item in api.get("/api/history").json()] == ids[::-1]
    assert [item["id"] for item in api.get("/api/history?limit=2&offset=1").json()] == ids[::-1][1:3]
    assert api.get("/api/history?offset=50").json() == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "offset=-1",
        "limit=1e3",
        "offset=99999999999999",
        "limit=²",  # str.isdigit() takes superscripts,
        "limit=①",  # circled digits
        "offset=²",
        "limit=١٢",  # and int() takes Arabic-Indic digits
        "limit=+5",
        "limit= 5",
        "limit=5%00",
        "limit=%FF",
        "limit=5&limit=6",  # given twice: which one was meant?
        "offset=1&offset=2",
        "offset=" + "9" * 5000,
    ],
)
def test_invalid_history_paging_is_422(api, query):
    response = api.get(f"/api/history?{query}")
    assert response.status_code == 422
    assert response.json()["detail"]


def test_history_without_a_limit_is_the_whole_history(api, settings):
    # The seed front ends ask for /api/history and show everything they get.
    settings.DAILY_CHALLENGE_QUOTA = 200
    ids = [api.post("/api/generate-challenge", {"difficulty": "easy"}).json()["id"] for _ in range(60)]
    assert [item["id"] for item in api.get("/api/history").json()] == ids[::-1]
    assert len(api.get("/api/history?limit=100").json()) == 60
    assert [item["id"] for item in api.get("/api/history?offset=55").json()] == ids[::-1][55:]


def test_history_items_carry_each_challenge_and_its_answer_as_stored(api, learner, settings):
    # The history is read with hand-written SQL: every value must come out as the models hold it,
    # on every backend (SQLite hands back text for dates and JSON, 0/1 for booleans).
    settings.DAILY_CHALLENGE_QUOTA = 10
    answered, unanswered = (
        api.post("/api/generate-challenge", {"difficulty": "easy"}).json()["id"] for _ in range(2)
    )
    right = Challenge.objects.get(id=answered).correct_index
    api.post(f"/api/challenges/{answered}/answer", {"answer_id": right})

    items = {item["id"]: item for item in api.get("/api/history").json()}

    for challenge in Challenge.objects.filter(id__in=[answered, unanswered]):
        item = items[challenge.id]
        assert item["options"] == challenge.options and isinstance(item["options"], list)
        assert item["correct_answer_id"] == challenge.correct_index
        assert (item["title"], item["code"], item["explanation"]) == (
            challenge.title,
            challenge.code,
            challenge.explanation,
        )
        assert item["created_at"] == challenge.created_at.isoformat()
        assert item["verification"] == challenge.verification
    attempt = Attempt.objects.get(challenge_id=answered)
    assert items[answered]["answer_id"] == right and items[answered]["is_correct"] is True
    assert items[answered]["answered_at"] == attempt.answered_at.isoformat()
    assert items[answered]["answered_at"].endswith("+00:00")
    assert items[answered]["regraded_at"] is None
    assert (items[unanswered]["answer_id"], items[unanswered]["is_correct"]) == (None, None)
    assert items[unanswered]["answered_at"] is None


def test_the_prompt_carries_the_code_as_a_fenced_block(api, learner):
    challenge = Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="python",
        title="Fences",
        question="What does this print?",
        code='print("```")\nprint(1)',
        code_language="python",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation="E",
        provider="bank",
        source_key="bank:fence",
    )
    plain = Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="git",
        title="No code",
        question="Which command shows the log?",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation="E",
        provider="bank",
        source_key="bank:nocode",
    )
    items = {item["id"]: item for item in api.get("/api/history").json()}

    # A fence longer than any run of backticks in the code, so the code cannot close it early.
    assert items[challenge.id]["prompt"] == (
        'What does this print?\n\n````python\nprint("```")\nprint(1)\n````'
    )
    assert items[challenge.id]["code"] == 'print("```")\nprint(1)'  # the separate fields stay
    assert items[plain.id]["prompt"] == "Which command shows the log?"


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_last_reset_date_is_the_start_of_the_quota_day_with_its_offset(api, settings, time_zone):
    import datetime as dt
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = time_zone
    quota = api.get("/api/quota").json()

    started = dt.datetime.fromisoformat(quota["last_reset_date"])
    resets = dt.datetime.fromisoformat(quota["resets_at"])
    local_now = dt.datetime.now(ZoneInfo(time_zone))
    assert started.utcoffset() == local_now.utcoffset()
    assert started.time() == dt.time(0, 0) and started.date() == local_now.date()
    assert started <= local_now < resets


def test_wrong_methods_and_unknown_paths_answer_json(api):
    response = api.get("/api/generate-challenge")
    assert response.status_code == 405 and response.json()["detail"] == "Method not allowed."
    assert api.post("/api/quota", {}).status_code == 405
    missing = api.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


def test_cors_allows_only_the_configured_origins(api, client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    allowed = client.options(
        "/api/quota", HTTP_ORIGIN="https://app.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example"
    allowed_headers = {name.strip().lower() for name in allowed["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    denied = client.options(
        "/api/quota", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in denied


class _ClientWentAway:
    """A request body whose client disconnected mid-upload."""

    def read(self, *args):
        raise OSError("connection reset by peer")

    readline = read


def test_a_client_that_goes_away_mid_upload_gets_400_and_costs_nothing(learner):
    from django.test import Client

    token = dev_session_token_issue(user_id=learner.username, session_id="sess_gone")
    response = Client().generic(
        "POST",
        "/api/generate-challenge",
        b"",
        content_type="application/json",
        CONTENT_LENGTH="5000",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **{"wsgi.input": _ClientWentAway()},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "The request body could not be read."}
    assert quota_status(user=learner).used == 0 and Challenge.objects.count() == 0


def test_past_the_daily_failure_bound_generating_is_429_and_asks_no_model(
    api, learner, settings, monkeypatch
):
    from challengeapp.generation import pipeline as generation
    from challengeapp.quota import TOO_MANY_FAILURES

    settings.DAILY_CHALLENGE_QUOTA = 1
    settings.GENERATION_FAILURES_PER_DAY = 2
    asked = []

    class Failing:
        name = "openai"

        def generate(self, request):
            asked.append(request)
            raise GenerationError("The challenge generator wrote something unusable.", cause="invalid_output")

    monkeypatch.setattr(generation, "provider_for_settings", lambda: Failing())
    statuses = [api.post("/api/generate-challenge", {"difficulty": "easy"}).status_code for _ in range(5)]
    assert statuses == [502, 502, 429, 429, 429]
    assert len(asked) == 2
    response = api.post("/api/generate-challenge", {"difficulty": "easy"})
    assert response.json() == {
        "detail": TOO_MANY_FAILURES.format(count=2),
        "resets_at": quota_status(user=learner).resets_at.isoformat(),
    }
    assert Challenge.objects.count() == 0
