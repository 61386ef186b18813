"""Challenges written by OpenAI (or any OpenAI-compatible server at OPENAI_BASE_URL).

The only module that imports `openai`. Every failure leaves `generate()` as a GenerationError with
a message a learner can read, a `cause` for the log and the upstream request id when there is one;
an error the server answered also carries a trimmed, one-line copy of the server's own message
(`UpstreamError.upstream_message`) for the operator's log line.

Retry policy, so a slow upstream cannot hold a web worker for minutes: the SDK's own retries, cut
to one (max_retries=1) for a transient fault (timeout, connection error, 408, 409, 429, 5xx), plus
at most one request to switch response formats (below); the two calls share the one retry. A 429
is not retried when its Retry-After is longer than a few seconds or the account is out of credit,
and an error that names the response format is not retried at all (see _retry_policy). The whole
generation also runs within GENERATION_BUDGET_SECONDS (generation/budget.py): every request's
timeouts, the SDK's retry included, are capped by the time left, and no request starts once it is
spent.

Response formats: strict `json_schema` first. A server that refuses it (a 400 or 422, or a 5xx
whose message names the response format, as llama-cpp-python's server answers) gets the same
request with `json_object`, and the format that was not refused is remembered for that base URL
and model for the life of the process, so later generations do not pay for the refused attempt.
The switch works both ways: a server that refuses a remembered `json_object` (LM Studio does) is
asked with `json_schema` again.

The token cap (OPENAI_MAX_TOKENS): OpenAI's own API (api.openai.com, Azure OpenAI) gets
`max_completion_tokens`, which its reasoning models require; every other base URL gets
`max_tokens`, the field every OpenAI-compatible server we know honours (llama.cpp's server,
llama-cpp-python, Ollama, vLLM, LM Studio), where `max_completion_tokens` is ignored by some of
them and the cap would not hold.
"""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import openai
from django.conf import settings

from challengeapp.content.identity import content_key
from challengeapp.core.drafts import (
    MAX_CODE_LINES,
    MAX_EXPLANATION_CHARS,
    MAX_OPTION_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TITLE_CHARS,
    ChallengeDraft,
)
from challengeapp.core.errors import GenerationError, InvalidModelOutput
from challengeapp.generation.budget import budget_check, budget_error, budget_seconds_left, budget_spent
from challengeapp.generation.parsing import challenge_draft_parse
from challengeapp.generation.providers import GeneratedChallenge, GenerationRequest
from challengeapp.models import Challenge, Difficulty, Topic
from challengeapp.quality.blind_check import (
    CHECK_SCHEMA,
    CHECK_SCHEMA_NAME,
    CheckOutcome,
    check_answer_read,
    check_messages,
    check_order,
)
from challengeapp.quality.sandbox import sandbox_language_versions, sandbox_python_version

if TYPE_CHECKING:
    import httpx2

logger = logging.getLogger(__name__)

PROVIDER_NAME = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

MAX_MODEL_NAME_CHARS = Challenge._meta.get_field("model_name").max_length or 100
MAX_RECENT_TITLES = 20
MAX_RECENT_TITLE_CHARS = 80
# One extra request for a transient fault; the SDK waits its own short backoff before it.
MAX_RETRIES = 1
# A Retry-After up to this long is waited for before the one retry; a longer one means "not now":
# no retry, the learner is told to try again later.
MAX_RETRY_AFTER_SECONDS = 3.0
# How much of a server's error message the log line keeps (on one line).
MAX_LOGGED_SERVER_MESSAGE_CHARS = 300
# Hosts of OpenAI's own API, which want max_completion_tokens; every other server gets max_tokens.
OPENAI_API_HOSTS = ("api.openai.com",)
OPENAI_API_HOST_SUFFIXES = (".openai.azure.com",)
# Words in an error message that say the server objects to the response format we asked for.
RESPONSE_FORMAT_WORDS = ("response_format", "response format", "json_schema", "json_object")
# How much of a 5xx body the retry policy reads for those words.
MAX_ERROR_BODY_CHARS = 4000

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
CHECK_FAILED = "The second check of this challenge's answer did not come back. Please try again."
UNSUPPORTED_FORMAT = (
    "The challenge generator cannot answer in JSON (the server refused both response formats we "
    "ask for). Please tell the site's operator."
)

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
        "answer_kind": {
            "type": "string",
            "enum": ["output", "concept"],
            "description": '"output" when the correct option is exactly what the code prints on '
            'standard output, or the traceback\'s last line when it raises; "concept" otherwise.',
        },
    },
    "required": [
        "title",
        "question",
        "code",
        "language",
        "options",
        "correct_index",
        "explanation",
        "answer_kind",
    ],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "coding_challenge", "strict": True, "schema": CHALLENGE_SCHEMA},
}
# For servers without structured outputs; the prompt itself asks for JSON, as JSON mode requires.
JSON_OBJECT_FORMAT: dict[str, Any] = {"type": "json_object"}
# The blind second check's answer (quality/blind_check.py), in the same two formats.
CHECK_SCHEMA_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": CHECK_SCHEMA_NAME, "strict": True, "schema": CHECK_SCHEMA},
}

