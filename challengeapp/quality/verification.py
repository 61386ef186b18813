"""Checking a model's key by running its code, before anyone sees the question.

Whatever the model calls its question (`answer_kind` "output" or "concept"), a draft whose code is
Python, JavaScript or SQL runs in the sandbox (quality/sandbox.py: Python, Node.js, and SQLite
through Python's sqlite3; never anywhere else), and what ran decides. The one exception: a draft
not labelled "output" whose options are all sentences about the code (five words or more, opening
like a sentence: "It prints a new list and leaves the original unchanged") would hardly match a
run, so it is served "unverified" without paying for one (about 20 ms of CPU, which a storm of
generations on two cores feels: docs/FIGURES.md).

- What ran is the snippet's output (trailing whitespace stripped from each line and from the end)
  or, when it crashes, its exception: the traceback's last line, "ExcType: message" (Node: the
  uncaught error as `String(error)`, the sandbox's last line of stderr). An option matches a crash
  when it is what was printed followed by that line, or else that line (also with the type's
  module path dropped, as in "JSONDecodeError: ..."); and, only when no option carries the
  message, when it names the exception's type alone ("TypeError", "It raises a TypeError."). The
  most specific match wins.
- JavaScript's logged values also match as models write them: `[2, 4, 6]` for Node's
  `[ 2, 4, 6 ]`, double quotes for single ones.
- Then, output laid out otherwise matches: spacing, line breaks and commas count as one separator
  ("[1,2,3]" for "[1, 2, 3]", "1, 2, 3" for three printed lines). Only when nothing matched
  exactly: options equal but for spacing are the content gate's duplicate_options.
- Last, an option that says what ran in a phrase matches it too: "It prints `6`.", "Output: 6",
  "The output is 6", "It raises ValueError: bad" (the phrase, code marks and a final period off).
- SQL: the sandbox runs the statements on an in-memory SQLite database and returns the last
  result; an option matches it written as a value ("3"), a column ("Ada, Grace"), rows of cells
  ("Ada | 2" lines, "Ada, 2"), tuples ("('Ada', 2), ('Grace', 0)"); then cell by cell (quotes,
  NULL/None, 2.0/2 alike), in any row order when the query has no ORDER BY, or as the number of
  rows when the question asks how many. A failing statement's error matches as "Error: <message>",
  "OperationalError: <message>" or the message alone.
- A key is confirmed only when exactly one option matches what ran: that option is the key, and the
  challenge is stored as verified ("executed"); another option is the key: refused with cause
  `key_mismatch` (its explanation argued for the wrong answer), and generation asks once more.
- A Python snippet that printed nothing (a question about a value, "What is `list(d)` after these
  lines run?"): the one backticked expression the question names is evaluated after the snippet,
  when it parses as a Python expression and uses a name the snippet binds, and its value (repr or
  str) counts as what ran. When there is no such expression, or its value matches no option, the
  key cannot be checked: served "unverified", never refused.
- No single option matches: a Python draft that says "output" is refused
  (`output_matches_no_option`, `code_crashed`, or the limit it passed: `code_timed_out`,
  `code_out_of_memory`, `code_output_too_large`); any other is left "unverified" (a concept
  question's code may print or raise something beside the point; JavaScript's and SQL's results
  are matched by how they are usually written, not to the character), for the blind second check
  (quality/blind_check.py) to confirm or refuse.
- No sandbox here, or not for this language: nothing runs, and the key is "unverified" (a system
  check says why). Code in other languages, and questions without code, are "unverified" too. When
  the sandbox is busy past SANDBOX_QUEUE_SECONDS an "output" draft is refused (`sandbox_busy`) and
  any other is left "unverified", as it was before concept questions were run.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from challengeapp.core.drafts import ChallengeDraft
from challengeapp.core.errors import GenerationError
from challengeapp.core.slots import process_slots
from challengeapp.models import Verification
from challengeapp.quality.sandbox import SandboxUnavailable, SnippetOutcome, SnippetRun, snippet_run

ANSWER_KIND_OUTPUT = "output"
ANSWER_KIND_CONCEPT = "concept"
# The languages the sandbox runs (as core/drafts.py names them): Python, JavaScript on Node.js, SQL
# on SQLite (quality/sandbox.py).
PYTHON, JAVASCRIPT, SQL = "python", "javascript", "sql"
RUNNABLE_LANGUAGES = frozenset({PYTHON, JAVASCRIPT, SQL})
_LANGUAGE_NAMES = {"python3": PYTHON, "py": PYTHON, "js": JAVASCRIPT, "node": JAVASCRIPT, "sqlite": SQL}

KEY_MISMATCH = "The model's marked answer is not what its code prints. Please try again."
NO_MATCHING_OPTION = "None of the model's options is what its code prints. Please try again."
CODE_FAILED = "The model's code does not run as the question says. Please try again."
SANDBOX_BUSY = "CodeDrill is busy checking other challenges. Please try again in a few seconds."

_REFUSALS = {
    SnippetOutcome.CRASHED: ("code_crashed", CODE_FAILED),
    SnippetOutcome.TIMED_OUT: ("code_timed_out", CODE_FAILED),
    SnippetOutcome.OUT_OF_MEMORY: ("code_out_of_memory", CODE_FAILED),
    SnippetOutcome.OUTPUT_TOO_LARGE: ("code_output_too_large", CODE_FAILED),
}
# A run that ended on its own: what it printed, or the exception it crashed with, can be compared.
# A run stopped at a limit showed only part of what it would have.
_COMPARABLE = frozenset({SnippetOutcome.OK, SnippetOutcome.CRASHED})

# The last line of a traceback: a (dotted) type name, then ": message" unless the message is empty.
_EXCEPTION_LINE = re.compile(r"(?P<type>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:: (?P<message>.*))?")
# Without the "Traceback" header (cut from a long traceback's tail, or absent for a SyntaxError),
# a last line is taken for an exception only when its type is named like one; otherwise a line
# the snippet itself wrote to stderr before `sys.exit(1)` could pass for an exception.
_EXCEPTION_TYPE_ENDINGS = ("Error", "Exception", "Exit", "Interrupt", "Warning", "Iteration", "Group")
_TRACEBACK_HEADER = "Traceback (most recent call last):"
# How an option may name the exception's type alone ({type}): "TypeError", "It raises a TypeError".
_EXCEPTION_PHRASES = (
    "{type}",
    "{type} is raised",
    "a {type} is raised",
    "an {type} is raised",
    "raises {type}",
    "raises a {type}",
    "raises an {type}",
    "it raises {type}",
    "it raises a {type}",
    "it raises an {type}",
)
# A backticked span in the question: the expression a value question names.
_BACKTICKED = re.compile(r"`([^`\n]+)`")
# Between the repr and the str of an evaluated value (ASCII's record separator).
_VALUE_SEPARATOR = "\x1e"


class KeyRefused(GenerationError):
    """Running the draft's code refuted its key (or could not confirm it)."""


