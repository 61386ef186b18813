"""Checking a model's key by running its Python code, before anyone sees the question.

Whatever the model calls its question (`answer_kind` "output" or "concept"), a draft with a Python
snippet runs in the sandbox (quality/sandbox.py; never anywhere else), and what ran decides. The one
exception: a draft not labelled "output" whose options are all sentences about the code (five words
or more, opening like a sentence: "It prints a new list and leaves the original unchanged") would
hardly match a run, so it is served "unverified" without paying for one (about 20 ms of CPU, which
a storm of generations on two cores feels: docs/FIGURES.md).

- What ran is the snippet's output (trailing whitespace stripped from each line and from the end)
  or, when it crashes, its exception: the traceback's last line, "ExcType: message". An option
  matches a crash when it is that line (also with the type's module path dropped, as in
  "JSONDecodeError: ..."), or stdout followed by that line; and, only when no option carries the
  message, when it names the exception's type alone ("TypeError", "It raises a TypeError."). The
  most specific match wins: an option with the message is preferred to one with the type alone.
- A key is confirmed only when exactly one option matches what ran: that option is the key, and the
  challenge is stored as verified ("executed"); another option is the key: refused with cause
  `key_mismatch` (its explanation argued for the wrong answer), and generation asks once more.
- A snippet that printed nothing (a question about a value, "What is `list(d)` after these lines
  run?"): the one backticked expression the question names is evaluated after the snippet, when it
  parses as a Python expression and uses a name the snippet binds, and its value (repr or str)
  counts as what ran. When there is no such expression, or its value matches no option, the key
  cannot be checked: served "unverified", never refused.
- No single option matches: a draft that says "output" is refused (`output_matches_no_option`,
  `code_crashed`, or the limit it passed: `code_timed_out`, `code_out_of_memory`,
  `code_output_too_large`); any other is served "unverified", since a concept question's code may
  print or raise something beside the point.
- No sandbox here: nothing runs, and the challenge is served as "unverified" (a system check says
  why). Code in other languages, and questions without code, are "unverified" too. When the
  sandbox is busy past SANDBOX_QUEUE_SECONDS an "output" draft is refused (`sandbox_busy`) and any
  other is served "unverified", as it was before concept questions were run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from django.conf import settings

from challengeapp.core.drafts import ChallengeDraft
from challengeapp.core.errors import GenerationError
from challengeapp.core.slots import process_slots
from challengeapp.models import Verification
from challengeapp.quality.sandbox import SandboxUnavailable, SnippetOutcome, SnippetRun, snippet_run

ANSWER_KIND_OUTPUT = "output"
ANSWER_KIND_CONCEPT = "concept"
RUNNABLE_LANGUAGES = frozenset({"python", "python3", "py"})

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


@dataclass(frozen=True)
class _WhatRan:
    """What a run showed, as the texts an option may equal to match it, most specific first: an
    option matching an earlier tier wins over any matching only a later one."""

    tiers: tuple[frozenset[str], ...]
    # Tiers (by position) whose texts are casefolded, compared with options casefolded and without
    # a final period: phrasings of an exception's type, never exact output.
    loose_tiers: frozenset[int] = frozenset()

    def matching_options(self, options: list[str]) -> set[int]:
        for position, tier in enumerate(self.tiers):
            loose = position in self.loose_tiers
            matches = {
                index
                for index, option in enumerate(options)
                if (option.removesuffix(".").casefold() if loose else option) in tier
            }
            if matches:
                return matches
        return set()


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).rstrip()


def draft_verify(draft: ChallengeDraft, *, answer_kind: str) -> str:
    """The draft's verification, "executed" or "unverified"; raises KeyRefused when running its
    code refutes its key (the rules in the module docstring)."""
    runnable = draft.code.strip() and draft.language.strip().lower() in RUNNABLE_LANGUAGES
    if not runnable:
        return Verification.UNVERIFIED
    claims_output = answer_kind == ANSWER_KIND_OUTPUT
    if not claims_output and not any(_could_be_output(option) for option in draft.options):
        # Every option describes behaviour in a sentence ("It prints a new sorted list and leaves
        # the original unchanged"): no run could match one, so none is paid for (a run costs about
        # 20 ms of CPU; in a storm of generations that is what the other requests wait behind).
        return Verification.UNVERIFIED
    run = _run(draft.code, claims_output=claims_output)
    if run is None:
        return Verification.UNVERIFIED  # fail closed: never run elsewhere; served as unverified
    options = [_normalized(option) for option in draft.options]
    matches = _what_ran(run).matching_options(options) if run.outcome in _COMPARABLE else set()
    if not matches and run.ok and not run.stdout.strip():
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
    if not claims_output:
        # A concept question's code may print or raise something beside the point.
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


def _run(code: str, *, claims_output: bool) -> SnippetRun | None:
    """The snippet's run in the sandbox; None when it cannot run here (no sandbox, or no turn for
    a draft that does not claim to be an output question)."""
    # At most SANDBOX_MAX_RUNS snippets at once per process: each may take 512 MB and seconds.
    slots = process_slots("sandbox runs", settings.SANDBOX_MAX_RUNS)
    if not slots.acquire(timeout=settings.SANDBOX_QUEUE_SECONDS):
        if not claims_output:
            return None  # not refused: a concept question was never held back for a turn
        raise KeyRefused(SANDBOX_BUSY, cause="sandbox_busy")
    try:
        return snippet_run(code=code, language="python")
    except SandboxUnavailable:
        return None
    except ValueError:
        return None  # over the sandbox's size limit: cannot be checked
    finally:
        slots.release()


def _what_ran(run: SnippetRun) -> _WhatRan:
    printed = _normalized(run.stdout)
    if run.ok:
        return _WhatRan((frozenset({printed}),))
    exception = _exception_line(run.stderr_tail)
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
    return _WhatRan((frozenset(lines | with_output), frozenset(named)), loose_tiers=frozenset({1}))


def _exception_line(stderr_tail: str) -> tuple[str, str] | None:
    """The exception a crash ended with, as (type, message), from its traceback's last line."""
    lines = [line for line in stderr_tail.splitlines() if line.strip()]
    if not lines:
        return None
    found = _EXCEPTION_LINE.fullmatch(lines[-1].rstrip())
    if found is None:
        return None
    if _TRACEBACK_HEADER not in stderr_tail and not found["type"].endswith(_EXCEPTION_TYPE_ENDINGS):
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
    return _WhatRan((frozenset({_normalized(shown_as_repr), _normalized(shown_as_str)}),))