# The language versions questions are written against, so "what does this print" has one answer.
# {python}, {javascript} and {sql} are the versions the sandbox runs (quality/sandbox.py), filled in
# per prompt: the model is told what checks its key, never another.
TOPIC_VERSIONS: dict[str, str] = {
    Topic.PYTHON: "{python}",
    Topic.JAVASCRIPT: "JavaScript as run by {javascript}, as a CommonJS script (require, no top-level await)",
    Topic.SQL: "{sql}; code for a query gives its CREATE TABLE and INSERT statements first, then the query",
    Topic.ALGORITHMS: "{python} for any code",
    Topic.DATA_STRUCTURES: "{python} for any code",
    Topic.WEB: "HTTP semantics as in RFC 9110, current browsers, and {python} or JavaScript on {javascript} for any code",
    Topic.GIT: "Git 2.4x (2.40 or later)",
    Topic.SYSTEM_DESIGN: "{python} for any code",
}
# Where the sandbox cannot run a language here, nothing checks its keys; the model is still told one
# version.
DEFAULT_VERSIONS = {"javascript": "Node.js 20", "sql": "SQLite 3"}
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


class UpstreamError(GenerationError):
    """A GenerationError for an error the server answered; `upstream_message` is a trimmed, one-line
    copy of the server's own message, for the log."""

    def __init__(
        self, message: str, *, cause: str, upstream_request_id: str = "", upstream_message: str = ""
    ) -> None:
        super().__init__(message, cause=cause, upstream_request_id=upstream_request_id)
        self.upstream_message = upstream_message


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

    def blind_check(self, draft: ChallengeDraft, *, topic: str) -> CheckOutcome:
        """Ask the check model (OPENAI_CHECK_MODEL, else OPENAI_MODEL) to answer the draft without
        its key, the options in another order (quality/blind_check.py). Raises GenerationError
        (cause `check_failed` and the request's own cause in the log) when no answer came."""
        model = settings.OPENAI_CHECK_MODEL or settings.OPENAI_MODEL
        order = check_order()
        context = f"Assume {_topic_versions(topic)}."
        try:
            completion = _complete_with_fallback(
                messages=check_messages(draft, order, context=context),
                model=model,
                formats=(CHECK_SCHEMA_FORMAT, JSON_OBJECT_FORMAT),
            )
        except GenerationError as error:
            raise GenerationError(
                CHECK_FAILED, cause="check_failed", upstream_request_id=error.upstream_request_id
            ) from error
        except Exception as error:
            logger.exception("Unexpected error in the blind check")
            raise GenerationError(CHECK_FAILED, cause="check_failed") from error
        return CheckOutcome(
            picked=check_answer_read(completion.content, draft, order),
            model_name=completion.model_name,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )


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
        f"Assume {_topic_versions(topic)}.",
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
        "- Write the real content, with no placeholder text left to fill in. The title names the "
        "question's subject, not just the topic.",
        '- "explanation" says why the correct answer is right and why the most tempting distractor is wrong.',
        '- "answer_kind" is "output" when the correct option is exactly what the code prints on '
        'standard output, or, when it raises, the traceback\'s last line ("ExcType: message"); '
        '"concept" otherwise. CodeDrill runs Python, JavaScript and SQL code to check the key either way.',
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
        "options, correct_index, explanation and answer_kind.",
    ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]


