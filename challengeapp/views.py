"""Pages. Each works without JavaScript; with htmx, the region that changes is swapped in place."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from challengeapp.auth import learner_required
from challengeapp.coding.progress import code_history, code_progress
from challengeapp.coding.review import code_reviews_due
from challengeapp.content.reports import NOT_ANSWERED, InvalidReport, ReportLimitReached, report_submit
from challengeapp.core.errors import GenerationError, LearnerRefused, QuotaExceeded, TooManyFailures
from challengeapp.forms import (
    AnswerForm,
    DevSignInForm,
    GenerateForm,
    HistoryFilterForm,
    LeechActionForm,
    PracticePresetForm,
    ReportForm,
    ReviewAnswerForm,
    ReviewQueryForm,
)
from challengeapp.generation.pipeline import challenge_generate
from challengeapp.identity import dev_session_token_issue
from challengeapp.identity.learners import LEARNER_INACTIVE, learner_get_or_create, learner_update
from challengeapp.learning import progress as progress_rules
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.auto_difficulty import AUTO_DIFFICULTY, auto_decide, auto_levels
from challengeapp.learning.export import (
    ANKI_CONTENT_TYPE,
    ExportInProgress,
    anki_part_number,
    anki_parts,
    export_anki_package,
    export_csv_lines,
    export_filename,
    export_slot,
)
from challengeapp.learning.history import history_page, history_summary
from challengeapp.learning.progress import (
    RETENTION_TARGET_PERCENT,
    ActivityDay,
    progress_activity,
    progress_retention,
    progress_streak,
    progress_topics,
)
from challengeapp.learning.review import (
    ALREADY_ANSWERED,
    LEECH_MISSES,
    NOT_SCHEDULED,
    RETENTION_GAP,
    InvalidReviewAnswer,
    ReviewNotFound,
    ReviewStale,
    ReviewSuspended,
    review_answer,
    review_card_manage,
    review_card_of,
    review_forecast,
    review_leeches,
    review_next,
    review_options,
    reviews_today,
)
from challengeapp.middleware import SESSION_COOKIE
from challengeapp.models import Challenge, ReviewCard, ReviewLog
from challengeapp.quota import quota_status


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _practice_context(request: HtmxHttpRequest, *, form: GenerateForm, **extra) -> dict:
    return {"form": form, "quota": quota_status(user=request.user), **extra}


def _auto_notes(user) -> list[str]:
    """What auto says where it cannot follow the learner: above hard, below easy."""
    return [decision.message for decision in auto_levels(user=user) if decision.beyond]


@require_GET
@learner_required
def practice(request: HtmxHttpRequest) -> HttpResponse:
    latest = Challenge.objects.filter(owner=request.user).select_related("attempt").order_by("-id").first()
    # The last challenge stays on the page until it is answered, so a reload loses nothing.
    current = latest if latest is not None and not hasattr(latest, "attempt") else None
    initial = {"difficulty": latest.difficulty, "topic": latest.topic} if latest else {}
    # A "Practise this" link (progress page) fills the form in: ?topic=sql&difficulty=medium.
    initial.update(PracticePresetForm(request.GET).preset())
    form = GenerateForm(initial=initial or None)
    context = _practice_context(request, form=form, challenge=current, auto_notes=_auto_notes(request.user))
    return render(request, "challengeapp/practice.html", context)


@require_POST
@learner_required
def challenge_generate_view(request: HtmxHttpRequest) -> HttpResponse:
    form = GenerateForm(request.POST)
    status = 200
    context: dict = {}
    auto_note = ""  # what auto says of this topic where it cannot follow the learner
    if not form.is_valid():
        errors = [error for field_errors in form.errors.values() for error in field_errors]
        status, context = 400, {"problem": " ".join(dict.fromkeys(errors))}
    else:
        topic, difficulty = form.cleaned_data["topic"], form.cleaned_data["difficulty"]
        if difficulty == AUTO_DIFFICULTY:
            decision = auto_decide(user=request.user, topic=topic)
            difficulty = decision.difficulty
            auto_note = decision.message
        try:
            challenge = challenge_generate(user=request.user, difficulty=difficulty, topic=topic)
        except QuotaExceeded as error:
            status, context = 429, {"problem": str(error), "quota_problem": True}
        except TooManyFailures as error:
            status, context = error.http_status, {"problem": error.message, "paused_problem": True}
        except GenerationError as error:
            status, context = (
                error.http_status,
                {"problem": error.message, "can_retry": True},
            )
        else:
            if not request.htmx:
                return redirect("challenge-detail", challenge_id=challenge.id)
            context = {"challenge": challenge}
    context = _practice_context(request, form=form, auto_note=auto_note, **context)
    if request.htmx:
        # htmx swaps only 2xx answers: errors come back as the panel's content, with status 200.
        # The Generate button is refreshed only where there is one (the practice page, not a
        # challenge's own page, whose "Next" also lands here).
        on_practice = urlsplit(request.htmx.current_url_abs_path or "").path == reverse("practice")
        return render(
            request,
            "challengeapp/practice.html#generate-response",
            {**context, "quota_oob": True, "generate_button_oob": on_practice},
        )
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
        {
            "challenge": challenge,
            "form": form,
            "quota": quota_status(user=request.user),
            "report_saved": request.GET.get("reported") == "1",
        },
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
        attempt_record(
            challenge=challenge,
            chosen_index=answer_form.cleaned_data["choice"],
            confidence=answer_form.cleaned_data["confidence"],
        )
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
        # Swap the card in place: the result (and the navigation's review count), or the question
        # again with the error.
        return render(request, "challengeapp/challenge.html#answer-response", context)
    return render(request, "challengeapp/challenge.html", context, status=status)


# The coding problems the history page lists (the newest matching the filters; /code/ has them all
# through the JSON API's list).
CODE_HISTORY_SHOWN = 20


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
        # "Load more" appends the next items in place of its own button (focus goes to the first).
        return render(request, "challengeapp/history.html#history-items", {**context, "loaded_more": True})
    context["summary"] = history_summary(user=request.user, **chosen)
    context["code_problems"] = list(code_history(user=request.user, **chosen)[:CODE_HISTORY_SHOWN])
    if request.htmx and request.htmx.target == "history-list":
        return render(request, "challengeapp/history.html#history-list", context)
    return render(request, "challengeapp/history.html", context)


# --- Review ---------------------------------------------------------------------------------------

REVIEW_PAGE = "challengeapp/review.html"


@dataclass(frozen=True)
class ShownOption:
    text: str
    is_correct: bool
    is_picked: bool


def humanised_until(moment: dt.datetime, now: dt.datetime) -> str:
    """'in 10 minutes', 'in 3 days', 'in 2 weeks': one unit, rounded to the nearest."""
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 45:
        return "in under a minute"
    for limit, unit, size in (
        (45 * 60, "minute", 60),
        (22 * 3600, "hour", 3600),
        (14 * 86400, "day", 86400),
        (8 * 7 * 86400, "week", 7 * 86400),
        (320 * 86400, "month", 30 * 86400),
    ):
        if seconds < limit:
            count = max(int(seconds / size + 0.5), 1)
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    count = max(int(seconds / (365 * 86400) + 0.5), 1)
    return f"in {count} year{'s' if count != 1 else ''}"


def _review_result(*, challenge: Challenge, order: list[int], log: ReviewLog) -> dict:
    """What an answered review shows: the options in the order they were on screen, which was
    right and which was picked, the explanation, and when the challenge comes back."""
    return {
        "challenge": challenge,
        "options": [
            ShownOption(
                text=challenge.options[index],
                is_correct=index == challenge.correct_index,
                is_picked=index == log.chosen_index,
            )
            for index in order
        ],
        "is_correct": log.is_correct,
        "is_first_answer": log.is_first_answer,
        "confidence": log.get_confidence_display() if log.confidence else "",
        "due_at": log.due_after,
        "due_in": humanised_until(log.due_after, timezone.now()),
    }


def _review_question(card: ReviewCard, *, answer_form: ReviewAnswerForm | None = None) -> dict:
    now = timezone.now()
    return {
        "card": card,
        "is_leech": card.misses >= LEECH_MISSES,
        "challenge": card.challenge,
        "options": review_options(card),
        "answer_form": answer_form or ReviewAnswerForm(initial={"confidence": ""}),
        "is_early": card.due_at > now,
        "due_in": humanised_until(card.due_at, now),
    }


def _review_day(request: HttpRequest) -> dict:
    """Today's reviews against the daily limit, and answers against the daily goal."""
    today = progress_activity(user=request.user, weeks=1)[-1].answers
    done = reviews_today(user=request.user)
    return {
        "day": {
            "answers": today,
            "goal": settings.REVIEW_DAILY_GOAL,
            "goal_met": today >= settings.REVIEW_DAILY_GOAL,
            "reviews": done,
            "limit": settings.REVIEW_DAILY_LIMIT,
            "limit_reached": done >= settings.REVIEW_DAILY_LIMIT,
        }
    }


