"""Turn a model's raw answer into a ChallengeDraft, whatever the model said.

Model output is untrusted input. Models wrap JSON in markdown fences, add
prose before and after, emit several objects, or stop half-way; a hostile or broken upstream can
send anything at all. `challenge_draft_parse` recovers the first valid challenge object from such
text and raises InvalidModelOutput, and nothing else, for everything it cannot use. Its cost is
bounded: a size limit before any work, a cheap nesting check before any decoding, and a fixed
number of places where decoding is tried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from challengeapp.core.drafts import ChallengeDraft, challenge_draft_validate
from challengeapp.core.errors import InvalidModelOutput

# The largest answer we look at. A valid challenge holds at most about 10,000 characters of field
# text (see the limits in drafts.py); this leaves room for JSON syntax, escaping and some prose
# without letting a runaway model make us scan megabytes.
MAX_OUTPUT_CHARS = 20_000

# A challenge object nests two levels deep (the object and its options). Code in a string adds
# brackets, but never dozens of unclosed ones. Far below Python's recursion limit, so the decoder
# never gets near it on ordinary input (see _nesting_depth for the adversarial case).
MAX_NESTING_DEPTH = 64

# How many '{' or '[' positions we try to decode from. Each try costs at most one pass over the
# text in C, so the worst case is linear in the text size times this small constant.
MAX_CANDIDATES = 64

NOT_TEXT = "The model's answer is not text."
EMPTY_OUTPUT = "The model's answer is empty."
TOO_LONG = "The model's answer is longer than {limit:,} characters."
OUTPUT_TOO_LONG = TOO_LONG.format(limit=MAX_OUTPUT_CHARS)
TOO_DEEP = "The model's answer is nested too deeply to be a {kind}."
NESTED_TOO_DEEPLY = TOO_DEEP.format(kind="challenge")
NO_JSON_OBJECT = "The model's answer contains no JSON object."
A_LIST = "The model's answer is a JSON list, not a single {kind}."
ARRAY_NOT_OBJECT = A_LIST.format(kind="challenge")
NOT_VALID_UNICODE = "The model's answer contains text that is not valid Unicode."
UNREADABLE = "The model's answer could not be read."

T = TypeVar("T")

_CANDIDATE_START = re.compile(r"[{\[]")
_BRACKETS = re.compile(r"[{}\[\]]")
_DECODER = json.JSONDecoder()


def challenge_draft_parse(text: object) -> ChallengeDraft:
    """Return the first valid challenge object found in `text`.

    Accepts JSON on its own, inside markdown fences, or surrounded by prose; skips objects that
    are not valid challenges. A JSON list is never looked into: a list is not a challenge, even
    when it holds one. Raises InvalidModelOutput (only) when no valid challenge is found, with
    the reason for the first object that was rejected, if any.
    """
    return first_valid_object(text, _validated)


def first_valid_object(
    text: object,
    validate: Callable[[dict[str, Any]], T],
    *,
    max_chars: int = MAX_OUTPUT_CHARS,
    kind: str = "challenge",
) -> T:
    """What `validate` makes of the first JSON object in `text` it accepts (it raises
    InvalidModelOutput for one it does not), found as challenge_draft_parse finds a challenge:
    on its own, fenced or among prose, never inside a list; `text` at most `max_chars` long; the
    messages call the object a `kind`. InvalidModelOutput, and nothing else, otherwise. The coding
    problems' parser uses it too."""
    if not isinstance(text, str):
        raise InvalidModelOutput(NOT_TEXT)
    try:
        return _parse(text, validate, max_chars, kind)
    except InvalidModelOutput:
        raise
    except Exception as error:
        # The contract is "InvalidModelOutput or a draft", for any input. Nothing below is known to
        # raise anything else; this keeps an unforeseen decoder or str-subclass quirk from
        # becoming a 500 page.
        raise InvalidModelOutput(UNREADABLE) from error


def _parse(text: str, validate: Callable[[dict[str, Any]], T], max_chars: int, kind: str) -> T:
    if len(text) > max_chars:
        raise InvalidModelOutput(TOO_LONG.format(limit=max_chars))
    if not text.strip():
        raise InvalidModelOutput(EMPTY_OUTPUT)
    if _nesting_depth(text) > MAX_NESTING_DEPTH:
        raise InvalidModelOutput(TOO_DEEP.format(kind=kind))
    return _first_valid_object(text, validate, kind)


def _nesting_depth(text: str) -> int:
    """The deepest run of unclosed brackets, counting brackets inside strings too.

    Counting without knowing where strings are is deliberate: prose around the JSON makes string
    boundaries unknowable before decoding. It over-counts (code with unbalanced brackets) far more
    often than it under-counts; the rare under-count (closing brackets inside strings) is still
    caught by the RecursionError guard in `_decode_at`.
    """
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "{[":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING_DEPTH:
                break
        elif depth:
            depth -= 1
    return deepest


def _first_valid_object(text: str, validate: Callable[[dict[str, Any]], T], kind: str) -> T:
    first_rejection: InvalidModelOutput | None = None
    position = 0
    for _ in range(MAX_CANDIDATES):
        match = _CANDIDATE_START.search(text, position)
        if match is None:
            break
        start = match.start()
        decoded = _decode_at(text, start)
        if decoded is None:
            # Not JSON from here (a stray brace in prose): try the next bracket.
            position = start + 1
            continue
        value, end = decoded
        if isinstance(value, list) and _is_preamble(text[:start]):
            # The answer *is* a list: not a challenge, whatever it holds.
            raise InvalidModelOutput(A_LIST.format(kind=kind))
        # Skip the whole decoded value: a list's items (a "[1]" in prose, say) and an object's
        # nested values are never taken for the challenge itself.
        position = end
        if not isinstance(value, dict):
            continue
        try:
            return validate(value)
        except InvalidModelOutput as rejection:
            first_rejection = first_rejection or rejection
    if first_rejection is not None:
        raise first_rejection
    raise InvalidModelOutput(NO_JSON_OBJECT)


def _is_preamble(text: str) -> bool:
    """Whether `text` is nothing but whitespace and the opening of a markdown fence."""
    return text.strip().strip("`").strip().lower() in {"", "json"}


def _decode_at(text: str, start: int) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, start)
    # ValueError covers JSONDecodeError and integers longer than Python's digit limit;
    # RecursionError covers nesting hidden from _nesting_depth by brackets inside strings.
    except (ValueError, RecursionError):
        return None


def _validated(value: dict[str, Any]) -> ChallengeDraft:
    draft = challenge_draft_validate(value)
    # JSON escapes can spell lone surrogates ("\ud800"): valid Python strings that cannot be
    # encoded as UTF-8, so they would fail later, in the database or the response.
    texts = (draft.title, draft.question, draft.code, draft.language, draft.explanation, *draft.options)
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidModelOutput(NOT_VALID_UNICODE) from None
    return draft
