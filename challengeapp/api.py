"""The JSON API, with the routes and shapes of the FastAPI apps' React front ends.

Bearer tokens only (the middleware ignores cookies under /api/), so there is no CSRF to guard
against. Errors are always JSON `{"detail": …}`: 400 malformed JSON, 401 no or invalid token,
404 not yours, 405 wrong method, 422 invalid fields, 429 quota spent, too many generations
under way for this learner, too many failed or too many reports today, 502 the model failed, 503 busy. Never an HTML page, never a 500.

Input is parsed strictly: numbers in query strings are ASCII digits within bounds, a parameter
given twice is refused, and a JSON body with a key given twice is malformed.

Those front ends grade in the browser from `correct_answer_id` and never call the answer route;
CodeDrill's own pages keep the key on the server until the learner has answered.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import random
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from challengeapp.auth import api_learner_required
from challengeapp.coding.progress import code_progress
from challengeapp.content.reports import InvalidReport, ReportLimitReached, ReportNotFound, report_submit
from challengeapp.core.errors import GenerationError, QuotaExceeded, TooManyFailures
from challengeapp.generation.pipeline import challenge_generate
from challengeapp.learning.attempts import InvalidChoice, attempt_record
from challengeapp.learning.auto_difficulty import AUTO_DIFFICULTY, auto_levels, difficulty_auto
from challengeapp.learning.history import history_rows
from challengeapp.learning.progress import (
    RETENTION_TARGET_PERCENT,
    progress_activity,
    progress_retention,
    progress_streak,
    progress_topics,
)
from challengeapp.learning.review import (
    LEECH_MISSES,
    InvalidReviewAnswer,
    ReviewNotFound,
    ReviewStale,
    ReviewSuspended,
    review_answer,
    review_card_manage,
    review_due_count,
    review_forecast,
    review_is_due,
    review_options,
    review_queue,
    reviews_today,
)
from challengeapp.models import Challenge, Difficulty, Topic
from challengeapp.quota import quota_status

MALFORMED_JSON = "The request body is not valid JSON."
BODY_TOO_LARGE = "The request body is too large."
BODY_UNREADABLE = "The request body could not be read."
BODY_NOT_OBJECT = "The request body must be a JSON object."
INVALID_DIFFICULTY = "difficulty must be one of: easy, medium, hard, auto."
INVALID_TOPIC = "topic must be one of: " + ", ".join(Topic.values) + "."
INVALID_ANSWER = "answer_id must be an integer from 0 to 3."
INVALID_CONFIDENCE = 'confidence must be "guessed" or "knew".'
INVALID_REVIEW_NUMBER = "review_number must be the review_number /api/review gave for this item."
REVIEW_LIMIT_MAX = 500
REVIEW_PAGE_SIZE = 50
INVALID_CURSOR = "cursor must be a next_cursor this API returned."
INVALID_LIMIT = "limit must be an integer from 1 to 100."
INVALID_OFFSET = "offset must be an integer from 0 to 1000000000."
INVALID_REVIEW_LIMIT = "limit must be an integer from 1 to 500."
REPEATED_PARAMETER = "{name} is given more than once."
QUOTA_EXCEEDED = "Daily quota exceeded"
NOT_FOUND = "Not found."
METHOD_NOT_ALLOWED = "Method not allowed."

HISTORY_MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000
MAX_BODY_BYTES = 64 * 1024
ASCII_DIGITS = re.compile(r"[0-9]{1,10}")

_topic_rng = random.SystemRandom()


class ApiError(Exception):
    """An error answer: `status`, `{"detail": …}` with `extra` fields beside it, and a Retry-After
    header when `retry_after` (seconds) is given."""

    def __init__(self, status: int, detail: str, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra
        self.retry_after = retry_after


def error_response(status: int, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def api_view(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Method check (JSON 405), Bearer authentication (JSON 401), and ApiError → JSON."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        authenticated = api_learner_required(view)

        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error_response(405, METHOD_NOT_ALLOWED)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return authenticated(request, *args, **kwargs)
            except ApiError as error:
                response = error_response(error.status, error.detail, **error.extra)
                if error.retry_after is not None:
                    response["Retry-After"] = str(error.retry_after)
                return response

        return wrapper

    return decorate


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            raise ApiError(400, BODY_TOO_LARGE)
        raw = request.body
    except (RequestDataTooBig, ValueError):
        raise ApiError(400, BODY_TOO_LARGE) from None
    except (UnreadablePostError, OSError):  # the client went away mid-upload
        raise ApiError(400, BODY_UNREADABLE) from None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(400, BODY_TOO_LARGE)
    try:
        data = json.loads(raw, object_pairs_hook=_object_without_repeated_keys)
    except (ValueError, RecursionError):  # bad UTF-8 and repeated keys are ValueErrors too
        raise ApiError(400, MALFORMED_JSON) from None
    if not isinstance(data, dict):
        raise ApiError(422, BODY_NOT_OBJECT)
    return data


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a key is given more than once")
    return data


def prompt_with_code(challenge: Challenge) -> str:
    return _prompt(challenge.question, challenge.code, challenge.code_language)


def _prompt(question: str, code: str, language: str) -> str:
    """The question with its code as a fenced Markdown block after it: the seed front ends show
    only `prompt`. The fence is longer than any run of backticks in the code, so code cannot
    close it early."""
    if not code:
        return question
    longest_run = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest_run + 1)
    return f"{question}\n\n{fence}{language}\n{code}\n{fence}"


def title_only(request: HttpRequest) -> bool:
    """Whether this client is a front end that shows only `title` (the FastAPI tutorial's React
    app): API_TITLE_ONLY_ORIGINS names their origins, or "*" every client. Such a front end gets the
    whole question with its code in `title`, since the short heading alone is unanswerable; the
    others keep the heading in `title` and the question in `prompt`, so nothing shows twice."""
    origins = settings.API_TITLE_ONLY_ORIGINS
    return "*" in origins or request.headers.get("Origin", "") in origins


def challenge_json(challenge: Challenge, *, standalone_title: bool = False) -> dict[str, Any]:
    prompt = prompt_with_code(challenge)
    return {
        "id": challenge.id,
        "difficulty": challenge.difficulty,
        "topic": challenge.topic,
        "title": prompt if standalone_title else challenge.title,
        "prompt": prompt,
        "code": challenge.code,
        "code_language": challenge.code_language,
        "options": challenge.options,
        "correct_answer_id": challenge.correct_index,
        "explanation": challenge.explanation,
        "provider": challenge.provider,
        "verification": challenge.verification,
        "created_at": challenge.created_at.isoformat(),
    }


@api_view("GET")
def quota(request: HttpRequest) -> HttpResponse:
    status = quota_status(user=request.user)
    return JsonResponse(
        {
            "user_id": request.user.username,
            "quota_remaining": status.remaining,
            # The seed front ends show "next reset" as this plus 24 hours, so it is the reset time
            # minus 24 real hours: the start of the quota day, except on a day a clock change makes
            # 23 or 25 hours long. With TIME_ZONE's offset at that moment.
            # (In UTC: arithmetic on a zoned datetime is wall-clock arithmetic.)
            "last_reset_date": (status.resets_at.astimezone(dt.UTC) - dt.timedelta(hours=24))
            .astimezone(timezone.get_default_timezone())
            .isoformat(),
            "daily_limit": status.daily_limit,
            "resets_at": status.resets_at.isoformat(),
        }
    )


@api_view("POST")
def generate_challenge(request: HttpRequest) -> HttpResponse:
    data = json_body(request)
    difficulty = data.get("difficulty")
    if not isinstance(difficulty, str) or difficulty not in (*Difficulty.values, AUTO_DIFFICULTY):
        raise ApiError(422, INVALID_DIFFICULTY)
    topic = data.get("topic")
    if topic is None or topic == "":
        # The React front ends send no topic: any curated topic will do.
        topic = _topic_rng.choice(Topic.values)
    elif not isinstance(topic, str) or topic not in Topic.values:
        raise ApiError(422, INVALID_TOPIC)
    if difficulty == AUTO_DIFFICULTY:
        difficulty = difficulty_auto(user=request.user, topic=topic)
    try:
        challenge = challenge_generate(user=request.user, difficulty=difficulty, topic=topic)
    except QuotaExceeded:
        status = quota_status(user=request.user)
        raise ApiError(429, QUOTA_EXCEEDED, resets_at=status.resets_at.isoformat()) from None
    except TooManyFailures as error:
        status = quota_status(user=request.user)
        raise ApiError(error.http_status, error.message, resets_at=status.resets_at.isoformat()) from None
    except GenerationError as error:
        raise ApiError(error.http_status, error.message) from None
    return JsonResponse(challenge_json(challenge, standalone_title=title_only(request)), status=201)


@api_view("POST")
def answer(request: HttpRequest, challenge_id: int) -> HttpResponse:
    challenge = (
        Challenge.objects.select_related("attempt").filter(id=challenge_id, owner=request.user).first()
    )
    if challenge is None:
        raise ApiError(404, NOT_FOUND)
    data = json_body(request)
    answer_id = _answer_id(data)
    confidence = _confidence(data)
    try:
        attempt, _ = attempt_record(challenge=challenge, chosen_index=answer_id, confidence=confidence)
    except InvalidChoice as error:
        raise ApiError(422, str(error)) from None
    return JsonResponse(
        {
            "correct": attempt.is_correct,
            "correct_answer_id": challenge.correct_index,
            "explanation": challenge.explanation,
            "answer_id": attempt.chosen_index,
        }
    )


def query_int(request: HttpRequest, name: str, *, low: int, high: int, message: str) -> int | None:
    """A query-string integer: ASCII digits only (str.isdigit() would take "²" or "①"), within
    [low, high]; None when absent or empty. A parameter given twice is refused."""
    values = request.GET.getlist(name)
    if len(values) > 1:
        raise ApiError(422, REPEATED_PARAMETER.format(name=name))
    raw = values[0] if values else ""
    if raw == "":
        return None
    if not ASCII_DIGITS.fullmatch(raw):
        raise ApiError(422, message)
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(422, message)
    return value


@api_view("GET")
def history(request: HttpRequest) -> HttpResponse:
    """Newest first. Without `limit`, the whole history (the seed front ends show all of it), up
    to API_HISTORY_WHOLE_MAX items (see _history_page)."""
    rows, next_page = _history_page(request)
    items = [_history_item(row) for row in rows]
    if title_only(request):
        for item in items:
            item["title"] = item["prompt"]
    return _with_next_page(JsonResponse(items, safe=False), next_page)


def _history_page(request: HttpRequest) -> tuple[list[dict[str, Any]], str | None]:
    """The rows a history request asks for, and the path of the page after them when a whole-list
    request was cut short.

    A whole list is what the seed front ends ask for, but its cost is linear in the history (50,000
    items: about 68 MB and 3 s of one worker's time, docs/BENCHMARKS.md), so one request's work is
    bounded: past API_HISTORY_WHOLE_MAX items the newest that many are sent, with a Link header
    (rel="next") naming the paged request for the rest."""
    limit = query_int(request, "limit", low=1, high=HISTORY_MAX_LIMIT, message=INVALID_LIMIT)
    offset = query_int(request, "offset", low=0, high=MAX_OFFSET, message=INVALID_OFFSET) or 0
    if limit is not None:
        return history_rows(user=request.user, limit=limit, offset=offset), None
    whole_max = settings.API_HISTORY_WHOLE_MAX
    rows = history_rows(user=request.user, limit=whole_max + 1, offset=offset)
    if len(rows) <= whole_max:
        return rows, None
    return rows[:whole_max], f"{request.path}?limit={HISTORY_MAX_LIMIT}&offset={offset + whole_max}"


def _with_next_page(response: HttpResponse, next_page: str | None) -> HttpResponse:
    if next_page is not None:
        response["Link"] = f'<{next_page}>; rel="next"'
    return response


@api_view("GET")
def my_history(request: HttpRequest) -> HttpResponse:
    """The FastAPI tutorial's history contract: `{"challenges": [...]}`, newest first, each with
    `date_created`. Only front ends that show the title alone call it, so `title` is always the
    whole question with its code. The same paging and bound as /api/history."""
    rows, next_page = _history_page(request)
    challenges = []
    for row in rows:
        item = _history_item(row)
        item["title"] = item["prompt"]
        item["date_created"] = item["created_at"]
        challenges.append(item)
    return _with_next_page(JsonResponse({"challenges": challenges}), next_page)


def _history_item(row: dict[str, Any]) -> dict[str, Any]:
    answered_at, regraded_at = row["attempt__answered_at"], row["attempt__regraded_at"]
    return {
        "id": row["id"],
        "difficulty": row["difficulty"],
        "topic": row["topic"],
        "title": row["title"],
        "prompt": _prompt(row["question"], row["code"], row["code_language"]),
        "code": row["code"],
        "code_language": row["code_language"],
        "options": row["options"],
        "correct_answer_id": row["correct_index"],
        "explanation": row["explanation"],
        "provider": row["provider"],
        "verification": row["verification"],
        "created_at": row["created_at"].isoformat(),
        "answer_id": row["attempt__chosen_index"],
        "is_correct": row["attempt__is_correct"],
        "answered_at": answered_at.isoformat() if answered_at else None,
        "regraded_at": regraded_at.isoformat() if regraded_at else None,
    }


def _confidence(data: dict[str, Any]) -> str:
    """Optional: "guessed", "knew", or absent/null/"" for nothing said."""
    confidence = data.get("confidence", "")
    if confidence is None:
        confidence = ""
    if not isinstance(confidence, str) or confidence not in ("", "guessed", "knew"):
        raise ApiError(422, INVALID_CONFIDENCE)
    return confidence


def _answer_id(data: dict[str, Any]) -> int:
    answer_id = data.get("answer_id")
    if isinstance(answer_id, bool) or not isinstance(answer_id, int) or not 0 <= answer_id <= 3:
        raise ApiError(422, INVALID_ANSWER)
    return answer_id


@api_view("GET")
def review(request: HttpRequest) -> HttpResponse:
    """The scheduled challenges in the review page's order (today's misses first, then the oldest
    due; learning/review.py), options in this review's order: no key and no explanation until the
    review is answered. A page of `limit` (REVIEW_PAGE_SIZE by default, at most REVIEW_LIMIT_MAX);
    `next_cursor`, passed back as `cursor`, gives the page after it (null on the last page). Each
    item's `review_number`, sent back with the answer, makes a repeated submission harmless."""
    limit = query_int(request, "limit", low=1, high=REVIEW_LIMIT_MAX, message=INVALID_REVIEW_LIMIT)
    limit = limit or REVIEW_PAGE_SIZE
    offset = query_int(request, "offset", low=0, high=MAX_OFFSET, message=INVALID_OFFSET) or 0
    after = _review_cursor_read(request)
    now = timezone.now()
    # One more than the page, to know whether another page follows.
    cards = review_queue(user=request.user, limit=limit + 1, offset=offset, after=after, now=now)
    page = cards[:limit]
    next_cursor = _review_cursor(page[-1]) if len(cards) > limit else None
    items = [
        {
            "challenge_id": card.challenge_id,
            "due_at": card.due_at.isoformat(),
            "is_due": review_is_due(card, now=now),
            "review_number": card.reviews + 1,
            "misses": card.misses,
            "is_leech": card.misses >= LEECH_MISSES,
            "title": card.challenge.title,
            "prompt": prompt_with_code(card.challenge),
            "code": card.challenge.code,
            "code_language": card.challenge.code_language,
            "options": review_options(card),
        }
        for card in page
    ]
    done = reviews_today(user=request.user, now=now)
    return JsonResponse(
        {
            "items": items,
            "next_cursor": next_cursor,
            # The review page's figures: due now (within today's limit), today's reviews against
            # the daily limit, and the cards due on each of the next seven days.
            "due_now": review_due_count(user=request.user, now=now),
            "reviews_today": done,
            "daily_limit": settings.REVIEW_DAILY_LIMIT,
            "forecast": [
                {"date": day.isoformat(), "due": cards}
                for day, cards in review_forecast(user=request.user, now=now)
            ],
        }
    )


