"""Coding problems written by the model, through the real openai SDK against the fake
OpenAI-compatible server: served when verified in the sandbox; refused at no cost, with one log
line, when the reference fails a test, a test accepts the starter code or the wrong solution, or
the answer is invalid."""

from __future__ import annotations

import json
import logging

import pytest

from challengeapp.coding.curated import curated_problems
from challengeapp.coding.model_problems import SCHEMA_NAME
from challengeapp.models import CodeProblem, Provider
from challengeapp.quota import quota_status
from challengeapp.tests.fakes.openai_server import ErrorReply, Reply
from challengeapp.tests.test_api import bearer

pytestmark = pytest.mark.django_db

SOURCE = next(p for p in curated_problems() if p.problem_id == "alg-binary-search")
PROBLEM = {
    "title": "Find it, generated",
    "statement": "Return the index of target in the sorted list, or -1.",
    "function_name": SOURCE.function_name,
    "signature": SOURCE.signature,
    "starter_code": SOURCE.starter_code,
    "examples": list(SOURCE.examples),
    "hidden_tests": list(SOURCE.hidden_tests),
    "reference_solution": SOURCE.reference_solution,
    "wrong_solution": SOURCE.wrong_solution,
    "explanation": SOURCE.explanation,
}


def _ask(client, learner):
    return client.post(
        "/api/code-challenges",
        json.dumps({"difficulty": "easy", "topic": "algorithms"}),
        content_type="application/json",
        **bearer(learner),
    )


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("code problem refused")]


def test_a_verified_problem_is_served_charged_and_asked_for_under_the_strict_schema(
    sandbox, fake_openai, client, learner
):
    fake_openai.enqueue(Reply(json.dumps(PROBLEM)))
    response = _ask(client, learner)
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Find it, generated" and "reference_solution" not in body
    problem = CodeProblem.objects.get(id=body["id"])
    assert problem.provider == Provider.OPENAI and problem.source_key.startswith("code-model:")
    assert quota_status(user=learner).used == 1
    (request,) = fake_openai.chat_requests
    schema_format = request.response_format
    assert (
        schema_format["json_schema"]["name"] == SCHEMA_NAME and schema_format["json_schema"]["strict"] is True
    )


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"reference_solution": SOURCE.wrong_solution}, "reference_fails"),
        ({"starter_code": SOURCE.reference_solution}, "starter_passes"),
        ({"wrong_solution": SOURCE.reference_solution}, "wrong_passes"),
        (
            {
                "starter_code": "def find_index(sorted_numbers, target):\n    return -1\n",
                "examples": [{"args": "[1], 2", "expected": "-1"}],
                "hidden_tests": [{"args": "[], 1", "expected": "-1"}, {"args": "[3], 4", "expected": "-1"}],
            },
            "starter_passes",
        ),
        ({"examples": [{"args": "import os", "expected": "1"}]}, "invalid_output"),
        ({"function_name": "not a name"}, "invalid_output"),
        ({"title": "\ud800"}, "invalid_output"),
    ],
    ids=[
        "reference fails",
        "starter passes",
        "wrong passes",
        "tests accept the starter",
        "not literals",
        "bad name",
        "lone surrogate",
    ],
)
def test_a_problem_that_does_not_hold_up_is_refused_at_no_cost_with_one_log_line(
    sandbox, fake_openai, client, learner, caplog, changes, cause
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(json.dumps({**PROBLEM, **changes})))
    response = _ask(client, learner)
    assert response.status_code == 502 and response.json()["detail"]
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0
    (line,) = _refusals(caplog)
    assert f"cause={cause}" in line


def test_an_unreadable_answer_or_a_server_error_is_refused_at_no_cost(fake_openai, client, learner, caplog):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply("not json at all"))
    assert _ask(client, learner).status_code == 502
    fake_openai.enqueue(ErrorReply(status=400, message="bad request"))
    assert _ask(client, learner).status_code in (400, 502)
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0
    assert len(_refusals(caplog)) == 2


def test_the_page_says_so_when_a_generated_problem_is_refused(sandbox, fake_openai, learner_client, learner):
    fake_openai.enqueue(Reply(json.dumps({**PROBLEM, "reference_solution": SOURCE.wrong_solution})))
    response = learner_client.post("/code/new/", {"difficulty": "easy", "topic": "algorithms"})
    assert response.status_code == 502 and "cost you nothing" in response.content.decode()
    assert quota_status(user=learner).used == 0