def _next_review(request: HttpRequest, *, early: bool = False) -> dict:
    """The next review's question, or when nothing is due, when the next one will be."""
    day = _review_day(request)
    card = review_next(user=request.user, early=early)
    if card is not None:
        return {**_review_question(card), **day}
    upcoming = review_next(user=request.user, early=True)
    if upcoming is None:
        return {"nothing_scheduled": True, **day}
    return {"upcoming": upcoming, "upcoming_in": humanised_until(upcoming.due_at, timezone.now()), **day}


def _order_from_query(order: str) -> list[int] | None:
    return [int(digit) for digit in order] if order and sorted(order) == list("0123") else None


@require_GET
@learner_required
def review(request: HtmxHttpRequest) -> HttpResponse:
    query = ReviewQueryForm(request.GET)
    if not query.is_valid():
        # Unknown values, and values given twice, are dropped.
        kept = {
            k: v for k, v in request.GET.items() if k not in query.errors and len(request.GET.getlist(k)) == 1
        }
        query = ReviewQueryForm(kept)
        query.is_valid()
    answered = query.cleaned_data.get("answered")
    if answered:
        # The result of the learner's latest answer to this challenge: where a review answered
        # without JavaScript lands (post/redirect/get).
        log = (
            ReviewLog.objects.filter(owner=request.user, card__challenge_id=answered)
            .select_related("card__challenge")
            .order_by("-reviewed_at", "-id")
            .first()
        )
        if log is None:
            raise Http404(NOT_SCHEDULED)
        challenge = log.card.challenge
        order = (
            log.shown_order
            or _order_from_query(query.cleaned_data.get("order", ""))
            or list(range(len(challenge.options)))
        )
        context = {"result": _review_result(challenge=challenge, order=order, log=log)}
    else:
        context = _next_review(request, early=bool(query.cleaned_data.get("early")))
        if query.cleaned_data.get("stale"):
            context["notice"] = ALREADY_ANSWERED
        if query.cleaned_data.get("suspended"):
            context["notice"] = SUSPENDED_NOTICE
    if request.htmx:
        # "Next review" and "Review early" swap the card in place (and refresh the due count).
        return render(request, f"{REVIEW_PAGE}#review-response", context)
    context["reviews_due"] = list(code_reviews_due(user=request.user)[:CODE_HISTORY_SHOWN])
    return render(request, REVIEW_PAGE, context)