def _topic_versions(topic: str) -> str:
    """The language versions a question on `topic` assumes: the writer and the checker are told
    the same, and it is what the sandbox runs."""
    versions = {
        **DEFAULT_VERSIONS,
        "python": f"Python {sandbox_python_version()}",
        **sandbox_language_versions(),
    }
    return TOPIC_VERSIONS[Topic(topic)].format(**versions)


def _recent_titles(titles: tuple[str, ...]) -> list[str]:
    cleaned = []
    for title in titles[:MAX_RECENT_TITLES]:
        # One line each, bounded: an earlier model answer must not reshape this prompt.
        flat = " ".join(str(title).split())[:MAX_RECENT_TITLE_CHARS]
        if flat:
            cleaned.append(flat)
    return cleaned


def _generate(*, messages: list[dict[str, str]]) -> GeneratedChallenge:
    completion = _complete_with_fallback(
        messages=messages, model=settings.OPENAI_MODEL, formats=(JSON_SCHEMA_FORMAT, JSON_OBJECT_FORMAT)
    )
    try:
        draft = challenge_draft_parse(completion.content)
    except InvalidModelOutput as error:
        raise InvalidModelOutput(
            INVALID_ANSWER.format(reason=error.message), upstream_request_id=completion.request_id
        ) from error
    return GeneratedChallenge(
        draft=draft,
        provider=PROVIDER_NAME,
        source_key=content_key(
            question=draft.question, code=draft.code, language=draft.language, options=draft.options
        ),
        model_name=completion.model_name,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        total_tokens=completion.total_tokens,
    )


def _complete_with_fallback(
    *, messages: list[dict[str, str]], model: str, formats: tuple[dict[str, Any], dict[str, Any]]
) -> _Completion:
    """One completion from `model`, asked with formats[0] (a json_schema) and, if the server
    refuses that, with formats[1] (json_object)."""
    try:
        client = _client()
        server = (_base_url(), model)
        first, second = _formats_in_order(server, formats)
        try:
            budget_check()
            return _complete(client=client, messages=messages, response_format=first, model=model)
        except openai.APIStatusError as error:
            if not _names_response_format(error):
                raise
            _remember_format(server, second, schema_format=formats[0])
            logger.info(
                "response_format %s refused by %s model=%s; asking with %s, and asking this server "
                "and model with %s first from now on. HTTP %s: %s",
                first["type"],
                server[0],
                server[1],
                second["type"],
                second["type"],
                error.status_code,
                _server_message(error),
            )
            # The two calls share the one transient retry. The SDK's exception does not say
            # whether the rejection came on a retry, but the request it sent numbers the attempt.
            if error.response.request.headers.get("x-stainless-retry-count", "0") != "0":
                client = client.with_options(max_retries=0)
            budget_check()
            try:
                return _complete(client=client, messages=messages, response_format=second, model=model)
            except openai.APIStatusError as second_error:
                if not _names_response_format(second_error):
                    raise
                raise UpstreamError(
                    UNSUPPORTED_FORMAT,
                    cause="unsupported_format",
                    upstream_request_id=_request_id(second_error),
                    upstream_message=_server_message(second_error),
                ) from second_error
    except openai.OpenAIError as error:
        raise _generation_error(error) from error


# The response format each (base URL, model) did not refuse, when it is not json_schema: per
# process, so a restart tries json_schema again (a server may have been upgraded).
_remembered_formats: dict[tuple[str, str], dict[str, Any]] = {}
_remembered_formats_lock = threading.Lock()


