"""Coding problems written by the model, in Python and in JavaScript, through the real openai SDK
against the fake OpenAI-compatible server: served when verified in the sandbox; refused at no
cost, with one log line, when the reference fails a test, a test accepts the starter code or the
wrong solution, the answer is invalid, or the content gate refuses it (with its rule)."""

from __future__ import annotations

import json
import logging

import pytest

from challengeapp.coding.curated import curated_problems
from challengeapp.coding.model_problems import SCHEMA_NAME
from challengeapp.models import CodeProblem, Provider
from challengeapp.quality.sandbox import sandbox_language_versions
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


# The same code written otherwise: the content gate refuses a reference that is the starter code or
# the wrong solution as written, so these reach the sandbox.
def _rewritten(code: str) -> str:
    return "# the same, written again\n" + code


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
        ({"reference_solution": _rewritten(SOURCE.wrong_solution)}, "reference_fails"),
        ({"starter_code": _rewritten(SOURCE.reference_solution)}, "starter_passes"),
        ({"wrong_solution": _rewritten(SOURCE.reference_solution)}, "wrong_passes"),
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
    response = learner_client.post(
        "/code/new/", {"difficulty": "easy", "topic": "algorithms", "language": "python"}
    )
    assert response.status_code == 502 and "cost you nothing" in response.content.decode()
    assert quota_status(user=learner).used == 0


JS_SOURCE = next(p for p in curated_problems() if p.problem_id == "js-top-scorers")
JS_PROBLEM = {
    "title": "Leaders of the table",
    "statement": JS_SOURCE.statement,
    "function_name": JS_SOURCE.function_name,
    "signature": JS_SOURCE.signature,
    "starter_code": JS_SOURCE.starter_code,
    "examples": list(JS_SOURCE.examples),
    "hidden_tests": list(JS_SOURCE.hidden_tests),
    "reference_solution": JS_SOURCE.reference_solution,
    "wrong_solution": JS_SOURCE.wrong_solution,
    "explanation": JS_SOURCE.explanation,
}


def _ask_javascript(client, learner, topic="javascript"):
    return client.post(
        "/api/code-challenges",
        json.dumps({"difficulty": "medium", "topic": topic, "language": "javascript"}),
        content_type="application/json",
        **bearer(learner),
    )


def test_a_generated_javascript_problem_is_asked_for_in_javascript_verified_and_served(
    node_sandbox, fake_openai, client, learner
):
    fake_openai.enqueue(Reply(json.dumps(JS_PROBLEM)))
    response = _ask_javascript(client, learner, topic="algorithms")
    assert response.status_code == 201
    body = response.json()
    assert body["language"] == "javascript" and body["title"] == "Leaders of the table"
    problem = CodeProblem.objects.get(id=body["id"])
    assert (problem.language, problem.provider) == ("javascript", Provider.OPENAI)
    assert quota_status(user=learner).used == 1
    (request,) = fake_openai.chat_requests
    system = request.messages[0]["content"]
    assert f"run by {sandbox_language_versions()['javascript']} as a CommonJS script" in system
    assert "JSON values" in system and "function name(params)" in system
    assert "in JavaScript" in request.messages[1]["content"]


def test_the_python_prompt_names_the_sandboxs_python(sandbox, fake_openai, client, learner):
    fake_openai.enqueue(Reply(json.dumps(PROBLEM)))
    assert _ask(client, learner).status_code == 201
    system = fake_openai.chat_requests[0].messages[0]["content"]
    assert sandbox_language_versions()["python"] in system and "Python literals" in system


