"""Grading learner code in the sandbox: right and wrong answers, and hostile submissions, each
ending in a clear failed result; the bounds on runs per learner and per process."""

from __future__ import annotations

import pytest
from django.conf import settings

from challengeapp.coding.allowance import RUNS_IN_FLIGHT, RUNS_PER_DAY, RunRefused, run_end, run_start
from challengeapp.coding.grading import (
    CODE_EMPTY,
    SANDBOX_BUSY,
    SPOOFED,
    SubmissionRefused,
    submission_grade,
    suite_grade,
)
from challengeapp.coding.problems import code_problem_create
from challengeapp.core.slots import machine_slot_acquire, machine_slot_release, process_slots
from challengeapp.models import CodeRunAllowance, CodeSubmission

TESTS = [
    {"args": "[1, 2, 3]", "expected": "6"},
    {"args": "[]", "expected": "0"},
    {"args": "[-5, 5, 7]", "expected": "7"},
]
RIGHT = "def total(numbers):\n    return sum(numbers)\n"


def grade(code: str):
    return suite_grade(code=code, function_name="total", tests=TESTS, visible=1)


def test_a_right_answer_passes_every_test_and_its_printed_output_is_kept(sandbox):
    graded, message, output = grade(
        "def total(numbers):\n    print('adding', numbers)\n    return sum(numbers)\n"
    )
    assert [test.passed for test in graded] == [True, True, True] and message == ""
    assert "adding [1, 2, 3]" in output
    assert [test.visible for test in graded] == [True, False, False]


def test_a_wrong_answer_says_what_it_returned_and_an_exception_says_which_line(sandbox):
    graded, message, _ = grade("def total(numbers):\n    return numbers[0]\n")
    assert (
        graded[0].passed is False and graded[0].actual == "1" and "not the expected value" in graded[0].error
    )
    assert graded[1].error == "IndexError: list index out of range (line 2)"


@pytest.mark.parametrize(
    ("returned", "expected", "passes"),
    [
        ("1", "True", False),
        ("0", "False", False),
        ("True", "1", False),
        ("[1, 0]", "[True, False]", False),
        ("{'ok': 1}", "{'ok': True}", False),
        ("{1, 2}", "{True, 2}", False),
        ("(1, 2)", "[1, 2]", False),
        ("2.0", "2", True),
        ("[True, 2.5]", "[True, 2.5]", True),
        ("{(1, True), 2}", "{2, (1.0, True)}", True),
    ],
)
def test_a_boolean_equals_only_a_boolean_and_numbers_compare_by_value(sandbox, returned, expected, passes):
    # Python's 1 == True would pass a function that answers a yes-or-no question with a count.
    graded, message, _ = suite_grade(
        code=f"def answer():\n    return {returned}\n",
        function_name="answer",
        tests=[{"args": "", "expected": expected}],
    )
    assert message == "" and graded[0].passed is passes


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("def total(numbers):\n    while True:\n        pass\n", "ran too long"),
        ("import os\ndef total(numbers):\n    os.fork()\n", "PermissionError"),
        ("def total(numbers):\n    x = bytearray(2**31)\n", "MemoryError"),
        ("import os\ndef total(numbers):\n    os.write(1, b'x' * 10**6)\n", "printed too much"),
        ("def total(numbers):\n    return open('/etc/passwd').read()\n", "FileNotFoundError"),
        ("def total(numbers):\n    open('/tmp/x', 'w')\n", "Error"),
        (
            "import socket\ndef total(numbers):\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n",
            "OSError",
        ),
        ("import os\ndef total(numbers):\n    os.abort()\n", "killed by signal"),
        (
            "import signal\ndef total(numbers):\n    signal.setitimer(signal.ITIMER_REAL, 0.01)\n    while True:\n        pass\n",
            "ran too long",
        ),
        ("import sys\ndef total(numbers):\n    sys.exit(0)\n", "SystemExit"),
        ("import os\ndef total(numbers):\n    os._exit(0)\n", "without reporting"),
        ("def total(numbers):\n    return total(numbers)\n", "RecursionError"),
        (
            "class Always:\n    def __eq__(self, other):\n        return True\ndef total(numbers):\n    return Always()\n",
            "cannot be compared",
        ),
        ("def total(numbers):\n    return 10 ** 5000\n", "Error"),
        ("def total(numbers:\n", "SyntaxError"),
    ],
    ids=[
        "endless loop",
        "fork",
        "memory",
        "huge output",
        "read a file",
        "write a file",
        "network",
        "abort",
        "alarm",
        "sys.exit",
        "os._exit",
        "recursion",
        "always equal",
        "huge value",
        "syntax",
    ],
)
def test_hostile_or_broken_code_ends_in_a_clear_failed_result(sandbox, code, said):
    graded, message, _ = grade(code)
    assert not any(test.passed for test in graded)
    assert said in message + " ".join(test.error for test in graded)