def _formats_in_order(
    server: tuple[str, str], formats: tuple[dict[str, Any], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    with _remembered_formats_lock:
        remembered = _remembered_formats.get(server)
    if remembered == JSON_OBJECT_FORMAT:
        return formats[1], formats[0]
    return formats


def _remember_format(
    server: tuple[str, str], response_format: dict[str, Any], *, schema_format: dict[str, Any]
) -> None:
    with _remembered_formats_lock:
        if response_format == schema_format:
            _remembered_formats.pop(server, None)
        else:
            _remembered_formats[server] = response_format


def _complete(
    *, client: openai.OpenAI, messages: list[dict[str, str]], response_format: dict[str, Any], model: str
) -> _Completion:
    # with_raw_response gives us the headers, hence the request id, even for an answer we reject.
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        response_format=response_format,  # type: ignore[arg-type]
        **token_cap_arguments(str(client.base_url), settings.OPENAI_MAX_TOKENS),
    )
    request_id = raw.request_id or ""
    try:
        return _read_completion(response=raw.parse(), request_id=request_id, model=model)
    except (AttributeError, TypeError, IndexError, ValueError) as error:
        # A 200 that is not a chat completion: an HTML page from a proxy, a half-compatible server.
        raise InvalidModelOutput(UNREADABLE_ANSWER, upstream_request_id=request_id) from error


def token_cap_arguments(base_url: str, tokens: int) -> dict[str, int]:
    """The token cap in the form the server at `base_url` honours (see the module docstring)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host in OPENAI_API_HOSTS or host.endswith(OPENAI_API_HOST_SUFFIXES):
        return {"max_completion_tokens": tokens}
    return {"max_tokens": tokens}


def _read_completion(*, response: Any, request_id: str, model: str) -> _Completion:
    choice = response.choices[0]
    if choice.finish_reason == "length":
        raise GenerationError(TRUNCATED, cause="truncated", upstream_request_id=request_id)
    if choice.message.refusal or choice.finish_reason == "content_filter":
        raise GenerationError(REFUSED, cause="refusal", upstream_request_id=request_id)
    content = choice.message.content
    if content is None or (isinstance(content, str) and not content.strip()):
        raise InvalidModelOutput(EMPTY_ANSWER, upstream_request_id=request_id)
    usage = getattr(response, "usage", None)
    model_name = response.model if isinstance(response.model, str) and response.model else model
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


def _names_response_format(error: openai.APIStatusError) -> bool:
    """The server refused the response format we asked for: a 422, a 400 that names it, or a 5xx
    that names it (llama-cpp-python's server answers json_schema with a 500 "Input should be
    'text' or 'json_object'")."""
    if isinstance(error, openai.UnprocessableEntityError):
        return True
    if not (isinstance(error, openai.BadRequestError) or error.status_code >= 500):
        return False
    return _mentions_response_format(" ".join(str(part) for part in (error.message, error.param, error.body)))


def _mentions_response_format(said: str) -> bool:
    said = said.lower()
    return any(word in said for word in RESPONSE_FORMAT_WORDS)


def _server_message(error: openai.APIStatusError) -> str:
    """The server's own error message, on one line and trimmed, for the log."""
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    elif isinstance(body, str):
        message = body
    else:
        message = error.message
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(message)).split())
    if len(flat) > MAX_LOGGED_SERVER_MESSAGE_CHARS:
        flat = flat[: MAX_LOGGED_SERVER_MESSAGE_CHARS - 1] + "…"
    return flat


def _generation_error(error: openai.OpenAIError) -> GenerationError:
    """The learner-readable GenerationError for an SDK exception."""
    request_id = _request_id(error)
    if isinstance(error, openai.APITimeoutError):  # before APIConnectionError: it is a subclass
        # Our budget ran out (its cap on the request's timeouts fired), or OPENAI_TIMEOUT did.
        return budget_error() if budget_spent() else GenerationError(TIMED_OUT, cause="timeout")
    if isinstance(error, openai.APIConnectionError):
        return GenerationError(CONNECTION_FAILED, cause="connection")
    if isinstance(error, openai.APIStatusError):
        cause, message = _status_cause(error)
        return UpstreamError(
            message, cause=cause, upstream_request_id=request_id, upstream_message=_server_message(error)
        )
    if isinstance(error, openai.APIError):  # e.g. APIResponseValidationError: a 200 we cannot read
        return InvalidModelOutput(UNREADABLE_ANSWER, upstream_request_id=request_id)
    # What is left is raised before any request: missing credentials and other client set-up.
    return GenerationError(NOT_CONFIGURED, cause="auth")