@require_POST
@learner_required
def review_answer_view(request: HtmxHttpRequest, challenge_id: int) -> HttpResponse:
    try:
        card = review_card_of(user=request.user, challenge_id=challenge_id)
    except ReviewNotFound:
        raise Http404(NOT_SCHEDULED) from None
    form = ReviewAnswerForm(request.POST)
    if form.is_valid():
        try:
            outcome = review_answer(
                user=request.user,
                challenge_id=challenge_id,
                position=form.cleaned_data["position"],
                confidence=form.cleaned_data["confidence"],
                # The form carries the review count when it was shown: it answers the next one.
                review_number=form.cleaned_data["expected_reviews"] + 1,
            )
        except ReviewStale:
            # A second tab answered it otherwise: that answer counts; show what comes next.
            if not request.htmx:
                return redirect(reverse("review") + "?stale=1")
            context = {**_next_review(request), "notice": ALREADY_ANSWERED}
            return render(request, f"{REVIEW_PAGE}#review-response", context)
        except ReviewSuspended:
            if not request.htmx:
                return redirect(reverse("review") + "?suspended=1")
            context = {**_next_review(request), "notice": SUSPENDED_NOTICE}
            return render(request, f"{REVIEW_PAGE}#review-response", context)
        except ReviewNotFound:
            raise Http404(NOT_SCHEDULED) from None
        except InvalidReviewAnswer as error:
            form.add_error(None, error.message)
        else:
            # The order the answer was graded against (a double submit gets the first result, in
            # the order it was shown).
            order = outcome.log.shown_order or list(card.option_order)
            if not request.htmx:
                query = urlencode({"answered": challenge_id, "order": "".join(map(str, order))})
                return redirect(f"{reverse('review')}?{query}")
            context = {
                "result": _review_result(challenge=outcome.card.challenge, order=order, log=outcome.log)
            }
            return render(request, f"{REVIEW_PAGE}#review-response", context)
    context = _review_question(card, answer_form=form)
    if request.htmx:
        # htmx swaps only 2xx answers: the question comes back with the error, status 200.
        return render(request, f"{REVIEW_PAGE}#review-response", context)
    return render(request, REVIEW_PAGE, context, status=400)


