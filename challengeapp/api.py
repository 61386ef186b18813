"""The JSON API, with the routes and shapes of the FastAPI apps' React front ends.

Bearer tokens only (the middleware ignores cookies under /api/), so there is no CSRF to guard
against. Errors are always JSON `{"detail": …}`: 400 malformed JSON, 401 no or invalid token,
404 not yours, 405 wrong method, 422 invalid fields, 429 quota spent, 502 the model failed,
503 busy. Never an HTML page, never a 500.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from challengeapp.auth import api_learner_required
from challengeapp.models import Challenge, Difficulty, Topic
from challengeapp.services.attempts import attempt_record
from challengeapp.services.errors import GenerationError, QuotaExceeded
from challengeapp.services.generation import challenge_generate
from challengeapp.services.history import history_slice
from challengeapp.services.quota import quota_status

MALFORMED_JSON = "The request body is not valid JSON."
BODY_TOO_LARGE = "The request body is too large."
BODY_NOT_OBJECT = "The request body must be a JSON object."
INVALID_DIFFICULTY = "difficulty must be one of: easy, medium, hard."
INVALID_TOPIC = "topic must be one of: " + ", ".join(Topic.values) + "."
INVALID_ANSWER = "answer_id must be an integer from 0 to 3."
INVALID_LIMIT = "limit must be an integer from 1 to 100."
INVALID_OFFSET = "offset must be an integer of 0 or more."
QUOTA_EXCEEDED = "Daily quota exceeded"
NOT_FOUND = "Not found."
METHOD_NOT_ALLOWED = "Method not allowed."
SERVER_ERROR = "Something went wrong on our side. Nothing was changed; try again."

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
MAX_BODY_BYTES = 64 * 1024

_topic_rng = random.SystemRandom()


class ApiError(Exception):
    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra


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
                return error_response(error.status, error.detail, **error.extra)

        return wrapper

    return decorate


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            raise ApiError(400, BODY_TOO_LARGE)
        raw = request.body
    except (RequestDataTooBig, ValueError):
        raise ApiError(400, BODY_TOO_LARGE) from None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(400, BODY_TOO_LARGE)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, MALFORMED_JSON) from None
    if not isinstance(data, dict):
        raise ApiError(422, BODY_NOT_OBJECT)
    return data


def challenge_json(challenge: Challenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "difficulty": challenge.difficulty,
        "topic": challenge.topic,
        "title": challenge.title,
        "prompt": challenge.question,
        "code": challenge.code,
        "code_language": challenge.code_language,
        "options": challenge.options,
        "correct_answer_id": challenge.correct_index,
        "explanation": challenge.explanation,
        "provider": challenge.provider,
        "created_at": challenge.created_at.isoformat(),
    }


@api_view("GET")
def quota(request: HttpRequest) -> HttpResponse:
    status = quota_status(user=request.user)
    return JsonResponse(
        {
            "user_id": request.user.username,
            "quota_remaining": status.remaining,
            "last_reset_date": status.day.isoformat(),
            "daily_limit": status.daily_limit,
            "resets_at": status.resets_at.isoformat(),
        }
    )


@api_view("POST")
def generate_challenge(request: HttpRequest) -> HttpResponse:
    data = json_body(request)
    difficulty = data.get("difficulty")
    if not isinstance(difficulty, str) or difficulty not in Difficulty.values:
        raise ApiError(422, INVALID_DIFFICULTY)
    topic = data.get("topic")
    if topic is None or topic == "":
        # The React front ends send no topic: any curated topic will do.
        topic = _topic_rng.choice(Topic.values)
    elif not isinstance(topic, str) or topic not in Topic.values:
        raise ApiError(422, INVALID_TOPIC)
    try:
        challenge = challenge_generate(user=request.user, difficulty=difficulty, topic=topic)
    except QuotaExceeded:
        status = quota_status(user=request.user)
        raise ApiError(429, QUOTA_EXCEEDED, resets_at=status.resets_at.isoformat()) from None
    except GenerationError as error:
        raise ApiError(503 if error.cause == "busy" else 502, error.message) from None
    return JsonResponse(challenge_json(challenge), status=201)


@api_view("POST")
def answer(request: HttpRequest, challenge_id: int) -> HttpResponse:
    challenge = (
        Challenge.objects.select_related("attempt").filter(id=challenge_id, owner=request.user).first()
    )
    if challenge is None:
        raise ApiError(404, NOT_FOUND)
    data = json_body(request)
    answer_id = data.get("answer_id")
    if isinstance(answer_id, bool) or not isinstance(answer_id, int) or not 0 <= answer_id <= 3:
        raise ApiError(422, INVALID_ANSWER)
    attempt, _ = attempt_record(challenge=challenge, chosen_index=answer_id)
    return JsonResponse(
        {
            "correct": attempt.is_correct,
            "correct_answer_id": challenge.correct_index,
            "explanation": challenge.explanation,
            "answer_id": attempt.chosen_index,
        }
    )


def _query_int(
    request: HttpRequest, name: str, default: int, *, low: int, high: int | None, message: str
) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(422, message)
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise ApiError(422, message)
    return value


@api_view("GET")
def history(request: HttpRequest) -> HttpResponse:
    limit = _query_int(
        request, "limit", HISTORY_DEFAULT_LIMIT, low=1, high=HISTORY_MAX_LIMIT, message=INVALID_LIMIT
    )
    offset = _query_int(request, "offset", 0, low=0, high=None, message=INVALID_OFFSET)
    challenges = history_slice(user=request.user, limit=limit, offset=offset)
    items = []
    for challenge in challenges:
        # No attempt raises RelatedObjectDoesNotExist, an AttributeError: getattr's default applies.
        attempt = getattr(challenge, "attempt", None)
        items.append(
            {
                **challenge_json(challenge),
                "answer_id": attempt.chosen_index if attempt else None,
                "is_correct": attempt.is_correct if attempt else None,
                "answered_at": attempt.answered_at.isoformat() if attempt else None,
            }
        )
    return JsonResponse(items, safe=False)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for the whole site: JSON under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(404, NOT_FOUND)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return error_response(500, SERVER_ERROR)
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