def _exact(option: str) -> str:
    return option


def _phrase(option: str) -> str:
    """An option read as a phrase (an exception's type named in words): no case, no final period."""
    return option.removesuffix(".").casefold()


@dataclass(frozen=True)
class _Tier:
    """Texts an option matches once put in `form` (the tier's texts are already in it)."""

    texts: frozenset[str]
    form: Callable[[str], str | None] = _exact


@dataclass(frozen=True)
class _WhatRan:
    """What a run showed, as tiers of texts an option may equal to match it, most specific first:
    an option matching an earlier tier wins over any matching only a later one."""

    tiers: tuple[_Tier, ...]

    def matching_options(self, options: list[str]) -> set[int]:
        for tier in self.tiers:
            matches = {index for index, option in enumerate(options) if tier.form(option) in tier.texts}
            if matches:
                return matches
        return set()


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).rstrip()


def draft_verify(draft: ChallengeDraft, *, answer_kind: str) -> str:
    """The draft's verification, "executed" or "unverified"; raises KeyRefused when running its
    code refutes its key (the rules in the module docstring)."""
    language = draft.language.strip().lower()
    language = _LANGUAGE_NAMES.get(language, language)
    if not draft.code.strip() or language not in RUNNABLE_LANGUAGES:
        return Verification.UNVERIFIED
    claims_output = answer_kind == ANSWER_KIND_OUTPUT
    if not claims_output and not any(_could_be_output(option) for option in draft.options):
        # Every option describes behaviour in a sentence ("It prints a new sorted list and leaves
        # the original unchanged"): no run could match one, so none is paid for (a run costs about
        # 20 ms of CPU; in a storm of generations that is what the other requests wait behind).
        return Verification.UNVERIFIED
    run = _run(draft.code, language=language, claims_output=claims_output)
    if run is None:
        return Verification.UNVERIFIED  # fail closed: never run elsewhere; served as unverified
    options = [_normalized(option) for option in draft.options]
    matches = set()
    if run.outcome in _COMPARABLE:
        if language == SQL:
            what_ran = _sql_what_ran(run, draft)
        else:
            what_ran = _what_ran(run, last_line_is_error=language == JAVASCRIPT)
        matches = what_ran.matching_options(options)
    if language == PYTHON and not matches and run.ok and not run.stdout.strip():
        # Nothing printed: perhaps a question about a value. Evaluate the expression it names.
        value_run = _value_run(draft, claims_output=claims_output)
        if value_run is not None and value_run.ok:
            matches = _value_forms(value_run.stdout).matching_options(options)
        if len(matches) != 1:
            return Verification.UNVERIFIED  # the key cannot be checked: serve it, don't refuse
    if len(matches) == 1:
        if draft.correct_index in matches:
            return Verification.EXECUTED
        raise KeyRefused(KEY_MISMATCH, cause="key_mismatch")
    if not claims_output or language != PYTHON:
        # A concept question's code may print or raise something beside the point. JavaScript's
        # and SQL's results are matched by how they are usually written, not to the character:
        # what matches no option is left to the blind check (quality/blind_check.py).
        return Verification.UNVERIFIED
    if run.outcome is not SnippetOutcome.OK:
        cause, message = _REFUSALS[run.outcome]
        raise KeyRefused(message, cause=cause)
    raise KeyRefused(NO_MATCHING_OPTION, cause="output_matches_no_option")