SUSPENDED_NOTICE = "That challenge is suspended; resume it from your progress page to review it again."
LEECH_DONE = {"reset": "reset", "suspend": "suspended", "resume": "resumed"}


@require_POST
@learner_required
def review_leech(request: HtmxHttpRequest, challenge_id: int) -> HttpResponse:
    """Reset, suspend or resume a card (a leech, most often): a plain form, back to the progress
    page's list of leeches."""
    form = LeechActionForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "challengeapp/problem.html",
            {
                "title": "Choose an action",
                "message": " ".join(e for errs in form.errors.values() for e in errs),
            },
            status=400,
        )
    try:
        review_card_manage(user=request.user, challenge_id=challenge_id, action=form.cleaned_data["action"])
    except ReviewNotFound:
        raise Http404(NOT_SCHEDULED) from None
    return redirect(f"{reverse('progress')}?card={challenge_id}&done={form.cleaned_data['action']}#leeches")


# --- Progress and export --------------------------------------------------------------------------

# Activity calendar shading: (at least this many answers, level), darkest first.
ACTIVITY_LEVELS = ((10, 4), (6, 3), (3, 2), (1, 1))
ACTIVITY_LEGEND = ("none", "1–2", "3–5", "6–9", "10 or more")


def activity_level(answers: int) -> int:
    return next((level for threshold, level in ACTIVITY_LEVELS if answers >= threshold), 0)


@dataclass(frozen=True)
class ActivityCell:
    day: ActivityDay
    level: int
    is_today: bool


@require_GET
@learner_required
def progress(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "challengeapp/progress.html", _progress_context(request))


def _progress_context(request: HtmxHttpRequest) -> dict:
    today = timezone.localdate()
    days = progress_activity(user=request.user, today=today)
    active = [day for day in days if day.answers]
    busiest = max(active, key=lambda day: day.answers, default=None)
    retention = progress_retention(user=request.user, today=today)
    forecast = review_forecast(user=request.user)
    done = request.GET.get("done", "")
    return {
        "topics": progress_topics(user=request.user),
        "code_progress": code_progress(user=request.user),
        "retention": _retention_chart(retention),
        "retention_target": RETENTION_TARGET_PERCENT,
        "forecast": forecast,
        "forecast_max": max((cards for _, cards in forecast), default=0),
        "leeches": review_leeches(user=request.user),
        "leech_misses": LEECH_MISSES,
        "leech_done": LEECH_DONE.get(done, ""),
        "auto_levels": auto_levels(user=request.user),
        "goal": settings.REVIEW_DAILY_GOAL,
        "goal_today": days[-1].answers,
        "streak": progress_streak(user=request.user, today=today),
        # Seven consecutive days per column, so each row is one weekday: name the rows after
        # the first week's days.
        "activity": [
            ActivityCell(day=day, level=activity_level(day.answers), is_today=day.date == today)
            for day in days
        ],
        "activity_weekdays": [day.date for day in days[:7]],
        "activity_total": sum(day.answers for day in days),
        "activity_active_days": len(active),
        "activity_busiest": busiest,
        "activity_legend": list(enumerate(ACTIVITY_LEGEND)),
        "activity_weeks": progress_rules.ACTIVITY_WEEKS,
        "mastery_rule": {
            "min_answers": progress_rules.MIN_ANSWERS_TO_JUDGE,
            "proficient_percent": round(progress_rules.PROFICIENT_ACCURACY * 100),
            "spaced_days": RETENTION_GAP.days,
            "spaced_successes": progress_rules.SPACED_SUCCESSES_TO_MASTER,
        },
        "time_zone": settings.TIME_ZONE,
        **_anki_parts_context(anki_parts(user=request.user)),
    }


@dataclass(frozen=True)
class RetentionBar:
    week: object  # RetentionWeek
    x: int
    height: int  # of 100
    label: str

    @property
    def y(self) -> int:
        return 100 - self.height


