"""Checking a "what does this print?" key by running the code, before anyone sees the question.

A draft whose `answer_kind` is "output" claims its correct option is exactly what its Python
snippet prints. The snippet runs in the sandbox (quality/sandbox.py; never anywhere else), and:
- it printed the marked option: the challenge is stored as verified ("executed");
- it printed another option: the draft is refused with cause `key_mismatch` (its explanation argued
  for the wrong answer), and generation asks the model once more;
- it printed no option, crashed, ran too long, needed too much memory or printed too much: the
  draft is refused with the matching cause;
- no sandbox here: nothing runs, and the challenge is served as "unverified" (a system check says
  why). Concept questions, and code in other languages, are "unverified" too.
Output and options are compared with trailing whitespace stripped from each line and from the end.
"""

from __future__ import annotations

from django.conf import settings

from challengeapp.core.drafts import ChallengeDraft
from challengeapp.core.errors import GenerationError
from challengeapp.core.slots import process_slots
from challengeapp.models import Verification
from challengeapp.quality.sandbox import SandboxUnavailable, SnippetOutcome, snippet_run

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


class KeyRefused(GenerationError):
    """Running the draft's code refuted its key (or could not confirm it)."""


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).rstrip()


def draft_verify(draft: ChallengeDraft, *, answer_kind: str) -> str:
    """The draft's verification, "executed" or "unverified"; raises KeyRefused when running its
    code refutes its key (the rules in the module docstring)."""
    runnable = (
        answer_kind == ANSWER_KIND_OUTPUT
        and draft.code.strip()
        and draft.language.strip().lower() in RUNNABLE_LANGUAGES
    )
    if not runnable:
        return Verification.UNVERIFIED
    # At most SANDBOX_MAX_RUNS snippets at once per process: each may take 512 MB and seconds.
    slots = process_slots("sandbox runs", settings.SANDBOX_MAX_RUNS)
    if not slots.acquire(timeout=settings.SANDBOX_QUEUE_SECONDS):
        raise KeyRefused(SANDBOX_BUSY, cause="sandbox_busy")
    try:
        run = snippet_run(code=draft.code, language="python")
    except SandboxUnavailable:
        return Verification.UNVERIFIED  # fail closed: never run elsewhere; served as unverified
    finally:
        slots.release()
    if run.outcome is not SnippetOutcome.OK:
        cause, message = _REFUSALS[run.outcome]
        raise KeyRefused(message, cause=cause)
    printed = _normalized(run.stdout)
    options = [_normalized(option) for option in draft.options]
    if options[draft.correct_index] == printed:
        return Verification.EXECUTED
    if printed in options:
        raise KeyRefused(KEY_MISMATCH, cause="key_mismatch")
    raise KeyRefused(NO_MATCHING_OPTION, cause="output_matches_no_option")