# A sentence about the code rather than something it could print: five words or more, opening like
# a sentence (a capital letter, then a small one: "It prints ...", "The list ...").
_SENTENCE_WORDS = 5
_SENTENCE_OPENING = re.compile(r"[A-Z][a-z]")


def _could_be_output(option: str) -> bool:
    """Whether an option could be what a snippet prints or raises, rather than a sentence that
    describes what it does ("It prints the list sorted in place and returns None")."""
    text = option.strip()
    return len(text.split()) < _SENTENCE_WORDS or not _SENTENCE_OPENING.match(text)


def _run(code: str, *, language: str = PYTHON, claims_output: bool) -> SnippetRun | None:
    """The snippet's run in the sandbox; None when it cannot run here (no sandbox, or no turn for
    a draft that does not claim to be an output question)."""
    # At most SANDBOX_MAX_RUNS snippets at once per process: each may take 512 MB and seconds.
    slots = process_slots("sandbox runs", settings.SANDBOX_MAX_RUNS)
    if not slots.acquire(timeout=settings.SANDBOX_QUEUE_SECONDS):
        if not claims_output:
            return None  # not refused: a concept question was never held back for a turn
        raise KeyRefused(SANDBOX_BUSY, cause="sandbox_busy")
    try:
        return snippet_run(code=code, language=language)
    except SandboxUnavailable:
        return None
    except ValueError:
        return None  # over the sandbox's size limit: cannot be checked
    finally:
        slots.release()


def _what_ran(run: SnippetRun, *, last_line_is_error: bool = False) -> _WhatRan:
    """What a Python or JavaScript run showed. Node's uncaught error is its stderr's last line by
    construction (the sandbox writes it so), whatever the error's class is named; JavaScript's
    printed values also match as models write them (loose tier: spacing inside brackets, quotes).
    Last, an option that says what ran in a phrase ("It prints `6`.", "Output: 6", "It raises
    ZeroDivisionError: division by zero") matches it too."""
    printed = _normalized(run.stdout)
    if run.ok:
        tiers = [_Tier(frozenset({printed}))]
        if last_line_is_error:
            tiers.append(_Tier(frozenset({_js_loose(printed)}), _js_loose))
        # Laid out otherwise: "[1,2,3]" for "[1, 2, 3]", "1, 2, 3" for three printed lines.
        tiers.append(_Tier(frozenset({_layout(printed)}), _layout))
        tiers.append(_Tier(_without_period({printed}), _said))
        if last_line_is_error:
            tiers.append(
                _Tier(_without_period({_js_loose(printed)}), lambda option: _js_loose(_said(option)))
            )
        return _WhatRan(tuple(tiers))
    exception = _exception_line(run.stderr_tail, trusted=last_line_is_error)
    if exception is None:
        return _WhatRan(())
    full_type, message = exception
    short_type = full_type.rsplit(".", 1)[-1]
    lines = {f"{name}: {message}" if message else name for name in (full_type, short_type)}
    with_output = {f"{printed}\n{line}" for line in lines} if printed else set()
    # The type alone only when no option carries the message (the earlier tier found nothing),
    # also as models phrase it: "It raises a TypeError." Compared without case and a final period.
    named = {
        phrase.format(type=name).casefold()
        for name in (full_type, short_type)
        for phrase in _EXCEPTION_PHRASES
    }
    # What was printed and then the error is more specific than the error alone.
    return _WhatRan(
        (
            _Tier(frozenset(with_output)),
            _Tier(frozenset(lines)),
            _Tier(_without_period(lines), _said),
            _Tier(frozenset(named), _phrase),
        )
    )