def _status_cause(error: openai.APIStatusError) -> tuple[str, str]:
    if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return "auth", AUTH_FAILED
    if isinstance(error, openai.RateLimitError):
        return "rate_limit", RATE_LIMITED
    if error.status_code >= 500:
        return "upstream_5xx", UPSTREAM_FAILED
    return "bad_request", BAD_REQUEST


def _request_id(error: openai.OpenAIError) -> str:
    request_id = getattr(error, "request_id", None)
    if request_id:
        return str(request_id)
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    return str(headers.get("x-request-id") or "") if headers is not None else ""


def _retry_policy(response: httpx2.Response) -> None:
    """An HTTP response hook: mark an error that a retry cannot mend as not to be retried.

    The SDK retries every 429 and 5xx and waits for any Retry-After up to two minutes, with no
    setting for either; a learner waiting on a web request should be told "try again later"
    instead, and a server that refuses our response format refuses it again. The SDK does honour
    a server's `x-should-retry: false`, so this hook (httpx's public event hooks) adds that header
    to a 429 asking for a long wait or saying the account is out of credit, and to a 5xx whose
    message names the response format (the fallback to json_object follows at once).
    """
    status = response.status_code
    if (status != 429 and status < 500) or "x-should-retry" in response.headers:
        return
    if status == 429:
        retry_after = _retry_after_seconds(response.headers)
        response.read()
        if (retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS) or _error_code(
            response
        ) == "insufficient_quota":
            response.headers["x-should-retry"] = "false"
        return
    response.read()
    if _mentions_response_format(response.text[:MAX_ERROR_BODY_CHARS]):
        response.headers["x-should-retry"] = "false"


def _within_budget(request: httpx2.Request) -> None:
    """An HTTP request hook: cap the request's timeouts by the time left in the generation's
    budget (generation/budget.py), so the SDK's retry cannot outlive it either; once it is spent,
    the request is not sent at all. httpx reads the timeouts from the request's documented
    "timeout" extension, which is what this rewrites."""
    left = budget_seconds_left()
    if left is None:
        return
    if left <= 0:
        raise openai.APITimeoutError(request=request)
    timeouts = request.extensions.get("timeout") or {}
    capped = {
        name: left if timeouts.get(name) is None else min(timeouts[name], left)
        for name in ("connect", "read", "write", "pool")
    }
    request.extensions = {**request.extensions, "timeout": capped}


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
        # `chat.completions` is where the SDK imports its chat resources: on first use, not on import.
        _client().chat.completions  # noqa: B018


def _base_url() -> str:
    # Read here rather than left to the SDK, so an empty variable means the default, not "".
    return os.environ.get("OPENAI_BASE_URL", "").strip() or DEFAULT_BASE_URL


def _client() -> openai.OpenAI:
    global _cached_client
    api_key = settings.OPENAI_API_KEY
    if not api_key:
        raise GenerationError(NOT_CONFIGURED, cause="auth")
    base_url = _base_url()
    key = (api_key, base_url, float(settings.OPENAI_TIMEOUT))
    with _client_lock:
        if _cached_client is None or _cached_client[0] != key:
            client = openai.OpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=key[2],
                max_retries=MAX_RETRIES,
                http_client=openai.DefaultHttpxClient(
                    event_hooks={"request": [_within_budget], "response": [_retry_policy]}
                ),
            )
            _cached_client = (key, client)
        return _cached_client[1]


def structured_answer(
    *, messages: list[dict[str, str]], schema_name: str, schema: dict[str, Any]
) -> _Completion:
    """One completion from OPENAI_MODEL under a strict JSON schema of another capability's (coding
    problems: coding/model_problems.py), with the same transport, retry, budget and json_object
    fallback as a challenge; every failure a GenerationError. The content is for the caller to
    parse and validate."""
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": schema_name, "strict": True, "schema": schema},
    }
    try:
        return _complete_with_fallback(
            messages=messages, model=settings.OPENAI_MODEL, formats=(schema_format, JSON_OBJECT_FORMAT)
        )
    except GenerationError:
        raise
    except Exception as error:  # the boundary, as in OpenAIProvider.generate
        logger.exception("Unexpected error in an OpenAI structured answer")
        raise GenerationError(UNREADABLE_ANSWER, cause="invalid_output") from error