def _js_rewritten(code: str) -> str:
    return "// the same, written again\n" + code


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"reference_solution": _js_rewritten(JS_SOURCE.wrong_solution)}, "reference_fails"),
        ({"starter_code": _js_rewritten(JS_SOURCE.reference_solution)}, "starter_passes"),
        ({"wrong_solution": _js_rewritten(JS_SOURCE.reference_solution)}, "wrong_passes"),
        ({"examples": [{"args": "{'ann': 5}, 1", "expected": "['ann']"}]}, "invalid_output"),
        ({"hidden_tests": [{"args": '{"a": 1}, 1', "expected": "NaN"}] * 2}, "invalid_output"),
        ({"signature": "def topScorers(scores, count)"}, "invalid_output"),
        ({"starter_code": "function top(scores, count) {}\n"}, "invalid_output"),
        ({"function_name": "class", "signature": "function class(scores, count)"}, "invalid_output"),
    ],
    ids=[
        "reference fails",
        "starter passes",
        "wrong passes",
        "tests not JSON",
        "NaN is not JSON",
        "a Python signature",
        "starter without the function",
        "a reserved word",
    ],
)
def test_a_generated_javascript_problem_that_does_not_hold_up_is_refused_at_no_cost(
    node_sandbox, fake_openai, client, learner, caplog, changes, cause
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(json.dumps({**JS_PROBLEM, **changes})))
    response = _ask_javascript(client, learner)
    assert response.status_code == 502 and response.json()["detail"]
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0
    (line,) = _refusals(caplog)
    assert f"cause={cause}" in line and "language=javascript" in line


_BINARY_HIDDEN = list(SOURCE.hidden_tests)


@pytest.mark.parametrize(
    ("problem", "changes", "rule"),
    [
        (
            PROBLEM,
            {"statement": "Return the index of target in the sorted list, or -1. [Insert details here]"},
            "placeholder",
        ),
        (PROBLEM, {"explanation": "Lorem ipsum dolor sit amet, consectetur adipiscing."}, "placeholder"),
        (
            PROBLEM,
            {"starter_code": "def find_index(sorted_numbers, target):\n    [Your code here]\n"},
            "placeholder",
        ),
        (JS_PROBLEM, {"starter_code": "function topScorers(scores, count) {\n  <TODO>\n}\n"}, "placeholder"),
        (PROBLEM, {"statement": "Binary search."}, "no_words"),
        (PROBLEM, {"explanation": "O(log n)."}, "no_words"),
        (PROBLEM, {"title": "Easy algorithms problem"}, "title_only_topic"),
        (JS_PROBLEM, {"title": "JavaScript coding challenge 2"}, "title_only_topic"),
        (
            PROBLEM,
            {"statement": "Return the index of target in the list, or -1, as the hidden_tests expect."},
            "echoes_prompt",
        ),
        (
            JS_PROBLEM,
            {"explanation": "The reference_solution sorts by score, then by name."},
            "echoes_prompt",
        ),
        (
            PROBLEM,
            {"explanation": "Here is the problem in JSON format, with a binary search."},
            "echoes_prompt",
        ),
        (PROBLEM, {"starter_code": SOURCE.reference_solution}, "reference_is_starter"),
        (
            JS_PROBLEM,
            {"wrong_solution": JS_SOURCE.reference_solution.replace("\n", "\n\n  ")},
            "reference_is_wrong",
        ),
        (PROBLEM, {"hidden_tests": list(SOURCE.examples)}, "hidden_tests_shown"),
        (
            PROBLEM,
            {
                "statement": PROBLEM["statement"]
                + " "
                + " ".join(f"find_index({t['args']})" for t in _BINARY_HIDDEN)
            },
            "hidden_tests_shown",
        ),
        (PROBLEM, {"hidden_tests": [*_BINARY_HIDDEN, {"args": "[2],2", "expected": "0"}]}, "duplicate_tests"),
        (
            JS_PROBLEM,
            {"hidden_tests": [*JS_SOURCE.hidden_tests, {"args": '{"p":1},5', "expected": '["p"]'}]},
            "duplicate_tests",
        ),
    ],
    ids=[
        "placeholder in the statement",
        "lorem ipsum",
        "placeholder in Python starter code",
        "placeholder in JavaScript starter code",
        "statement of two words",
        "explanation without words",
        "title names only the topic",
        "JavaScript title names only the language",
        "statement echoes a field name",
        "JavaScript explanation echoes a field name",
        "in JSON format",
        "reference is the starter",
        "JavaScript reference is the wrong solution",
        "hidden tests are the examples",
        "hidden tests written in the statement",
        "duplicate Python tests",
        "duplicate JSON tests",
    ],
)
def test_the_content_gate_refuses_a_generated_problem_at_no_cost_naming_its_rule(
    fake_openai, client, learner, caplog, problem, changes, rule
):
    # No sandbox needed: the gate refuses before anything runs.
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(json.dumps({**problem, **changes})))
    response = _ask(client, learner) if problem is PROBLEM else _ask_javascript(client, learner)
    assert response.status_code == 502 and "cost you nothing" in response.json()["detail"]
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0
    (line,) = _refusals(caplog)
    assert "cause=content_gate" in line and line.endswith(f" rule={rule}")