def test_printing_fake_results_cannot_pass_a_test(sandbox):
    fake = (
        "import json, os\n"
        "def total(numbers):\n"
        "    for i in range(3):\n"
        "        print('codedrill-result-0 ' + json.dumps({'test': i, 'actual': '6'}))\n"
        "    return -1\n"
    )
    graded, _, _ = grade(fake)
    assert not any(test.passed for test in graded)


def test_a_forged_result_line_with_the_runs_own_marker_fails_the_run(sandbox):
    # Code that finds the run's marker (it is in the grader's memory) and claims every test.
    forged = (
        "import json, os, sys\n"
        "def total(numbers):\n"
        "    mark = sys._getframe(1).f_globals['_MARK']\n"
        "    for i in range(3):\n"
        "        os.write(1, (mark + ' ' + json.dumps({'test': i, 'actual': '6'}) + '\\n').encode())\n"
        "    return 6\n"
    )
    graded, message, _ = grade(forged)
    assert message == SPOOFED and not any(test.passed for test in graded)
    # Forging and leaving at once: the lines claim values, which the server compares with the
    # expected ones the sandbox never saw.
    graded, _, _ = grade(forged.replace("    return 6\n", "    os._exit(0)\n"))
    assert [test.passed for test in graded] == [True, False, False]


@pytest.fixture
def problem(learner, db):
    return code_problem_create(user=learner, difficulty="easy", topic="python")


def test_a_submission_is_stored_with_its_results_and_a_run_checks_the_examples_only(
    sandbox, learner, problem
):
    run = submission_grade(user=learner, problem=problem, code=problem.reference_solution, kind="run")
    assert run.passed and run.tests_total == len(problem.examples)
    submitted = submission_grade(user=learner, problem=problem, code=problem.starter_code, kind="submit")
    assert not submitted.passed
    assert submitted.tests_total == len(problem.examples) + len(problem.hidden_tests)
    assert CodeSubmission.objects.filter(problem=problem).count() == 2
    assert CodeRunAllowance.objects.get(user=learner).runs == 2


@pytest.mark.parametrize("code", ["", "   \n", None, 42, "x\x00"])
def test_empty_or_unusable_code_is_refused_and_nothing_is_run(learner, problem, code):
    with pytest.raises(SubmissionRefused):
        submission_grade(user=learner, problem=problem, code=code, kind="submit")
    assert not CodeSubmission.objects.exists() and not CodeRunAllowance.objects.filter(runs__gt=0).exists()


def test_code_over_the_size_cap_is_refused(learner, problem, settings):
    settings.CODE_MAX_SUBMISSION_BYTES = 1000
    with pytest.raises(SubmissionRefused, match="longer than 1000 bytes"):
        submission_grade(user=learner, problem=problem, code="#" * 1001, kind="submit")
    assert CODE_EMPTY != ""


def test_runs_past_the_daily_bound_are_refused_with_429(sandbox, learner, problem, settings):
    settings.CODE_RUNS_PER_DAY = 1
    submission_grade(user=learner, problem=problem, code=problem.starter_code, kind="run")
    with pytest.raises(RunRefused) as refused:
        submission_grade(user=learner, problem=problem, code=problem.starter_code, kind="run")
    assert refused.value.http_status == 429 and refused.value.message == RUNS_PER_DAY.format(count=1)
    assert CodeSubmission.objects.count() == 1


def test_a_second_run_while_one_is_under_way_is_refused_and_the_slot_comes_back(
    learner, other_learner, settings
):
    settings.CODE_RUNS_IN_FLIGHT_PER_LEARNER = 1
    run_start(user=learner)
    with pytest.raises(RunRefused) as refused:
        run_start(user=learner)
    assert refused.value.message == RUNS_IN_FLIGHT.format(count=1)
    run_start(user=other_learner)  # another learner is not held up
    run_end(user=learner)
    run_start(user=learner)


def test_when_the_process_bound_is_full_a_run_is_refused_busy_and_not_counted(learner, problem, settings):
    settings.CODE_MAX_RUNS = 1
    settings.CODE_QUEUE_SECONDS = 0.05
    slots = process_slots("code runs", settings.CODE_MAX_RUNS)
    assert slots.acquire(blocking=False)
    try:
        with pytest.raises(RunRefused) as refused:
            submission_grade(user=learner, problem=problem, code=problem.starter_code, kind="submit")
    finally:
        slots.release()
    assert (refused.value.http_status, refused.value.message) == (429, SANDBOX_BUSY)
    allowance = CodeRunAllowance.objects.get(user=learner)
    assert (allowance.runs, allowance.in_flight) == (0, 0)
    assert settings.SANDBOX_MAX_RUNS >= 1  # the challenge checks' own bound is untouched


