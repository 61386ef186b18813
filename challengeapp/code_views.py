"""The "Write the code" pages: get a coding problem, write the function in a plain textarea, Run
it on the examples or Submit it against every test, and see the solution after solving or giving
up. Each works without JavaScript; with htmx, the result region is swapped in place."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from challengeapp.auth import learner_required
from challengeapp.coding.allowance import RunRefused
from challengeapp.coding.curated import CODE_TOPICS
from challengeapp.coding.grading import submission_grade
from challengeapp.coding.languages import CODE_LANGUAGES, TOPIC_LANGUAGE
from challengeapp.coding.problems import (
    ProblemRefused,
    ProblemStanding,
    code_problem_create,
    code_problem_give_up,
    code_problem_standing,
)
from challengeapp.coding.review import (
    CodeReviewRefused,
    code_review_is_due,
    code_review_start,
    code_reviews_due,
)
from challengeapp.core.errors import GenerationError, QuotaExceeded
from challengeapp.forms import SingleValuedForm
from challengeapp.models import (
    CodeLanguage,
    CodeProblem,
    CodeSubmission,
    Difficulty,
    SubmissionKind,
)
from challengeapp.quota import quota_status
from challengeapp.views import HtmxHttpRequest

RECENT_PROBLEMS = 20
INVALID_CHOICE = "Choose one of the listed options."


class CodeProblemForm(SingleValuedForm):
    difficulty = forms.ChoiceField(
        choices=Difficulty.choices,
        initial=Difficulty.EASY,
        widget=forms.RadioSelect,
        error_messages={"required": INVALID_CHOICE, "invalid_choice": INVALID_CHOICE},
    )
    topic = forms.ChoiceField(
        choices=[(topic.value, topic.label) for topic in CODE_TOPICS],
        initial=CODE_TOPICS[0],
        error_messages={"required": INVALID_CHOICE, "invalid_choice": INVALID_CHOICE},
    )
    # Without one (a form posted by a script), the topic's own language, else Python, as in the API.
    language = forms.ChoiceField(
        choices=[(language.value, language.label) for language in CODE_LANGUAGES],
        initial=CodeLanguage.PYTHON,
        required=False,
        widget=forms.RadioSelect,
        help_text="For algorithms and data structures. Python and JavaScript problems are always in their own language.",
        error_messages={"required": INVALID_CHOICE, "invalid_choice": INVALID_CHOICE},
    )


def _home(request: HtmxHttpRequest, *, form: CodeProblemForm, problem: str = "", status: int = 200):
    recent = (
        CodeProblem.objects.filter(owner=request.user)
        .annotate(attempts=Count("submissions"))
        .order_by("-id")[:RECENT_PROBLEMS]
    )
    context = {
        "form": form,
        "problems": recent,
        "quota": quota_status(user=request.user),
        "problem": problem,
        "reviews_due": list(code_reviews_due(user=request.user)[:RECENT_PROBLEMS]),
    }
    return render(request, "challengeapp/code.html", context, status=status)


@require_GET
@learner_required
def code_home(request: HtmxHttpRequest) -> HttpResponse:
    return _home(request, form=CodeProblemForm())


@require_POST
@learner_required
def code_problem_new(request: HtmxHttpRequest) -> HttpResponse:
    form = CodeProblemForm(request.POST)
    if not form.is_valid():
        errors = [error for field_errors in form.errors.values() for error in field_errors]
        return _home(request, form=form, problem=" ".join(dict.fromkeys(errors)), status=400)
    try:
        problem = code_problem_create(
            user=request.user,
            difficulty=form.cleaned_data["difficulty"],
            topic=form.cleaned_data["topic"],
            # On the page, a topic that names a language (Python, JavaScript) is written in it
            # whatever the radio says (it defaults to Python): the choice is for the others.
            language=TOPIC_LANGUAGE.get(form.cleaned_data["topic"], form.cleaned_data["language"] or None),
        )
    except ProblemRefused as error:
        return _home(request, form=form, problem=error.message, status=400)
    except QuotaExceeded as error:
        return _home(request, form=form, problem=str(error), status=429)
    except GenerationError as error:  # LearnerBusy
        return _home(request, form=form, problem=error.message, status=error.http_status)
    # A new page, so a plain POST and redirect, with or without htmx.
    return redirect("code-problem", problem_id=problem.id)


def problem_url(problem: CodeProblem) -> str:
    return reverse("code-problem", kwargs={"problem_id": problem.id})


def _problem_context(
    problem: CodeProblem,
    *,
    standing: ProblemStanding | None = None,
    submission: CodeSubmission | None = None,
    **extra,
) -> dict:
    standing = standing or code_problem_standing(problem)
    card = standing.card
    context = {
        "code_problem": problem,
        "solved": standing.solved,
        "revealed": standing.revealed,
        "review_card": card,
        "in_round": standing.in_round,
        "review_due": card is not None and not standing.in_round and code_review_is_due(card),
        "code": problem.starter_code,
        "submission": submission,
        "max_bytes": settings.CODE_MAX_SUBMISSION_BYTES,
        **extra,
    }
    if submission is not None:
        context.update(_result_summary(problem, submission))
    return context


def _result_summary(problem: CodeProblem, submission: CodeSubmission) -> dict:
    """What the result region shows: each example with its expected value and what the code
    returned; for hidden tests only how many passed and the first failure's message (never its
    arguments or expected value)."""
    results = submission.results
    visible = [
        {**test, **result}
        for test, result in zip(problem.examples, results, strict=False)
        if result["visible"]
    ]
    hidden = [result for result in results if not result["visible"]]
    first_failure = next((result for result in hidden if not result["passed"]), None)
    return {
        "visible_results": visible,
        "hidden_passed": sum(result["passed"] for result in hidden),
        "hidden_total": len(hidden),
        "first_hidden_failure": first_failure["error"] if first_failure else "",
    }


@require_GET
@learner_required
def code_problem_detail(request: HtmxHttpRequest, problem_id: int) -> HttpResponse:
    problem = get_object_or_404(CodeProblem, id=problem_id, owner=request.user)
    standing = code_problem_standing(problem)
    latest = standing.submissions.order_by("-id").first()
    context = _problem_context(problem, standing=standing, submission=latest)
    if latest is not None:
        context["code"] = latest.code
    return render(request, "challengeapp/code_problem.html", context)


@require_POST
@learner_required
def code_submit(request: HtmxHttpRequest, problem_id: int) -> HttpResponse:
    problem = get_object_or_404(CodeProblem, id=problem_id, owner=request.user)
    code = request.POST.get("code", "")
    kind = request.POST.get("action", SubmissionKind.SUBMIT)
    status, context, retry_after = 200, {}, None
    try:
        context["submission"] = submission_grade(user=request.user, problem=problem, code=code, kind=kind)
    except RunRefused as error:
        status, context["refused"], retry_after = error.http_status, error.message, error.retry_after
    context = _problem_context(problem, **context)
    context["code"] = code
    if request.htmx:
        # htmx swaps only 2xx answers: a refusal comes back as the result region, with status 200.
        return render(request, "challengeapp/code_problem.html#code-result", context)
    response = render(request, "challengeapp/code_problem.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_POST
@learner_required
def code_give_up(request: HtmxHttpRequest, problem_id: int) -> HttpResponse:
    problem = get_object_or_404(CodeProblem, id=problem_id, owner=request.user)
    code_problem_give_up(problem=problem)
    return redirect(problem_url(problem) + "#solution")


@require_POST
@learner_required
def code_review(request: HtmxHttpRequest, problem_id: int) -> HttpResponse:
    """Open a review round: the page then shows the starter code and no solution until the
    learner solves it again or gives up."""
    problem = get_object_or_404(CodeProblem, id=problem_id, owner=request.user)
    try:
        code_review_start(user=request.user, problem_id=problem.id)
    except CodeReviewRefused as error:
        context = _problem_context(problem, refused=error.message)
        return render(request, "challengeapp/code_problem.html", context, status=409)
    return redirect(problem_url(problem) + "#code-editor")
