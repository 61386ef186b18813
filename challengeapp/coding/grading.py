"""Grading a learner's code: the harness for the problem's language (coding/harness.py for
Python, coding/js_harness.py for JavaScript) runs it in the sandbox on the tests' arguments, the
server compares what it returned with the expected values, and the submission is stored. Run,
Submit and the verification of generated and curated problems all go through `suite_grade`. Never run in this process, never outside the sandbox: without one, nothing runs.

Bounds: CODE_MAX_SUBMISSION_BYTES per submission; per learner, the runs in flight and per day
(coding/allowance.py); per process, CODE_MAX_RUNS runs at once, a run waiting up to
CODE_QUEUE_SECONDS for a turn. The bound is its own, not the one the challenge checks and the
verification of generated coding problems share (SANDBOX_MAX_RUNS), so learners' endless loops
cannot hold up generations.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from challengeapp.coding.allowance import RunRefused, run_end, run_start
from challengeapp.coding.harness import (
    ACTUAL_MAX_CHARS,
    arguments_value,
    harness_program,
    harness_read,
    literal_equal,
    literal_value,
)
from challengeapp.coding.js_harness import (
    UNDEFINED,
    js_harness_program,
    json_arguments,
    json_equal,
    json_value,
)
from challengeapp.coding.review import code_problem_ended
from challengeapp.core.slots import machine_slot_acquire, machine_slot_release, process_slots
from challengeapp.models import CodeLanguage, CodeProblem, CodeSubmission, SubmissionKind
from challengeapp.quality.sandbox import (
    CPU_SECONDS,
    WALL_SECONDS,
    SandboxUnavailable,
    SnippetOutcome,
    snippet_run,
)

logger = logging.getLogger("challengeapp.coding")

CODE_EMPTY = "Write some code first."
CODE_TOO_LARGE = "Your code is longer than {limit} bytes. Shorten it and try again."
CODE_NOT_TEXT = "Your code contains a character that cannot be run (a NUL byte)."
SANDBOX_BUSY = "CodeDrill is running a lot of code right now. Try again in a few seconds."
PROGRAM_TOO_LARGE = "Your code and the tests together are too large to run. Shorten your code."
SANDBOX_OFF = "Code cannot be run on this server right now, so nothing was run or counted."

WRONG_VALUE = "Returned {actual}, which is not the expected value."
NOT_COMPARABLE = "Returned a value that cannot be compared with the expected one."
NOT_REACHED = "Not run: {reason}"
RUN_MESSAGES = {
    SnippetOutcome.TIMED_OUT: "Your code ran too long (more than {cpu:g} s of CPU or {wall:g} s in all), so it was stopped.",
    SnippetOutcome.OUT_OF_MEMORY: "Your code used too much memory, so it was stopped.",
    SnippetOutcome.OUTPUT_TOO_LARGE: "Your code printed too much, so it was stopped.",
    SnippetOutcome.CRASHED: "Your code ended the run before every test had run ({how}).",
}
SPOOFED = "The run printed results that were not the grader's, so it counts as failed."
UNREADABLE = "The run ended without reporting its results, so it counts as failed."


@dataclass(frozen=True)
class GradedTest:
    visible: bool
    passed: bool
    actual: str
    error: str

    def as_json(self) -> dict:
        return {"visible": self.visible, "passed": self.passed, "actual": self.actual, "error": self.error}


class SubmissionRefused(RunRefused):
    """The submission itself is unacceptable (empty, too large): 422."""

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=422)


def submission_check(code: object) -> str:
    """The code as submitted, or SubmissionRefused saying what is wrong with it."""
    if not isinstance(code, str) or not code.strip():
        raise SubmissionRefused(CODE_EMPTY)
    if "\x00" in code:
        raise SubmissionRefused(CODE_NOT_TEXT)
    limit = settings.CODE_MAX_SUBMISSION_BYTES
    try:
        size = len(code.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate from a JSON body
        raise SubmissionRefused(CODE_NOT_TEXT) from None
    if size > limit:
        raise SubmissionRefused(CODE_TOO_LARGE.format(limit=limit))
    return code.replace("\r\n", "\n")


def submission_grade(*, user, problem: CodeProblem, code: object, kind: str) -> CodeSubmission:
    """Run the learner's code on the problem's examples (`run`) or every test (`submit`) and store
    the submission. Raises SubmissionRefused for unacceptable code, RunRefused past a bound or
    without a sandbox (nothing stored, nothing counted)."""
    code = submission_check(code)
    if kind not in SubmissionKind.values:
        raise SubmissionRefused("Choose Run or Submit.")
    tests = list(problem.examples)
    visible = len(tests)
    if kind == SubmissionKind.SUBMIT:
        tests += list(problem.hidden_tests)
    run_start(user=user)
    counted = False
    try:
        graded, message, output = suite_grade(
            code=code,
            function_name=problem.function_name,
            tests=tests,
            visible=visible,
            language=problem.language,
        )
        counted = True
    finally:
        run_end(user=user, counted=counted)
    tests_passed = sum(test.passed for test in graded)
    submission = CodeSubmission.objects.create(
        problem=problem,
        code=code,
        kind=kind,
        passed=tests_passed == len(graded) and not message,
        tests_passed=tests_passed,
        tests_total=len(graded),
        results=[test.as_json() for test in graded],
        message=message,
        output=output,
    )
    if submission.passed and kind == SubmissionKind.SUBMIT:
        # The problem, or its open review round, ends here: history, progress and the schedule.
        code_problem_ended(problem=problem, solved=True)
    return submission


def suite_grade(
    *,
    code: str,
    function_name: str,
    tests: list[dict],
    visible: int | None = None,
    language: str = CodeLanguage.PYTHON,
    learners_code: bool = True,
) -> tuple[list[GradedTest], str, str]:
    """Run `code` (in `language`) on `tests` in the sandbox (within the process's bound on runs)
    and grade each: the graded tests, a message about the run as a whole ("" when it ran to the
    end), and the code's own output. RunRefused when the sandbox is busy past the queue's wait
    or missing (or cannot run the language).

    The bound: a learner's code waits for one of CODE_MAX_RUNS turns (CODE_QUEUE_SECONDS); a
    generated problem's code (`learners_code=False`: the model's reference, starter and wrong
    solution) for one of the SANDBOX_MAX_RUNS turns the challenges' checks take
    (SANDBOX_QUEUE_SECONDS), so learners' endless loops never hold up a generation."""
    visible = len(tests) if visible is None else visible
    if language == CodeLanguage.JAVASCRIPT:
        program, mark = js_harness_program(
            code=code,
            function_name=function_name,
            test_arguments=[json_arguments(test["args"]) for test in tests],
        )
    else:
        arguments = [repr(arguments_value(test["args"])) for test in tests]
        program, mark = harness_program(code=code, function_name=function_name, test_arguments=arguments)
    if learners_code:
        slots, wait = process_slots("code runs", settings.CODE_MAX_RUNS), settings.CODE_QUEUE_SECONDS
    else:
        slots, wait = process_slots("sandbox runs", settings.SANDBOX_MAX_RUNS), settings.SANDBOX_QUEUE_SECONDS
    # Busy is 429, not 503: the server is up and says when to come back (Retry-After); a learner's
    # endless loops crowding the sandbox must never show as a server error (nor fill the log with
    # the ERROR line Django writes for every 5xx).
    busy = RunRefused(SANDBOX_BUSY, http_status=429, retry_after=max(1, math.ceil(wait)))
    deadline = time.monotonic() + wait
    if not slots.acquire(timeout=wait):
        raise busy
    try:
        with _machine_turn(learners_code, timeout=deadline - time.monotonic()) as turn:
            if not turn:
                raise busy
            run = snippet_run(code=program, language=language)
    except SandboxUnavailable:
        raise RunRefused(SANDBOX_OFF, http_status=503) from None
    except ValueError:  # the program with this code and these tests is over the sandbox's cap
        raise RunRefused(PROGRAM_TOO_LARGE, http_status=422) from None
    finally:
        slots.release()
    report = harness_read(run.stdout, mark=mark, tests=len(tests))
    message = ""
    if report.spoofed:
        message = SPOOFED
    elif report.load_error:
        message = report.load_error
    elif not run.ok:
        message = RUN_MESSAGES.get(run.outcome, RUN_MESSAGES[SnippetOutcome.CRASHED]).format(
            cpu=CPU_SECONDS, wall=WALL_SECONDS, how=_how_it_ended(run.exit_code)
        )
    elif not report.finished:
        message = UNREADABLE
    graded = []
    for index, test in enumerate(tests):
        result = None if report.spoofed else report.per_test[index]
        graded.append(_graded(test, result, visible=index < visible, message=message, language=language))
    return graded, message, report.output


