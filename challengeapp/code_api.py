"""The JSON API for coding problems, beside the seed contract (challengeapp/api.py), with its
conventions: Bearer tokens, `{"detail": …}` errors, 4xx for every bad input, never a 500.

A new problem is asked for by difficulty, topic and, optionally, language ("python" or
"javascript"; without it, the topic's own, else Python: coding/languages.py).

A problem is sent without its reference solution, explanation and hidden tests until the learner
has solved it (or given up on the page); a submission's result never holds a hidden test's
arguments or expected value.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from challengeapp.api import NOT_FOUND, QUOTA_EXCEEDED, ApiError, api_view, json_body
from challengeapp.coding.allowance import RunRefused
from challengeapp.coding.grading import submission_grade
from challengeapp.coding.problems import ProblemRefused, code_problem_create, code_problem_solved
from challengeapp.core.errors import GenerationError, QuotaExceeded
from challengeapp.models import CodeProblem, CodeSubmission, SubmissionKind
from challengeapp.quota import quota_status

INVALID_CODE_FIELD = "code must be a string: the whole source of your solution, in the problem's language."
INVALID_LANGUAGE_FIELD = 'language, when given, must be a string: "python" or "javascript".'
INVALID_KIND = 'kind must be "submit" (every test) or "run" (the examples only).'
ATTEMPTS_SHOWN = 50


def code_problem_json(problem: CodeProblem) -> dict[str, Any]:
    return {
        "id": problem.id,
        "difficulty": problem.difficulty,
        "topic": problem.topic,
        "title": problem.title,
        "prompt": problem.statement,
        "language": problem.language,
        "function_name": problem.function_name,
        "signature": problem.signature,
        "starter_code": problem.starter_code,
        "examples": [
            {"call": f"{problem.function_name}({t['args']})", "expected": t["expected"]}
            for t in problem.examples
        ],
        "hidden_tests": len(problem.hidden_tests),
        "created_at": problem.created_at.isoformat(),
    }


def submission_json(submission: CodeSubmission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "kind": submission.kind,
        "passed": submission.passed,
        "tests_passed": submission.tests_passed,
        "tests_total": submission.tests_total,
        "message": submission.message,
        "results": submission.results,
        "output": submission.output,
        "created_at": submission.created_at.isoformat(),
    }


def _own_problem(request: HttpRequest, problem_id: int) -> CodeProblem:
    problem = CodeProblem.objects.filter(id=problem_id, owner=request.user).first()
    if problem is None:
        raise ApiError(404, NOT_FOUND)
    return problem


@api_view("POST")
def code_challenges(request: HttpRequest) -> HttpResponse:
    data = json_body(request)
    difficulty, topic = data.get("difficulty"), data.get("topic")
    if not isinstance(difficulty, str) or not isinstance(topic, str):
        raise ApiError(422, "difficulty and topic must be strings.")
    # Optional: without it, the topic's own language (python, javascript), else Python.
    language = data.get("language")
    if language is not None and not isinstance(language, str):
        raise ApiError(422, INVALID_LANGUAGE_FIELD)
    try:
        problem = code_problem_create(
            user=request.user, difficulty=difficulty, topic=topic, language=language
        )
    except ProblemRefused as error:
        raise ApiError(422, error.message) from None
    except QuotaExceeded:
        status = quota_status(user=request.user)
        raise ApiError(429, QUOTA_EXCEEDED, resets_at=status.resets_at.isoformat()) from None
    except GenerationError as error:  # LearnerBusy
        raise ApiError(error.http_status, error.message) from None
    return JsonResponse(code_problem_json(problem), status=201)


@api_view("GET")
def code_challenge(request: HttpRequest, problem_id: int) -> HttpResponse:
    problem = _own_problem(request, problem_id)
    body = code_problem_json(problem)
    body["solved"] = code_problem_solved(problem)
    if body["solved"] or problem.gave_up_at:
        body["reference_solution"] = problem.reference_solution
        body["explanation"] = problem.explanation
    body["attempts"] = [submission_json(s) for s in problem.submissions.order_by("-id")[:ATTEMPTS_SHOWN]]
    return JsonResponse(body)


@api_view("POST")
def code_submissions(request: HttpRequest, problem_id: int) -> HttpResponse:
    problem = _own_problem(request, problem_id)
    data = json_body(request)
    code = data.get("code")
    if not isinstance(code, str):
        raise ApiError(422, INVALID_CODE_FIELD)
    kind = data.get("kind", SubmissionKind.SUBMIT)
    if kind not in SubmissionKind.values:
        raise ApiError(422, INVALID_KIND)
    try:
        submission = submission_grade(user=request.user, problem=problem, code=code, kind=kind)
    except RunRefused as error:
        raise ApiError(error.http_status, error.message) from None
    return JsonResponse(submission_json(submission))