# How an option may say what ran in a phrase: "It prints `6`.", "Prints: 6", "Output: 6", "The
# output is 6", "It raises ValueError: bad". What follows is compared with what ran.
_SAID = re.compile(
    r"^(?:(?:it|this|the\s+(?:code|program|snippet|script))\s+)?(?:(?:will|would)\s+)?"
    r"(?:prints?|outputs?|logs?|displays?|raises?|throws?)\s*:?\s+"
    r"|^(?:the\s+)?(?:output|result)(?:\s+is)?\s*:\s*|^(?:the\s+)?(?:output|result)\s+is\s+",
    re.IGNORECASE,
)


def _said(option: str) -> str:
    """The value an option states in a phrase, without the phrase, code marks or a final period."""
    text = _SAID.sub("", option.strip(), count=1).strip()
    if text.endswith("`."):
        text = text[:-1]
    if len(text) >= 2 and text.startswith("`") and text.endswith("`"):
        text = text.strip("`").strip()
    return text.removesuffix(".")


_LAYOUT = re.compile(r"[\s,]+")


def _layout(text: str) -> str:
    """Text with its spacing, line breaks and commas all one separator."""
    return " ".join(_LAYOUT.split(text.strip()))


def _without_period(texts: set[str]) -> frozenset[str]:
    return frozenset(text.removesuffix(".") for text in texts)


def _exception_line(stderr_tail: str, *, trusted: bool = False) -> tuple[str, str] | None:
    """The exception a crash ended with, as (type, message), from its traceback's last line
    (`trusted`: the last line is the error whatever its type is called)."""
    lines = [line for line in stderr_tail.splitlines() if line.strip()]
    if not lines:
        return None
    found = _EXCEPTION_LINE.fullmatch(lines[-1].rstrip())
    if found is None:
        return None
    if (
        not trusted
        and _TRACEBACK_HEADER not in stderr_tail
        and not found["type"].endswith(_EXCEPTION_TYPE_ENDINGS)
    ):
        return None
    return found["type"], (found["message"] or "").rstrip()