@contextmanager
def _machine_turn(learners_code: bool, *, timeout: float) -> Iterator[bool]:
    """A learner's run also waits, within the same queue time, for one of the machine's
    CODE_MAX_RUNS_MACHINE turns (every process's learners' runs together); a generated problem's
    check does not. Whether the turn was had."""
    if not learners_code:
        yield True
        return
    try:
        slot = machine_slot_acquire(
            "code-run",
            settings.CODE_MAX_RUNS_MACHINE,
            directory=settings.CODE_RUN_SLOTS_DIR,
            timeout=max(0.0, timeout),
        )
    except OSError as error:  # the directory is unusable (the system check says so too)
        logger.error("code run refused: CODE_RUN_SLOTS_DIR unusable: %s", error)
        raise RunRefused(SANDBOX_OFF, http_status=503) from None
    try:
        yield slot is not None
    finally:
        if slot is not None:
            machine_slot_release(slot)


def _how_it_ended(exit_code: int | None) -> str:
    if exit_code is not None and exit_code > 128:
        return f"killed by signal {exit_code - 128}"
    return f"exit status {exit_code}"


def _graded(test: dict, result: dict | None, *, visible: bool, message: str, language: str) -> GradedTest:
    if result is None:
        return GradedTest(visible, False, "", NOT_REACHED.format(reason=message or UNREADABLE))
    if "error" in result:
        return GradedTest(visible, False, "", str(result["error"]))
    actual = str(result.get("actual", ""))[:ACTUAL_MAX_CHARS]
    try:
        if language == CodeLanguage.JAVASCRIPT:
            # `undefined` is what the function returned, and equal to no JSON value.
            passed = actual != UNDEFINED and json_equal(json_value(actual), json_value(test["expected"]))
        else:
            passed = literal_equal(literal_value(actual), literal_value(test["expected"]))
    except ValueError:
        return GradedTest(visible, False, actual, NOT_COMPARABLE)
    return GradedTest(visible, passed, actual, "" if passed else WRONG_VALUE.format(actual=actual))