def _review_cursor(card) -> str:
    """An opaque page boundary: the last card's place in the queue, due time and challenge id."""
    raw = f"{card.queue_rank}|{card.due_at.astimezone(dt.UTC).isoformat()}|{card.challenge_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _review_cursor_read(request: HttpRequest) -> tuple[int, dt.datetime, int] | None:
    values = request.GET.getlist("cursor")
    if len(values) > 1:
        raise ApiError(422, REPEATED_PARAMETER.format(name="cursor"))
    if not values or values[0] == "":
        return None
    raw = values[0]
    try:
        if len(raw) > 100:
            raise ValueError
        parts = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii").split("|")
        if len(parts) == 2:  # a cursor from before the queue had ranks: the rank after misses
            parts = ["1", *parts]
        rank, due_at, challenge_id = parts
        moment = dt.datetime.fromisoformat(due_at)
        if moment.tzinfo is None or rank not in ("0", "1") or not ASCII_DIGITS.fullmatch(challenge_id):
            raise ValueError
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise ApiError(422, INVALID_CURSOR) from None
    return int(rank), moment, int(challenge_id)


@api_view("POST")
def review_answer_view(request: HttpRequest, challenge_id: int) -> HttpResponse:
    data = json_body(request)
    position = _answer_id(data)
    confidence = _confidence(data)
    review_number = data.get("review_number")
    if review_number is not None and (
        isinstance(review_number, bool)
        or not isinstance(review_number, int)
        or not 1 <= review_number <= 10**9
    ):
        raise ApiError(422, INVALID_REVIEW_NUMBER)
    try:
        outcome = review_answer(
            user=request.user,
            challenge_id=challenge_id,
            position=position,
            confidence=confidence,
            review_number=review_number,
        )
    except ReviewNotFound:
        raise ApiError(404, NOT_FOUND) from None
    except (ReviewStale, ReviewSuspended) as error:
        raise ApiError(409, error.message) from None
    except InvalidReviewAnswer as error:
        raise ApiError(422, error.message) from None
    return JsonResponse(
        {
            "correct": outcome.is_correct,
            "correct_answer_id": outcome.correct_position,
            "explanation": outcome.card.challenge.explanation,
            "next_due_at": outcome.next_due_at.isoformat(),
            "review_number": outcome.log.review_number,
            # A submission of an answer already stored: this is its first result, unchanged.
            "replayed": outcome.replayed,
            "misses": outcome.card.misses,
            "is_leech": outcome.card.misses >= LEECH_MISSES,
        }
    )


