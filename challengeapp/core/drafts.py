"""ChallengeDraft: a challenge as a provider proposes it, and the one validator every draft passes.

The same validator checks the built-in bank (in the test suite), the procedural generators and
model output, so "valid" means one thing everywhere. It never raises anything but
InvalidModelOutput, whatever it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from challengeapp.core.errors import InvalidModelOutput

OPTION_COUNT = 4

# Limits per field, in characters. Generous for real questions, small enough that a runaway model
# cannot fill the database or a page. Documented in README.md ("Limits on model output").
MAX_TITLE_CHARS = 120
MAX_QUESTION_CHARS = 2000
MAX_CODE_CHARS = 4000
MAX_CODE_LINES = 80
MAX_LANGUAGE_CHARS = 30
MAX_OPTION_CHARS = 300
MAX_EXPLANATION_CHARS = 2500

# Code languages we highlight; anything else is shown as plain text.
KNOWN_LANGUAGES = frozenset(
    {
        "python",
        "javascript",
        "typescript",
        "sql",
        "bash",
        "shell",
        "text",
        "http",
        "json",
        "yaml",
        "nginx",
        "java",
        "go",
        "rust",
        "c",
        "cpp",
        "csharp",
        "html",
        "css",
        "ruby",
    }
)
LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "sh": "bash",
    "console": "bash",
    "plaintext": "text",
    "txt": "text",
    "postgresql": "sql",
    "postgres": "sql",
    "c++": "cpp",
    "c#": "csharp",
    "yml": "yaml",
}

MISSING_FIELD = "The model's answer has no {field}."
BLANK_FIELD = "The model's answer has an empty {field}."
FIELD_NOT_TEXT = "The model's answer has a {field} that is not text."
FIELD_TOO_LONG = "The model's answer has a {field} longer than {limit} characters."
NOT_AN_OBJECT = "The model's answer is not a JSON object."
WRONG_OPTION_COUNT = "The model's answer must have exactly 4 options."
OPTION_NOT_TEXT = "Every option must be non-empty text."
DUPLICATE_OPTIONS = "The model's answer repeats an option."
BAD_CORRECT_INDEX = "The model's answer marks no valid option (correct index must be 0 to 3)."
CODE_TOO_MANY_LINES = f"The model's code snippet is longer than {MAX_CODE_LINES} lines."


@dataclass(frozen=True)
class ChallengeDraft:
    title: str
    question: str
    code: str
    language: str
    options: tuple[str, str, str, str]
    correct_index: int
    explanation: str
    # "output": the correct option is exactly what the code prints (checked by running it, see
    # quality/verification.py); "concept": anything else. Absent or unknown counts as "concept".
    answer_kind: str = "concept"

    @property
    def correct_option(self) -> str:
        return self.options[self.correct_index]


def normalize_question(question: str) -> str:
    """The form of a question used to spot repeats: case-folded, whitespace collapsed."""
    return " ".join(question.casefold().split())


def _text(data: Mapping[str, Any], field: str, limit: int, *, required: bool) -> str:
    value = data.get(field)
    if value is None:
        if required:
            raise InvalidModelOutput(MISSING_FIELD.format(field=field))
        return ""
    if not isinstance(value, str):
        raise InvalidModelOutput(FIELD_NOT_TEXT.format(field=field))
    # NUL bytes cannot be stored by PostgreSQL and mean nothing in a question.
    value = value.replace("\x00", "")
    if field == "code":
        value = value.strip("\n").rstrip()
    else:
        value = value.strip()
    if required and not value:
        raise InvalidModelOutput(BLANK_FIELD.format(field=field))
    if len(value) > limit:
        raise InvalidModelOutput(FIELD_TOO_LONG.format(field=field, limit=limit))
    return value


def _correct_index(value: Any) -> int:
    # bool is an int subclass and 1.0 is a float: both are refused, as the schema says "integer".
    if isinstance(value, bool):
        raise InvalidModelOutput(BAD_CORRECT_INDEX)
    if isinstance(value, str):
        stripped = value.strip()
        if len(stripped) == 1 and stripped in "0123":
            return int(stripped)
        raise InvalidModelOutput(BAD_CORRECT_INDEX)
    if not isinstance(value, int) or not 0 <= value < OPTION_COUNT:
        raise InvalidModelOutput(BAD_CORRECT_INDEX)
    return value


def _language(value: Any, code: str) -> str:
    if not code:
        return ""
    if not isinstance(value, str):
        return "text"
    name = value.strip().lower()[:MAX_LANGUAGE_CHARS]
    name = LANGUAGE_ALIASES.get(name, name)
    return name if name in KNOWN_LANGUAGES else "text"


def challenge_draft_validate(data: Any) -> ChallengeDraft:
    """Check a decoded JSON value against the challenge rules and return a clean draft.

    Accepts `correct_index` (or the alias `correct_answer_id`) as an int or a one-digit string;
    ignores unknown fields; strips surrounding whitespace. Raises InvalidModelOutput otherwise.
    """
    if not isinstance(data, Mapping):
        raise InvalidModelOutput(NOT_AN_OBJECT)
    title = _text(data, "title", MAX_TITLE_CHARS, required=True)
    question = _text(data, "question", MAX_QUESTION_CHARS, required=True)
    code = _text(data, "code", MAX_CODE_CHARS, required=False)
    if code.count("\n") >= MAX_CODE_LINES:
        raise InvalidModelOutput(CODE_TOO_MANY_LINES)
    explanation = _text(data, "explanation", MAX_EXPLANATION_CHARS, required=True)

    options = data.get("options")
    if not isinstance(options, (list, tuple)) or len(options) != OPTION_COUNT:
        raise InvalidModelOutput(WRONG_OPTION_COUNT)
    cleaned: list[str] = []
    for option in options:
        if not isinstance(option, str):
            raise InvalidModelOutput(OPTION_NOT_TEXT)
        option = option.replace("\x00", "").strip()
        if not option:
            raise InvalidModelOutput(OPTION_NOT_TEXT)
        if len(option) > MAX_OPTION_CHARS:
            raise InvalidModelOutput(FIELD_TOO_LONG.format(field="option", limit=MAX_OPTION_CHARS))
        cleaned.append(option)
    # The same option twice: spacing aside, but not case, which can be the whole point of a code
    # question ("True" in Python, "true" in JavaScript; "ZüRICH" against "ZÜRICH"). Prose options
    # that differ only in case are the content gate's near_duplicate_options.
    if len({" ".join(option.split()) for option in cleaned}) != OPTION_COUNT:
        raise InvalidModelOutput(DUPLICATE_OPTIONS)

    raw_index = data.get("correct_index", data.get("correct_answer_id"))
    if raw_index is None:
        raise InvalidModelOutput(MISSING_FIELD.format(field="correct_index"))

    return ChallengeDraft(
        title=title,
        question=question,
        code=code,
        language=_language(data.get("language"), code),
        options=(cleaned[0], cleaned[1], cleaned[2], cleaned[3]),
        correct_index=_correct_index(raw_index),
        explanation=explanation,
        answer_kind="output" if data.get("answer_kind") == "output" else "concept",
    )