def _named_expression(draft: ChallengeDraft) -> str | None:
    """The one backticked Python expression the question names that reads a name the snippet
    binds ("What is `list(d)` after these lines run?"), or None. Only one: with two, which is asked
    for is a guess. Reading a bound name keeps out backticked keywords or literals (`None`) that
    are not what is asked."""
    try:
        snippet = ast.parse(draft.code)
    except (SyntaxError, ValueError):
        return None
    bound = set()
    for node in ast.walk(snippet):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
    candidates = []
    for span in _BACKTICKED.findall(draft.question):
        try:
            expression = ast.parse(span.strip(), mode="eval")
        except (SyntaxError, ValueError):
            continue
        reads = {
            node.id
            for node in ast.walk(expression)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        if reads & bound:
            candidates.append(span.strip())
    return candidates[0] if len(set(candidates)) == 1 else None


def _value_run(draft: ChallengeDraft, *, claims_output: bool) -> SnippetRun | None:
    """The snippet run again with the value of the expression its question names written after it:
    its repr, the separator, its str."""
    expression = _named_expression(draft)
    if expression is None:
        return None
    code = (
        f"{draft.code.rstrip()}\n"
        f"import sys as _codedrill_sys\n"
        f"_codedrill_value = ({expression})\n"
        f"_codedrill_sys.stdout.write(repr(_codedrill_value) + {_VALUE_SEPARATOR!r} + str(_codedrill_value))\n"
    )
    return _run(code, claims_output=claims_output)


def _value_forms(stdout: str) -> _WhatRan:
    """A value is written as Python shows it (repr: "['b', 'a']", "'abc'") or as print shows it
    (str: "abc"); either counts."""
    shown_as_repr, _, shown_as_str = stdout.partition(_VALUE_SEPARATOR)
    return _WhatRan((_Tier(frozenset({_normalized(shown_as_repr), _normalized(shown_as_str)})),))


# --- JavaScript ---------------------------------------------------------------------------------

_JS_BRACKET_SPACE = re.compile(r"([\[{(])\s+|\s+([\]})])")
_JS_COMMA_SPACE = re.compile(r"\s*,\s*")


def _js_loose(text: str) -> str:
    """Node's console.log of a value as models write it: `[ 1, 2 ]` as `[1, 2]`, `{ a: 1 }` as
    `{a: 1}`, 'single' or "double" quotes alike."""
    text = _JS_BRACKET_SPACE.sub(lambda found: found[1] or found[2], _normalized(text))
    return _JS_COMMA_SPACE.sub(", ", text).replace('"', "'")


# --- SQL ------------------------------------------------------------------------------------------
#
# The sandbox prints the last statement's result as JSON ({"columns": [...], "rows": [[...]]}).
# Models write a result in several ways: one value ("3"), one column as a list ("Alice, Bob"), rows
# of cells ("Alice | 30" lines, "Alice, 30"), tuples ("(1, 'Alice'), (2, 'Bob')"). Tiers, most
# exact first: the result rendered in each of those ways; then cell by cell (quotes, NULL/None,
# 2.0/2 alike); then, when the query has no ORDER BY, the rows in any order; then, when the
# question asks how many rows, their number.

_NULL_WORDS = frozenset({"null", "none", "nil"})
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_HOW_MANY_ROWS = re.compile(r"\bhow\s+many\s+rows\b", re.IGNORECASE)
_TUPLE_SPLIT = re.compile(r"\)\s*,\s*\(")


def _sql_cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _sql_renderings(columns: list, rows: list[list]) -> frozenset[str]:
    cells = [[_sql_cell(value) for value in row] for row in rows]
    renderings = set()
    for separator in (" | ", "|", ", ", "\t"):
        renderings.add("\n".join(separator.join(row) for row in cells))
    if len(columns) == 1:
        column = [row[0] for row in cells]
        renderings |= {", ".join(column), " ".join(column)}
    python_rows = [tuple(row) for row in rows]
    renderings |= {repr(python_rows), repr(python_rows)[1:-1]}
    return frozenset(_normalized(text) for text in renderings if text)


def _sql_grid_cell(text: str) -> str:
    text = text.strip().strip("`").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if text.casefold() in _NULL_WORDS:
        return "NULL"
    try:
        number = float(text)
    except ValueError:
        return text
    return repr(int(number)) if number.is_integer() and math.isfinite(number) else repr(number)


def _sql_grid(option: str, *, one_column: bool, ordered: bool = True) -> str | None:
    """An option read as a result grid, in one canonical form; None when it reads as no grid."""
    text = _normalized(option).strip()
    if not text:
        return None
    if "\n" in text:
        rows = text.split("\n")
    elif text.startswith("(") and text.endswith(")"):
        rows = _TUPLE_SPLIT.split(text[1:-1])
    else:
        rows = [text]
    grid = []
    for row in rows:
        row = row.strip().strip("[]()").strip()
        cells = row.split("|") if "|" in row else row.split(",")
        grid.append(tuple(_sql_grid_cell(cell) for cell in cells))
    if one_column:
        grid = [(cell,) for row in grid for cell in row]
    if not ordered:
        grid.sort()
    return json.dumps(grid)


def _sql_result_grid(rows: list[list], *, ordered: bool = True) -> str:
    grid = [tuple(_sql_grid_cell(_sql_cell(value)) for value in row) for row in rows]
    if not ordered:
        grid.sort()
    return json.dumps(grid)


def _sql_what_ran(run: SnippetRun, draft: ChallengeDraft) -> _WhatRan:
    if not run.ok:
        return _sql_error(run.stderr_tail)
    try:
        result = json.loads(run.stdout)
        columns, rows = list(result["columns"]), [list(row) for row in result["rows"]]
    except (ValueError, KeyError, TypeError):
        return _WhatRan(())
    one_column = len(columns) == 1
    tiers = [
        _Tier(_sql_renderings(columns, rows)),
        _Tier(frozenset({_sql_result_grid(rows)}), lambda option: _sql_grid(option, one_column=one_column)),
    ]
    if not _ORDER_BY.search(draft.code):
        tiers.append(
            _Tier(
                frozenset({_sql_result_grid(rows, ordered=False)}),
                lambda option: _sql_grid(option, one_column=one_column, ordered=False),
            )
        )
    if _HOW_MANY_ROWS.search(draft.question):
        tiers.append(_Tier(frozenset({str(len(rows))})))
    return _WhatRan(tuple(tiers))


def _sql_error(stderr_tail: str) -> _WhatRan:
    """A failing statement: the sqlite3 exception's line, as Python or as SQLite's shell writes it
    ("OperationalError: no such column: x", "Error: no such column: x", "no such column: x")."""
    exception = _exception_line(stderr_tail)
    if exception is None or not exception[1]:
        return _WhatRan(())
    full_type, message = exception
    short_type = full_type.rsplit(".", 1)[-1]
    forms = {
        f"{name}: {message}" for name in (full_type, short_type, "Error", "Parse error", "Runtime error")
    }
    return _WhatRan((_Tier(frozenset(forms | {message})),))