def test_learners_runs_holding_every_turn_do_not_hold_up_a_generated_problems_check(
    sandbox, fake_openai, client, learner, settings
):
    from challengeapp.core.slots import process_slots

    # Every turn learners' code may take in this process is taken (endless loops, say): the
    # model's code is checked in the turns the challenges' checks share, so the problem is served.
    learners_turns = process_slots("code runs", settings.CODE_MAX_RUNS)
    taken = 0
    while learners_turns.acquire(blocking=False):
        taken += 1
    try:
        fake_openai.enqueue(Reply(json.dumps(PROBLEM)))
        response = _ask(client, learner)
    finally:
        for _ in range(taken):
            learners_turns.release()
    assert taken >= 1 and response.status_code == 201


def _fenced(code: str, language: str = "python") -> str:
    return f"```{language}\n{code.rstrip()}\n```"


@pytest.mark.parametrize(
    "answer",
    [
        f"```json\n{json.dumps(PROBLEM, indent=2)}\n```",
        f"Here is your problem:\n\n{json.dumps(PROBLEM)}\n\nGood luck!",
        json.dumps(
            {
                **PROBLEM,
                "starter_code": _fenced(SOURCE.starter_code),
                "reference_solution": _fenced(SOURCE.reference_solution),
                "wrong_solution": "~~~py\n" + SOURCE.wrong_solution + "~~~\n",
            }
        ),
        json.dumps({**PROBLEM, "signature": "`" + SOURCE.signature.removeprefix("def ") + "`"}),
    ],
    ids=["fenced answer", "answer among prose", "code fields fenced", "signature without def"],
)
def test_a_problem_written_the_way_models_write_is_read_verified_and_served(
    sandbox, fake_openai, client, learner, answer
):
    fake_openai.enqueue(Reply(answer))
    response = _ask(client, learner)
    assert response.status_code == 201
    problem = CodeProblem.objects.get(id=response.json()["id"])
    assert problem.signature == SOURCE.signature == response.json()["signature"]
    assert "```" not in problem.starter_code + problem.reference_solution
    assert (
        problem.starter_code.startswith("def find_index(")
        and response.json()["starter_code"] == problem.starter_code
    )
    assert quota_status(user=learner).used == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (json.dumps([PROBLEM]), "a JSON list, not a single problem"),
        (json.dumps(PROBLEM)[:-40], "no JSON object"),
        (json.dumps({"problem": PROBLEM}), "title is missing"),
        (json.dumps({**PROBLEM, "reference_solution": "```python\n```"}), "reference_solution is missing"),
        (
            json.dumps({**PROBLEM, "hidden_tests": [{"args": "'\ud800', 1", "expected": "-1"}] * 2}),
            "malformed",
        ),
        (json.dumps({**PROBLEM, "explanation": "x " * 100_000}), "longer than"),
        (json.dumps({**PROBLEM, "examples": [{"args": [[1, 2], 2], "expected": 1}]}), "malformed"),
        (json.dumps({**PROBLEM, "signature": "def search(items, target)"}), "signature is malformed"),
    ],
    ids=[
        "a list",
        "cut short",
        "wrapped in another object",
        "empty fence",
        "lone surrogate in a test",
        "too long",
        "tests not strings",
        "signature of another function",
    ],
)
def test_an_answer_that_holds_no_usable_problem_is_refused_at_no_cost_saying_why(
    fake_openai, client, learner, caplog, answer, reason
):
    # No sandbox needed: nothing reaches it.
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(answer))
    response = _ask(client, learner)
    assert response.status_code == 502 and reason in response.json()["detail"]
    assert not CodeProblem.objects.exists() and quota_status(user=learner).used == 0
    (line,) = _refusals(caplog)
    assert "cause=invalid_output" in line
