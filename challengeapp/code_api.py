"""The JSON API for coding problems, beside the seed contract (challengeapp/api.py), with its
conventions: Bearer tokens, `{"detail": …}` errors, 4xx for every bad input, never a 500.

A new problem is asked for by difficulty, topic and, optionally, language ("python" or
"javascript"; without it, the topic's own, else Python: coding/languages.py).

A problem is sent without its reference solution and explanation until it has ended (solved, or
given up) and while a review round of it is open; never with its hidden tests; a submission's
result never holds a hidden test's arguments or expected value.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse

from challengeapp.api import NOT_FOUND, QUOTA_EXCEEDED, ApiError, api_view, json_body
from challengeapp.coding.allowance import RunRefused
from challengeapp.coding.grading import submission_grade
from challengeapp.coding.problems import (
    ProblemRefused,
    code_problem_create,
    code_problem_give_up,
    code_problem_standing,
)
from challengeapp.coding.review import CodeReviewRefused, code_review_start
from challengeapp.core.errors import GenerationError, QuotaExceeded
from challengeapp.models import CodeProblem, CodeReviewCard, CodeSubmission, SubmissionKind
from challengeapp.quota import quota_status

INVALID_CODE_FIELD = "code must be a string: the whole source of your solution, in the problem's language."
INVALID_LANGUAGE_FIELD = 'language, when given, must be a string: "python" or "javascript".'
INVALID_KIND = 'kind must be "submit" (every test) or "run" (the examples only).'
ATTEMPTS_SHOWN = 50
LIST_PAGE = 50
INVALID_BEFORE = "before must be a coding problem id from next_before."


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


def code_outcome_json(problem: CodeProblem, card: CodeReviewCard | None) -> dict[str, Any]:
    """How the problem went: its outcome ("" while under way, solved_first, solved_after,
    gave_up), the Submits it took, when it ended, and its review schedule once it has one."""
    return {
        "outcome": problem.outcome,
        "outcome_submits": problem.outcome_submits,
        "finished_at": problem.finished_at.isoformat() if problem.finished_at else None,
        "review": None
        if card is None
        else {
            "due_at": card.due_at.isoformat(),
            "reviews": card.reviews,
            "last_outcome": card.last_outcome,
            "in_round": card.round_started_at is not None,
        },
    }


@api_view("GET", "POST")
def code_challenges(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _code_challenge_list(request)
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


def _code_challenge_list(request: HttpRequest) -> HttpResponse:
    """The learner's coding problems, newest first, with their attempts counted and how each went
    (the history of "write the code"); `?before=<id>` pages on."""
    before = request.GET.get("before", "")
    problems = CodeProblem.objects.filter(owner=request.user)
    if before:
        if not before.isdecimal() or len(before) > 18:
            raise ApiError(400, INVALID_BEFORE)
        problems = problems.filter(id__lt=int(before))
    page = list(
        problems.annotate(
            runs=Count("submissions", filter=Q(submissions__kind=SubmissionKind.RUN)),
            submits=Count("submissions", filter=Q(submissions__kind=SubmissionKind.SUBMIT)),
        )
        .select_related("review_card")
        .order_by("-id")[: LIST_PAGE + 1]
    )
    items = []
    for problem in page[:LIST_PAGE]:
        card = getattr(problem, "review_card", None)
        items.append(
            {
                **{key: value for key, value in code_problem_json(problem).items() if key != "starter_code"},
                "runs": problem.runs,
                "submits": problem.submits,
                **code_outcome_json(problem, card),
            }
        )
    more = len(page) > LIST_PAGE
    return JsonResponse({"items": items, "next_before": page[LIST_PAGE - 1].id if more else None})


def _problem_body(problem: CodeProblem) -> dict[str, Any]:
    body = code_problem_json(problem)
    standing = code_problem_standing(problem)
    body["solved"] = standing.solved
    body.update(code_outcome_json(problem, standing.card))
    if standing.revealed:
        body["reference_solution"] = problem.reference_solution
        body["explanation"] = problem.explanation
    body["attempts"] = [submission_json(s) for s in standing.submissions.order_by("-id")[:ATTEMPTS_SHOWN]]
    return body


@api_view("GET")
def code_challenge(request: HttpRequest, problem_id: int) -> HttpResponse:
    return JsonResponse(_problem_body(_own_problem(request, problem_id)))


@api_view("POST")
def code_give_up(request: HttpRequest, problem_id: int) -> HttpResponse:
    """Give up on the problem (or the open review round): the answer holds the solution."""
    problem = _own_problem(request, problem_id)
    code_problem_give_up(problem=problem)
    return JsonResponse(_problem_body(problem))


@api_view("POST")
def code_review(request: HttpRequest, problem_id: int) -> HttpResponse:
    """Open a review round of an ended problem: write it again; the solution is withheld until
    the round ends."""
    problem = _own_problem(request, problem_id)
    try:
        code_review_start(user=request.user, problem_id=problem.id)
    except CodeReviewRefused as error:
        raise ApiError(409, error.message) from None
    return JsonResponse(_problem_body(problem))


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
        raise ApiError(error.http_status, error.message, retry_after=error.retry_after) from None
    return JsonResponse(submission_json(submission))
