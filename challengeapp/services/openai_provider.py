"""Challenges written by OpenAI (or any OpenAI-compatible server at OPENAI_BASE_URL).

The only module that imports `openai`. Every failure leaves `generate()` as a GenerationError with
a message a learner can read, a `cause` for the log and the upstream request id when there is one.

Retry policy, so a slow upstream cannot hold a web worker for minutes: the SDK's own retries, cut
to one (max_retries=1) for a transient fault (timeout, connection error, 408, 409, 429, 5xx), plus
at most one request to fall back from json_schema to json_object on a server that does not support
structured outputs; the two calls share the one retry. A 429 is not retried when its Retry-After is
longer than a few seconds or the account is out of credit (see _no_long_waits). A timed-out
request that is retried can therefore take up to twice OPENAI_TIMEOUT; gunicorn's worker timeout
must allow for that.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai
from django.conf import settings

from challengeapp.models import Challenge, Difficulty, Topic
from challengeapp.services.drafts import (
    MAX_CODE_LINES,
    MAX_EXPLANATION_CHARS,
    MAX_OPTION_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TITLE_CHARS,
    normalize_question,
)
from challengeapp.services.errors import GenerationError, InvalidModelOutput
from challengeapp.services.parsing import challenge_draft_parse
from challengeapp.services.providers import GeneratedChallenge, GenerationRequest

if TYPE_CHECKING:
    import httpx2

logger = logging.getLogger(__name__)

PROVIDER_NAME = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Enough for the longest valid challenge (about 11,000 characters, see drafts.py); a model that
# runs on past it is cut off (finish_reason "length") instead of billing us for pages of text.
MAX_COMPLETION_TOKENS = 4000
MAX_MODEL_NAME_CHARS = Challenge._meta.get_field("model_name").max_length or 100
MAX_RECENT_TITLES = 20
MAX_RECENT_TITLE_CHARS = 80
# One extra request for a transient fault; the SDK waits its own short backoff before it.
MAX_RETRIES = 1
# A Retry-After up to this long is waited for before the one retry; a longer one means "not now":
# no retry, the learner is told to try again later.
MAX_RETRY_AFTER_SECONDS = 3.0

NOT_CONFIGURED = (
    "Challenge generation is not configured (no OpenAI API key). Please tell the site's operator."
)
TIMED_OUT = "The challenge generator took too long to answer. Please try again."
CONNECTION_FAILED = "The challenge generator could not be reached. Please try again in a moment."
AUTH_FAILED = "The challenge generator refused our credentials. Please tell the site's operator."
RATE_LIMITED = "The challenge generator is busy right now. Please try again in a minute."
UPSTREAM_FAILED = "The challenge generator had a problem on its side. Please try again."
BAD_REQUEST = "The challenge generator could not handle this request. Please try another topic or tell the site's operator."
UNKNOWN_CHOICE = "That difficulty or topic is not one we offer."
TRUNCATED = "The challenge generator's answer was cut off before it finished. Please try again."
REFUSED = "The challenge generator declined to write this challenge. Please try another topic."
EMPTY_ANSWER = "The challenge generator's answer was empty. Please try again."
UNREADABLE_ANSWER = "The challenge generator's answer could not be read. Please try again."
INVALID_ANSWER = "The challenge generator wrote an invalid challenge: {reason} Please try again."

# Structured outputs, strict: the model can only produce this shape. Every property is required
# and nothing else is allowed, as strict mode demands; "code" is "" for questions without code.
CHALLENGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": f"A short title, at most {MAX_TITLE_CHARS} characters."},
        "question": {"type": "string", "description": "The question, without the options."},
        "code": {
            "type": "string",
            "description": "A code snippet the question is about, or an empty string.",
        },
        "language": {
            "type": "string",
            "description": "The snippet's language (python, javascript, sql, bash, …), or an empty string.",
        },
        "options": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 4,
            "maxItems": 4,
            "description": "Exactly four answers: one correct, three plausible distractors.",
        },
        "correct_index": {
            "type": "integer",
            "enum": [0, 1, 2, 3],
            "description": "0-based index of the correct option.",
        },
        "explanation": {
            "type": "string",
            "description": "Why the answer is right and the most tempting distractor wrong.",
        },
    },
    "required": ["title", "question", "code", "language", "options", "correct_index", "explanation"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "coding_challenge", "strict": True, "schema": CHALLENGE_SCHEMA},
}
# For servers without structured outputs; the prompt itself asks for JSON, as JSON mode requires.
JSON_OBJECT_FORMAT: dict[str, Any] = {"type": "json_object"}

# The language versions questions are written against, so "what does this print" has one answer.
TOPIC_VERSIONS: dict[str, str] = {
    Topic.PYTHON: "Python 3.12",
    Topic.JAVASCRIPT: "JavaScript as run by Node.js 20 (ES2023)",
    Topic.SQL: "PostgreSQL 16",
    Topic.ALGORITHMS: "Python 3.12 for any code",
    Topic.DATA_STRUCTURES: "Python 3.12 for any code",
    Topic.WEB: "HTTP semantics as in RFC 9110, current browsers, and Python 3.12 or Node.js 20 for any code",
    Topic.GIT: "Git 2.4x (2.40 or later)",
    Topic.SYSTEM_DESIGN: "Python 3.12 for any code",
}
DIFFICULTY_GUIDANCE: dict[str, str] = {
    Difficulty.EASY: "fundamentals a junior developer should know",
    Difficulty.MEDIUM: "practical knowledge a developer with a few years of experience uses daily",
    Difficulty.HARD: "subtle behaviour, edge cases and trade-offs that experienced developers get wrong",
}

SYSTEM_PROMPT = (
    "You write multiple-choice questions for developers practising for coding interviews. "
    "Every question has exactly one correct answer that an expert would agree on. "
    "You respond with a single JSON object and nothing else: no prose, no markdown fences."
)


@dataclass(frozen=True)
class _Completion:
    content: object  # normally str; challenge_draft_parse rejects anything else
    model_name: str
    request_id: str
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


class OpenAIProvider:
    """The ChallengeProvider backed by Chat Completions with structured outputs."""

    name = PROVIDER_NAME

    def generate(self, request: GenerationRequest) -> GeneratedChallenge:
        try:
            messages = challenge_prompt_messages(request=request)
            return _generate(messages=messages)
        except GenerationError:
            raise  # generation.py logs the one line an operator sees per failure
        except Exception as error:
            # The boundary: whatever an SDK upgrade or an odd server throws, the caller only
            # ever sees a GenerationError, so a failed generation is never a 500.
            logger.exception("Unexpected error in OpenAI generation")
            raise GenerationError(UNREADABLE_ANSWER, cause="invalid_output") from error


def challenge_prompt_messages(*, request: GenerationRequest) -> list[dict[str, str]]:
    """The system and user messages for one challenge. Only curated text (the labels of our own
    choices) and titles of earlier challenges reach the prompt, never text a learner typed."""
    try:
        difficulty = Difficulty(request.difficulty)
        topic = Topic(request.topic)
    except ValueError:
        raise GenerationError(UNKNOWN_CHOICE, cause="bad_request") from None
    lines = [
        f"Write one {difficulty.label.lower()} multiple-choice question about {topic.label}.",
        f"Difficulty {difficulty.label.lower()} means: {DIFFICULTY_GUIDANCE[difficulty]}.",
        f"Assume {TOPIC_VERSIONS[topic]}.",
        "",
        "Rules:",
        "- Exactly four options: one correct answer and three plausible distractors of similar "
        "length and style, each a different answer.",
        '- No "all of the above" or "none of the above". Never refer to an option by its letter, '
        "number or position: the options are shuffled before the learner sees them.",
        f'- If the question is about code, put the snippet (at most {MAX_CODE_LINES} lines) in "code" '
        'and its language in "language"; otherwise both are empty strings. Do not repeat the code '
        'in "question".',
        '- "correct_index" is the 0-based position of the correct answer in "options".',
        '- "explanation" says why the correct answer is right and why the most tempting distractor is wrong.',
        f"- Keep the title under {MAX_TITLE_CHARS} characters, the question under "
        f"{MAX_QUESTION_CHARS}, each option under {MAX_OPTION_CHARS} and the explanation under "
        f"{MAX_EXPLANATION_CHARS}.",
    ]
    recent_titles = _recent_titles(request.recent_titles)
    if recent_titles:
        lines += ["", "Avoid these titles, and their subjects: the learner has just seen them."]
        lines += [f"- {title}" for title in recent_titles]
    lines += [
        "",
        "Respond with JSON only: one object with the keys title, question, code, language, "
        "options, correct_index and explanation.",
    ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]


def _recent_titles(titles: tuple[str, ...]) -> list[str]:
    cleaned = []
    for title in titles[:MAX_RECENT_TITLES]:
        # One line each, bounded: an earlier model answer must not reshape this prompt.
        flat = " ".join(str(title).split())[:MAX_RECENT_TITLE_CHARS]
        if flat:
            cleaned.append(flat)
    return cleaned


def _generate(*, messages: list[dict[str, str]]) -> GeneratedChallenge:
    completion = _complete_with_fallback(messages=messages)
    try:
        draft = challenge_draft_parse(completion.content)
    except InvalidModelOutput as error:
        raise InvalidModelOutput(
            INVALID_ANSWER.format(reason=error.message), upstream_request_id=completion.request_id
        ) from error
    digest = hashlib.sha256(normalize_question(draft.question).encode("utf-8")).hexdigest()
    return GeneratedChallenge(
        draft=draft,
        provider=PROVIDER_NAME,
        source_key="q:" + digest[:40],
        model_name=completion.model_name,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        total_tokens=completion.total_tokens,
    )


def _complete_with_fallback(*, messages: list[dict[str, str]]) -> _Completion:
    try:
        client = _client()
        try:
            return _complete(client=client, messages=messages, response_format=JSON_SCHEMA_FORMAT)
        except openai.APIStatusError as error:
            if not _rejects_json_schema(error):
                raise
            logger.info("Server rejected json_schema; retrying with json_object")
            # The two calls share the one transient retry. The SDK's exception does not say
            # whether the rejection came on a retry, but the request it sent numbers the attempt.
            if error.response.request.headers.get("x-stainless-retry-count", "0") != "0":
                client = client.with_options(max_retries=0)
            return _complete(client=client, messages=messages, response_format=JSON_OBJECT_FORMAT)
    except openai.OpenAIError as error:
        raise _generation_error(error) from error


def _complete(
    *, client: openai.OpenAI, messages: list[dict[str, str]], response_format: dict[str, Any]
) -> _Completion:
    # with_raw_response gives us the headers, hence the request id, even for an answer we reject.
    raw = client.chat.completions.with_raw_response.create(
        model=settings.OPENAI_MODEL,
        messages=messages,  # type: ignore[arg-type]
        response_format=response_format,  # type: ignore[arg-type]
        max_completion_tokens=MAX_COMPLETION_TOKENS,
    )
    request_id = raw.request_id or ""
    try:
        return _read_completion(response=raw.parse(), request_id=request_id)
    except (AttributeError, TypeError, IndexError, ValueError) as error:
        # A 200 that is not a chat completion: an HTML page from a proxy, a half-compatible server.
        raise InvalidModelOutput(UNREADABLE_ANSWER, upstream_request_id=request_id) from error


def _read_completion(*, response: Any, request_id: str) -> _Completion:
    choice = response.choices[0]
    if choice.finish_reason == "length":
        raise GenerationError(TRUNCATED, cause="truncated", upstream_request_id=request_id)
    if choice.message.refusal or choice.finish_reason == "content_filter":
        raise GenerationError(REFUSED, cause="refusal", upstream_request_id=request_id)
    content = choice.message.content
    if content is None or (isinstance(content, str) and not content.strip()):
        raise InvalidModelOutput(EMPTY_ANSWER, upstream_request_id=request_id)
    usage = getattr(response, "usage", None)
    model_name = (
        response.model if isinstance(response.model, str) and response.model else settings.OPENAI_MODEL
    )
    return _Completion(
        content=content,
        model_name=model_name[:MAX_MODEL_NAME_CHARS],
        request_id=request_id,
        prompt_tokens=_token_count(getattr(usage, "prompt_tokens", None)),
        completion_tokens=_token_count(getattr(usage, "completion_tokens", None)),
        total_tokens=_token_count(getattr(usage, "total_tokens", None)),
    )


def _token_count(value: object) -> int | None:
    # Compatible servers report usage loosely (missing, null, strings); only a count is stored.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _rejects_json_schema(error: openai.APIError) -> bool:
    if isinstance(error, openai.UnprocessableEntityError):
        return True
    if not isinstance(error, openai.BadRequestError):
        return False
    said = " ".join(str(part) for part in (error.message, error.param, error.body)).lower()
    return "response_format" in said or "json_schema" in said


def _generation_error(error: openai.OpenAIError) -> GenerationError:
    """The learner-readable GenerationError for an SDK exception."""
    request_id = _request_id(error)
    if isinstance(error, openai.APITimeoutError):  # before APIConnectionError: it is a subclass
        return GenerationError(TIMED_OUT, cause="timeout")
    if isinstance(error, openai.APIConnectionError):
        return GenerationError(CONNECTION_FAILED, cause="connection")
    if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return GenerationError(AUTH_FAILED, cause="auth", upstream_request_id=request_id)
    if isinstance(error, openai.RateLimitError):
        return GenerationError(RATE_LIMITED, cause="rate_limit", upstream_request_id=request_id)
    if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
        return GenerationError(UPSTREAM_FAILED, cause="upstream_5xx", upstream_request_id=request_id)
    if isinstance(error, openai.APIStatusError):
        return GenerationError(BAD_REQUEST, cause="bad_request", upstream_request_id=request_id)
    if isinstance(error, openai.APIError):  # e.g. APIResponseValidationError: a 200 we cannot read
        return InvalidModelOutput(UNREADABLE_ANSWER, upstream_request_id=request_id)
    # What is left is raised before any request: missing credentials and other client set-up.
    return GenerationError(NOT_CONFIGURED, cause="auth")


def _request_id(error: openai.OpenAIError) -> str:
    request_id = getattr(error, "request_id", None)
    if request_id:
        return str(request_id)
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    return str(headers.get("x-request-id") or "") if headers is not None else ""


def _no_long_waits(response: httpx2.Response) -> None:
    """An HTTP response hook: mark a 429 that is not worth waiting for as not to be retried.

    The SDK retries every 429 and waits for any Retry-After up to two minutes, with no setting for
    either; a learner waiting on a web request should be told "try again later" instead. The SDK
    does honour a server's `x-should-retry: false`, so this hook (httpx's public event hooks) adds
    that header to a 429 asking for a long wait, or saying the account is out of credit.
    """
    if response.status_code != 429 or "x-should-retry" in response.headers:
        return
    retry_after = _retry_after_seconds(response.headers)
    response.read()
    if (retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS) or _error_code(
        response
    ) == "insufficient_quota":
        response.headers["x-should-retry"] = "false"


def _retry_after_seconds(headers: httpx2.Headers) -> float | None:
    """Retry-After as seconds: `retry-after-ms`, or `retry-after` as seconds or an HTTP date (the
    SDK parses these the same way, but only in a private method)."""
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            moment = email.utils.parsedate_to_datetime(value)
            return moment.timestamp() - time.time()
    except (ValueError, TypeError, OverflowError):
        return None


def _error_code(response: httpx2.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


# One client per process: it holds the connection pool. Rebuilt when the settings it was built
# from change (tests override them; a deployment never does at run time).
_client_lock = threading.Lock()
_cached_client: tuple[tuple[str, str, float], openai.OpenAI] | None = None


def openai_client_warm() -> None:
    """Build the shared client now (ChallengeAppConfig.ready() calls this when a key is set), so
    the first generation after a deploy does not pay for importing the SDK and building it.

    With gunicorn's preload_app this runs in the master before it forks: the client has opened no
    connection yet, so every worker starts with an empty pool of its own."""
    if settings.OPENAI_API_KEY:
        _client()


def _client() -> openai.OpenAI:
    global _cached_client
    api_key = settings.OPENAI_API_KEY
    if not api_key:
        raise GenerationError(NOT_CONFIGURED, cause="auth")
    # Read here rather than left to the SDK, so an empty variable means the default, not "".
    base_url = os.environ.get("OPENAI_BASE_URL", "").strip() or DEFAULT_BASE_URL
    key = (api_key, base_url, float(settings.OPENAI_TIMEOUT))
    with _client_lock:
        if _cached_client is None or _cached_client[0] != key:
            client = openai.OpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=key[2],
                max_retries=MAX_RETRIES,
                http_client=openai.DefaultHttpxClient(event_hooks={"response": [_no_long_waits]}),
            )
            _cached_client = (key, client)
        return _cached_client[1]
