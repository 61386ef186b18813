"""The coding problems' JSON API: shapes, what is never sent, the quota, and a 4xx JSON answer
for every bad input."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from challengeapp.coding.grading import SANDBOX_BUSY
from challengeapp.models import CodeProblem, CodeSubmission
from challengeapp.quota import quota_status
from challengeapp.tests.test_api import bearer

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {
    "id",
    "difficulty",
    "topic",
    "title",
    "prompt",
    "language",
    "function_name",
    "signature",
    "starter_code",
    "examples",
    "hidden_tests",
    "created_at",
}


@pytest.fixture
def api(learner):
    client = Client(enforce_csrf_checks=True)

    class Api:
        def get(self, path):
            return client.get(path, **bearer(learner))

        def post(self, path, data=None, raw=None):
            body = raw if raw is not None else json.dumps(data)
            return client.post(path, body, content_type="application/json", **bearer(learner))

    return Api()


def _create(api, **fields):
    return api.post("/api/code-challenges", {"difficulty": "medium", "topic": "algorithms", **fields})


def test_a_new_problem_is_201_without_solution_or_hidden_tests_and_costs_one_unit(api, learner):
    before = quota_status(user=learner).remaining
    response = _create(api)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == PROBLEM_KEYS and body["language"] == "python"
    assert isinstance(body["hidden_tests"], int) and body["examples"]
    problem = CodeProblem.objects.get(id=body["id"])
    text = json.dumps(body)
    assert problem.reference_solution.strip() not in text and problem.explanation not in text
    for test in problem.hidden_tests:
        assert f"{problem.function_name}({test['args']})" not in text
    assert quota_status(user=learner).remaining == before - 1


def test_submissions_are_graded_and_not_charged_and_the_solution_shows_once_solved(sandbox, api, learner):
    problem_id = _create(api).json()["id"]
    problem = CodeProblem.objects.get(id=problem_id)
    remaining = quota_status(user=learner).remaining
    wrong = api.post(f"/api/code-challenges/{problem_id}/submissions", {"code": problem.starter_code})
    assert wrong.status_code == 200
    body = wrong.json()
    assert body["passed"] is False and body["tests_total"] == len(problem.examples) + len(
        problem.hidden_tests
    )
    assert len(body["results"]) == body["tests_total"] and body["tests_passed"] < body["tests_total"]
    assert "reference_solution" not in api.get(f"/api/code-challenges/{problem_id}").json()
    right = api.post(f"/api/code-challenges/{problem_id}/submissions", {"code": problem.reference_solution})
    assert right.json()["passed"] is True and right.json()["tests_passed"] == right.json()["tests_total"]
    run = api.post(
        f"/api/code-challenges/{problem_id}/submissions", {"code": problem.reference_solution, "kind": "run"}
    )
    assert run.json()["tests_total"] == len(problem.examples)
    detail = api.get(f"/api/code-challenges/{problem_id}").json()
    assert detail["solved"] is True and detail["reference_solution"] == problem.reference_solution
    assert [a["passed"] for a in detail["attempts"]] == [True, True, False]
    assert quota_status(user=learner).remaining == remaining


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"difficulty": "extreme", "topic": "python"}, 422),
        ({"difficulty": "easy", "topic": "git"}, 422),
        ({"difficulty": "easy"}, 422),
        ({"difficulty": 1, "topic": "python"}, 422),
        ([], 422),
        ({"difficulty": "easy", "topic": "python", "language": "javascript"}, 422),
        ({"difficulty": "easy", "topic": "javascript", "language": "python"}, 422),
        ({"difficulty": "easy", "topic": "algorithms", "language": "ruby"}, 422),
        ({"difficulty": "easy", "topic": "algorithms", "language": ["javascript"]}, 422),
    ],
)
def test_bad_new_problem_requests_are_4xx_and_charge_nothing(api, learner, body, status):
    response = api.post("/api/code-challenges", body)
    assert response.status_code == status and "detail" in response.json()
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0


def test_malformed_json_and_wrong_methods_are_json_errors(api):
    assert api.post("/api/code-challenges", raw="{nope").status_code == 400
    problem_id = _create(api).json()["id"]
    assert api.get(f"/api/code-challenges/{problem_id}/submissions").status_code == 405
    assert api.get("/api/code-challenges/99999").status_code == 404


def test_a_spent_quota_is_429_with_the_reset_time(api, learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 0
    response = _create(api)
    assert response.status_code == 429 and "resets_at" in response.json()


@pytest.mark.parametrize(
    "body",
    [{}, {"code": 3}, {"code": ""}, {"code": "x" * 30_000}, {"code": "def f(): pass", "kind": "all"}],
)
def test_bad_submissions_are_422_and_nothing_is_stored(api, body):
    problem_id = _create(api).json()["id"]
    response = api.post(f"/api/code-challenges/{problem_id}/submissions", body)
    assert response.status_code == 422 and response.json()["detail"]
    assert not CodeSubmission.objects.exists()


def test_another_learners_problem_is_404_and_anonymous_is_401(api, other_learner):
    client = Client()
    theirs = client.post(
        "/api/code-challenges",
        json.dumps({"difficulty": "easy", "topic": "python"}),
        content_type="application/json",
        **bearer(other_learner),
    ).json()["id"]
    assert api.get(f"/api/code-challenges/{theirs}").status_code == 404
    assert api.post(f"/api/code-challenges/{theirs}/submissions", {"code": "x = 1"}).status_code == 404
    assert client.get(f"/api/code-challenges/{theirs}").status_code == 401


def test_past_the_daily_runs_a_submission_is_429(sandbox, api, settings):
    settings.CODE_RUNS_PER_DAY = 1
    problem_id = _create(api).json()["id"]
    path = f"/api/code-challenges/{problem_id}/submissions"
    assert api.post(path, {"code": "x = 1"}).status_code == 200
    response = api.post(path, {"code": "x = 1"})
    assert response.status_code == 429 and "today" in response.json()["detail"]
    # Retry-After: until the quota day turns, at most a day away.
    assert 0 < int(response["Retry-After"]) <= 24 * 3600


def test_a_run_refused_while_another_is_under_way_or_the_sandbox_is_busy_says_when_to_retry(
    api, learner, settings
):
    from challengeapp.coding.allowance import run_start
    from challengeapp.core.slots import process_slots

    problem_id = _create(api).json()["id"]
    path = f"/api/code-challenges/{problem_id}/submissions"
    settings.CODE_RUNS_IN_FLIGHT_PER_LEARNER = 1
    run_start(user=learner)  # a run under way, in another request
    response = api.post(path, {"code": "x = 1"})
    assert response.status_code == 429 and "already running" in response.json()["detail"]
    assert response["Retry-After"] == "5"  # a run ends within the sandbox's wall-clock limit

    settings.CODE_RUNS_IN_FLIGHT_PER_LEARNER = 2
    settings.CODE_QUEUE_SECONDS = 0.05
    slots = process_slots("code runs", settings.CODE_MAX_RUNS)
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        response = api.post(path, {"code": "x = 1"})
    finally:
        for _ in range(taken):
            slots.release()
    assert response.status_code == 429 and response.json()["detail"] == SANDBOX_BUSY
    assert response["Retry-After"] == "1"
    assert not CodeSubmission.objects.exists()


def test_without_a_sandbox_a_submission_is_503_nothing_stored_or_counted(api, learner, settings):
    from challengeapp.models import CodeRunAllowance

    settings.SANDBOX = "off"
    problem_id = _create(api).json()["id"]
    response = api.post(f"/api/code-challenges/{problem_id}/submissions", {"code": "x = 1"})
    assert response.status_code == 503 and "nothing was run" in response.json()["detail"]
    assert not CodeSubmission.objects.exists()
    assert CodeRunAllowance.objects.get(user=learner).runs == 0


def test_a_generated_problem_needs_a_sandbox_and_costs_nothing_without_one(
    fake_openai, api, learner, settings
):
    from challengeapp.tests.fakes.openai_server import Reply
    from challengeapp.tests.test_coding_generation import PROBLEM

    settings.SANDBOX = "off"
    fake_openai.enqueue(Reply(json.dumps(PROBLEM)))
    response = _create(api)
    assert response.status_code == 502 and "cannot run" in response.json()["detail"]
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"topic": "python", "language": "javascript"}, "Python problems are written in Python"),
        ({"topic": "algorithms", "language": "JavaScript"}, "Choose a language: Python or JavaScript."),
    ],
)
def test_a_language_refusal_says_what_to_choose(api, fields, said):
    response = _create(api, **fields)
    assert response.status_code == 422 and response.json()["detail"].startswith(said)


@pytest.mark.parametrize(
    ("fields", "language"),
    [
        ({"topic": "javascript"}, "javascript"),
        ({"topic": "javascript", "language": "javascript"}, "javascript"),
        ({"topic": "algorithms", "language": "javascript"}, "javascript"),
        ({"topic": "data-structures", "language": "javascript"}, "javascript"),
        ({"topic": "algorithms"}, "python"),
        ({"topic": "python", "language": "python"}, "python"),
    ],
)
def test_the_language_is_the_topics_own_or_the_one_asked_for_and_the_answer_says_which(api, fields, language):
    response = _create(api, **fields)
    assert response.status_code == 201 and response.json()["language"] == language
    assert CodeProblem.objects.get(id=response.json()["id"]).language == language


def test_a_javascript_problem_is_graded_in_javascript_through_the_api(node_sandbox, api):
    body = _create(api, topic="data-structures", language="javascript").json()
    assert body["signature"].startswith("function ") and body["examples"][0]["call"].startswith(
        body["function_name"] + "("
    )
    problem = CodeProblem.objects.get(id=body["id"])
    path = f"/api/code-challenges/{problem.id}/submissions"
    wrong = api.post(path, {"code": problem.starter_code}).json()
    assert wrong["passed"] is False and wrong["tests_total"] == len(problem.examples) + len(
        problem.hidden_tests
    )
    right = api.post(path, {"code": problem.reference_solution}).json()
    assert right["passed"] is True and right["message"] == ""
    detail = api.get(f"/api/code-challenges/{problem.id}").json()
    assert detail["solved"] is True and detail["language"] == "javascript"
    assert detail["reference_solution"] == problem.reference_solution