def test_the_machine_wide_bound_holds_across_processes_and_a_dead_holder_gives_its_turn_back(tmp_path):
    import subprocess
    import sys

    directory = str(tmp_path)
    mine = machine_slot_acquire("code-run", 2, directory=directory, timeout=0)
    assert mine is not None
    # Another process takes the other turn and dies holding it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from challengeapp.core.slots import machine_slot_acquire\n"
            f"assert machine_slot_acquire('code-run', 2, directory={directory!r}, timeout=0) is not None\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert machine_slot_acquire("code-run", 2, directory=directory, timeout=0.05) is None
    finally:
        holder.kill()
        holder.wait()
    theirs = machine_slot_acquire("code-run", 2, directory=directory, timeout=1)
    assert theirs is not None
    assert (
        machine_slot_acquire("code-run", 2, directory=directory, timeout=0) is None
    )  # a thread of mine, too
    machine_slot_release(mine)
    machine_slot_release(theirs)


def test_when_the_machine_bound_is_full_a_learners_run_is_refused_busy_but_a_problems_check_runs(
    sandbox, learner, problem, settings, tmp_path
):
    settings.CODE_MAX_RUNS_MACHINE = 1
    settings.CODE_RUN_SLOTS_DIR = str(tmp_path)
    settings.CODE_QUEUE_SECONDS = 0.1
    taken = machine_slot_acquire("code-run", 1, directory=str(tmp_path), timeout=0)  # another worker's run
    try:
        with pytest.raises(RunRefused) as refused:
            submission_grade(user=learner, problem=problem, code=problem.reference_solution, kind="submit")
        checked, message, _ = suite_grade(
            code=problem.reference_solution,
            function_name=problem.function_name,
            tests=list(problem.hidden_tests),
            language=problem.language,
            learners_code=False,
        )
    finally:
        machine_slot_release(taken)
    assert (refused.value.http_status, refused.value.message) == (429, SANDBOX_BUSY)
    allowance = CodeRunAllowance.objects.get(user=learner)
    assert (allowance.runs, allowance.in_flight) == (0, 0)
    assert message == "" and all(test.passed for test in checked)
    # With the turn back, the learner's run goes ahead.
    submission = submission_grade(
        user=learner, problem=problem, code=problem.reference_solution, kind="submit"
    )
    assert submission.passed


def test_an_unusable_slots_directory_refuses_runs_clearly_and_the_system_check_says_why(
    learner, problem, settings, tmp_path
):
    from challengeapp.checks import CODE_RUN_SLOTS_UNUSABLE_ID, code_run_slots_check
    from challengeapp.coding.grading import SANDBOX_OFF

    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    settings.CODE_RUN_SLOTS_DIR = str(not_a_directory / "slots")
    with pytest.raises(RunRefused) as refused:
        submission_grade(user=learner, problem=problem, code=problem.reference_solution, kind="run")
    assert (refused.value.http_status, refused.value.message) == (503, SANDBOX_OFF)
    allowance = CodeRunAllowance.objects.get(user=learner)
    assert (allowance.runs, allowance.in_flight) == (0, 0)
    (warning,) = code_run_slots_check(None)
    assert warning.id == CODE_RUN_SLOTS_UNUSABLE_ID and str(not_a_directory) in warning.msg
    settings.CODE_RUN_SLOTS_DIR = str(tmp_path / "slots")
    assert code_run_slots_check(None) == []


def test_a_submission_at_the_size_cap_still_runs_whatever_characters_it_holds(sandbox, learner, problem):
    padding = "\n" * 9000 + "# " + "\N{GRINNING FACE}" * 2500 + "\n"
    code = problem.reference_solution + padding
    assert len(code.encode("utf-8")) <= settings.CODE_MAX_SUBMISSION_BYTES
    submission = submission_grade(user=learner, problem=problem, code=code, kind="submit")
    assert submission.passed


def test_deleting_a_learner_deletes_their_problems_submissions_and_run_counts(sandbox, learner, problem):
    from challengeapp.identity.learners import learner_delete
    from challengeapp.models import CodeProblem

    submission_grade(user=learner, problem=problem, code=problem.starter_code, kind="run")
    assert learner_delete(clerk_id=learner.username)
    assert not CodeProblem.objects.exists() and not CodeSubmission.objects.exists()
    assert not CodeRunAllowance.objects.exists()
