"""Pages. Each works without JavaScript; with htmx, the region that changes is swapped in place."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from challengeapp.auth import learner_required
from challengeapp.forms import AnswerForm, DevSignInForm, GenerateForm, HistoryFilterForm
from challengeapp.middleware import SESSION_COOKIE
from challengeapp.models import Challenge
from challengeapp.services.attempts import attempt_record
from challengeapp.services.errors import GenerationError, LearnerRefused, QuotaExceeded
from challengeapp.services.generation import challenge_generate
from challengeapp.services.history import history_page
from challengeapp.services.identity import dev_session_token_issue
from challengeapp.services.learners import LEARNER_INACTIVE, learner_get_or_create, learner_update
from challengeapp.services.quota import quota_status


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _practice_context(request: HtmxHttpRequest, *, form: GenerateForm, **extra) -> dict:
    return {"form": form, "quota": quota_status(user=request.user), **extra}


@require_GET
@learner_required
def practice(request: HtmxHttpRequest) -> HttpResponse:
    latest = Challenge.objects.filter(owner=request.user).select_related("attempt").order_by("-id").first()
    # The last challenge stays on the page until it is answered, so a reload loses nothing.
    current = latest if latest is not None and not hasattr(latest, "attempt") else None
    initial = {"difficulty": latest.difficulty, "topic": latest.topic} if latest else None
    form = GenerateForm(initial=initial)
    return render(
        request, "challengeapp/practice.html", _practice_context(request, form=form, challenge=current)
    )


@require_POST
@learner_required
def challenge_generate_view(request: HtmxHttpRequest) -> HttpResponse:
    form = GenerateForm(request.POST)
    status = 200
    context: dict = {}
    if not form.is_valid():
        errors = [error for field_errors in form.errors.values() for error in field_errors]
        status, context = 400, {"problem": " ".join(dict.fromkeys(errors))}
    else:
        try:
            challenge = challenge_generate(
                user=request.user,
                difficulty=form.cleaned_data["difficulty"],
                topic=form.cleaned_data["topic"],
            )
        except QuotaExceeded as error:
            status, context = 429, {"problem": str(error), "quota_problem": True}
        except GenerationError as error:
            status, context = (
                error.http_status,
                {"problem": error.message, "can_retry": True},
            )
        else:
            if not request.htmx:
                return redirect("challenge-detail", challenge_id=challenge.id)
            context = {"challenge": challenge}
    context = _practice_context(request, form=form, **context)
    if request.htmx:
        # htmx swaps only 2xx answers: errors come back as the panel's content, with status 200.
        return render(request, "challengeapp/practice.html#generate-response", {**context, "quota_oob": True})
    return render(request, "challengeapp/practice.html", context, status=status)


@require_GET
@learner_required
def challenge_detail(request: HtmxHttpRequest, challenge_id: int) -> HttpResponse:
    challenge = get_object_or_404(
        Challenge.objects.select_related("attempt"), id=challenge_id, owner=request.user
    )
    form = GenerateForm(initial={"difficulty": challenge.difficulty, "topic": challenge.topic})
    return render(
        request,
        "challengeapp/challenge.html",
        {"challenge": challenge, "form": form, "quota": quota_status(user=request.user)},
    )


@require_POST
@learner_required
def challenge_answer(request: HtmxHttpRequest, challenge_id: int) -> HttpResponse:
    challenge = get_object_or_404(
        Challenge.objects.select_related("attempt"), id=challenge_id, owner=request.user
    )
    answer_form = AnswerForm(request.POST)
    status = 200
    if answer_form.is_valid():
        attempt_record(challenge=challenge, chosen_index=answer_form.cleaned_data["choice"])
        if not request.htmx:
            return redirect("challenge-detail", challenge_id=challenge.id)
    else:
        status = 400
    context = {
        "challenge": challenge,
        "answer_form": answer_form,
        "form": GenerateForm(initial={"difficulty": challenge.difficulty, "topic": challenge.topic}),
        "quota": quota_status(user=request.user),
    }
    if request.htmx:
        # Swap the card in place: the result, or the question again with the error.
        return render(request, "challengeapp/challenge.html#challenge-card", context)
    return render(request, "challengeapp/challenge.html", context, status=status)


@require_GET
@learner_required
def history(request: HtmxHttpRequest) -> HttpResponse:
    filters = HistoryFilterForm(request.GET)
    if not filters.is_valid():
        # Unknown filter values are dropped rather than answered with an error page.
        filters = HistoryFilterForm({k: v for k, v in request.GET.items() if k not in filters.errors})
        filters.is_valid()
    chosen = {k: v for k, v in filters.cleaned_data.items() if k != "before" and v}
    page = history_page(user=request.user, before=filters.cleaned_data.get("before"), **chosen)
    context = {"filters": filters, "page": page, "chosen": chosen}
    if request.htmx and request.htmx.target == "history-more":
        # "Load more" appends the next items in place of its own button.
        return render(request, "challengeapp/history.html#history-items", context)
    if request.htmx and request.htmx.target == "history-list":
        return render(request, "challengeapp/history.html#history-list", context)
    return render(request, "challengeapp/history.html", context)


def _safe_next(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


def _dev_learner_id(display_name: str, email: str) -> str:
    """The same name and email sign in as the same development learner, so history survives."""
    digest = hashlib.sha256(f"{display_name.casefold()}\x00{email.casefold()}".encode()).hexdigest()
    return f"user_dev_{digest[:24]}"


@require_http_methods(["GET", "POST"])
def sign_in(request: HtmxHttpRequest) -> HttpResponse:
    next_path = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    refused = getattr(request, "auth_error", None)
    if isinstance(refused, LearnerRefused):
        # A genuine session of a deleted or deactivated learner: say so, rather than let Clerk's
        # JavaScript send a signed-in browser straight back to a page that refuses it.
        return render(request, "challengeapp/sign_in.html", {"refused": refused.message}, status=403)
    if settings.CLERK_ENABLED:
        return render(request, "challengeapp/sign_in.html", {"next": next_path})
    form = DevSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name, email = form.cleaned_data["display_name"], form.cleaned_data["email"]
        clerk_id = _dev_learner_id(name, email)
        try:
            learner = learner_get_or_create(clerk_id=clerk_id)
        except LearnerRefused as error:
            form.add_error(None, error.message)
        else:
            if not learner.is_active:
                form.add_error(None, LEARNER_INACTIVE)
            else:
                return _signed_in(request, clerk_id=clerk_id, name=name, email=email, next_path=next_path)
    status = 400 if request.method == "POST" else 200
    return render(request, "challengeapp/sign_in.html", {"form": form, "next": next_path}, status=status)


def _signed_in(request: HttpRequest, *, clerk_id: str, name: str, email: str, next_path: str) -> HttpResponse:
    learner_update(clerk_id=clerk_id, email=email, first_name=name, last_name="")
    token = dev_session_token_issue(user_id=clerk_id, session_id=f"sess_dev_{secrets.token_hex(12)}")
    response = redirect(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.DEV_SESSION_SECONDS,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


@require_http_methods(["GET", "POST"])
def sign_out(request: HtmxHttpRequest) -> HttpResponse:
    """GET asks; only a POST (with its CSRF token) signs out, so no other site can sign a learner
    out by linking or embedding this URL."""
    if request.method == "GET":
        return render(request, "challengeapp/sign_out.html", {"confirm": True})
    if settings.CLERK_ENABLED:
        # Clerk's JavaScript ends the Clerk session, clears its cookie and goes to the sign-in page.
        return render(request, "challengeapp/sign_out.html", {"confirm": False})
    response = redirect("sign-in")
    response.delete_cookie(SESSION_COOKIE, samesite="Lax")
    return response


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