@api_view("POST")
def review_leech(request: HttpRequest, challenge_id: int) -> HttpResponse:
    """{"action": "reset" | "suspend" | "resume"} on one of the learner's cards."""
    data = json_body(request)
    try:
        card = review_card_manage(user=request.user, challenge_id=challenge_id, action=data.get("action"))
    except ReviewNotFound:
        raise ApiError(404, NOT_FOUND) from None
    except InvalidReviewAnswer as error:
        raise ApiError(422, error.message) from None
    return JsonResponse(
        {
            "challenge_id": card.challenge_id,
            "suspended": card.suspended,
            "misses": card.misses,
            "due_at": card.due_at.isoformat(),
        }
    )


@api_view("GET")
def progress(request: HttpRequest) -> HttpResponse:
    streak = progress_streak(user=request.user)
    return JsonResponse(
        {
            "streak_days": streak.current,
            "longest_streak_days": streak.longest,
            "topics": [
                {
                    "topic": group.topic,
                    "difficulty": group.difficulty,
                    "answered": group.answered,
                    "correct": group.correct,
                    "mastery": group.mastery,
                    "cards": group.cards,
                    "recalled": group.recalled,
                    "retained": group.spaced_successes,
                }
                for group in progress_topics(user=request.user)
            ],
            "retention": [
                {"week": week.start.isoformat(), "reviews": week.reviews, "recalled": week.recalled}
                for week in progress_retention(user=request.user)
            ],
            "retention_target_percent": RETENTION_TARGET_PERCENT,
            # Coding problems per topic, by how they ended, and their reviews due now.
            "coding": code_progress(user=request.user).as_json(),
            "auto_difficulty": [
                {
                    "topic": level.topic,
                    "difficulty": level.difficulty,
                    "answered": level.answered,
                    "right": level.right,
                    "beyond": level.beyond or None,
                }
                for level in auto_levels(user=request.user)
            ],
            "activity": [
                {"date": day.date.isoformat(), "answers": day.answers}
                for day in progress_activity(user=request.user)
            ],
        }
    )


@api_view("POST")
def report(request: HttpRequest, challenge_id: int) -> HttpResponse:
    """A learner reports a problem with one of their answered challenges: 201 the first time, 200
    when they change their open report on that content, 429 past today's reports."""
    data = json_body(request)
    try:
        stored, created = report_submit(
            user=request.user, challenge_id=challenge_id, reason=data.get("reason"), note=data.get("note", "")
        )
    except ReportNotFound:
        raise ApiError(404, NOT_FOUND) from None
    except ReportLimitReached as error:
        raise ApiError(429, error.message) from None
    except InvalidReport as error:
        raise ApiError(422, error.message) from None
    return JsonResponse(
        {"challenge_id": challenge_id, "reason": stored.reason, "note": stored.note},
        status=201 if created else 200,
    )