def _retention_chart(weeks: list) -> dict:
    """The retention chart's geometry (an inline SVG, 100 units high, a bar per week) with a text
    label per bar; the same figures are in a table beside it."""
    bars = []
    for n, week in enumerate(weeks):
        percent = week.percent
        label = (
            f"Week of {week.start:%-d %b}: {week.recalled} of {week.reviews} recalled ({percent} %)"
            if week.reviews
            else f"Week of {week.start:%-d %b}: no reviews a day or more after the previous answer"
        )
        bars.append(RetentionBar(week=week, x=n * 10 + 2, height=percent or 0, label=label))
    return {
        "weeks": weeks,
        "bars": bars,
        "width": len(weeks) * 10 + 4,
        "target_y": 100 - RETENTION_TARGET_PERCENT,
        "has_reviews": any(week.reviews for week in weeks),
    }


@require_GET
@learner_required
def progress_export_csv(request: HtmxHttpRequest) -> HttpResponse:
    response = StreamingHttpResponse(
        export_csv_lines(user=request.user), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename("csv")}"'
    return response


@dataclass(frozen=True)
class AnkiPartLink:
    number: int
    first: int
    last: int


# Past this many parts the page offers a part number to choose instead of a link each, so the page's
# size and cost stay the same however long the history.
ANKI_PART_LINKS_MAX = 10


def _anki_parts_context(parts: int) -> dict:
    per_deck = settings.EXPORT_ANKI_NOTES_PER_DECK
    shown = parts if parts <= ANKI_PART_LINKS_MAX else 0
    return {
        "anki_part_count": parts,
        "anki_part_size": per_deck,
        "anki_parts": [AnkiPartLink(n, (n - 1) * per_deck + 1, n * per_deck) for n in range(1, shown + 1)],
    }


@require_GET
@learner_required
def progress_export_anki(request: HtmxHttpRequest) -> HttpResponse:
    parts = anki_parts(user=request.user)
    part = anki_part_number(request.GET.getlist("part"), parts=parts)
    if part is None:
        raise Http404("No such part of the deck.")
    try:
        with export_slot(user=request.user):
            package = export_anki_package(user=request.user, part=part)
    except ExportInProgress as error:
        # A download link, not an htmx request: the progress page, saying why.
        context = {**_progress_context(request), "export_problem": error.message}
        response = render(request, "challengeapp/progress.html", context, status=429)
        response["Retry-After"] = str(error.retry_after)
        return response
    # FileResponse closes the temporary file (and so deletes it) once it is sent.
    return FileResponse(
        package,
        as_attachment=True,
        filename=export_filename("apkg", part=part, parts=parts),
        content_type=ANKI_CONTENT_TYPE,
    )


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


@require_POST
@learner_required
def challenge_report(request: HtmxHttpRequest, challenge_id: int) -> HttpResponse:
    """Report a problem with one of the learner's answered challenges (or change the report)."""
    challenge = get_object_or_404(
        Challenge.objects.select_related("attempt"), id=challenge_id, owner=request.user
    )
    if not hasattr(challenge, "attempt"):
        # No report box is shown before an answer; a hand-made POST gets the reason.
        return render(
            request,
            "challengeapp/problem.html",
            {"title": "Answer it first", "message": NOT_ANSWERED},
            status=200 if request.htmx else 400,
        )
    report_form = ReportForm(request.POST)
    saved, status = False, 400
    if report_form.is_valid():
        try:
            report_submit(
                user=request.user,
                challenge_id=challenge.id,
                reason=report_form.cleaned_data["reason"],
                note=report_form.cleaned_data["note"],
            )
        except ReportLimitReached as error:
            report_form.add_error(None, error.message)
            status = 429
        except InvalidReport as error:
            report_form.add_error(None, error.message)
        else:
            saved = True
            if not request.htmx:
                return redirect(f"{reverse('challenge-detail', args=[challenge.id])}?reported=1")
    context = {"challenge": challenge, "report_form": report_form, "report_saved": saved}
    if request.htmx:
        # The report box swaps in place (htmx swaps only 2xx: errors come back with 200).
        return render(request, "challengeapp/challenge.html#report-problem", context)
    context |= {
        "form": GenerateForm(initial={"difficulty": challenge.difficulty, "topic": challenge.topic}),
        "quota": quota_status(user=request.user),
    }
    return render(request, "challengeapp/challenge.html", context, status=status)
