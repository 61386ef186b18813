"""Grading JavaScript in the sandbox through the same path as Python: right and wrong answers,
JSON equality, Promises and `undefined`, and hostile submissions, each ending in a clear failed
result."""

from __future__ import annotations

import pytest

from challengeapp.coding.grading import SPOOFED, submission_grade, suite_grade
from challengeapp.coding.js_harness import json_arguments, json_equal, json_value
from challengeapp.coding.problems import code_problem_create
from challengeapp.models import CodeLanguage

TESTS = [
    {"args": "[1, 2, 3]", "expected": "6"},
    {"args": "[]", "expected": "0"},
    {"args": "[-5, 5, 7]", "expected": "7"},
]
RIGHT = "function total(numbers) {\n  return numbers.reduce((sum, n) => sum + n, 0);\n}\n"


def grade(code: str, tests=TESTS):
    return suite_grade(code=code, function_name="total", tests=tests, visible=1, language="javascript")


def test_a_right_answer_passes_and_its_console_output_is_kept(node_sandbox):
    graded, message, output = grade(
        "function total(numbers) {\n  console.log('adding', numbers);\n  return numbers.reduce((s, n) => s + n, 0);\n}\n"
    )
    assert [test.passed for test in graded] == [True, True, True] and message == ""
    assert "adding [ 1, 2, 3 ]" in output
    assert [test.visible for test in graded] == [True, False, False]


@pytest.mark.parametrize(
    "code",
    [
        RIGHT,
        "const total = (numbers) => numbers.reduce((s, n) => s + n, 0);\n",
        "let total = function (numbers) { return numbers.reduce((s, n) => s + n, 0); };\n",
        "module.exports = { total: (numbers) => numbers.reduce((s, n) => s + n, 0) };\n",
        "async function total(numbers) {\n  await null;\n  return numbers.reduce((s, n) => s + n, 0);\n}\n",
    ],
    ids=["declaration", "const arrow", "let expression", "module.exports", "async"],
)
def test_the_function_is_found_however_it_is_declared_and_a_promise_is_awaited(node_sandbox, code):
    graded, message, _ = grade(code)
    assert [test.passed for test in graded] == [True, True, True] and message == ""


def test_a_wrong_answer_says_what_it_returned_and_an_exception_says_which_line(node_sandbox):
    graded, message, _ = grade("function total(numbers) {\n  return numbers[0].value.length;\n}\n")
    assert message == "" and not any(test.passed for test in graded)
    assert graded[0].error == "TypeError: Cannot read properties of undefined (reading 'length') (line 2)"
    graded, _, _ = grade("function total(numbers) {\n  return numbers.length;\n}\n")
    assert graded[0].actual == "3" and "not the expected value" in graded[0].error


def test_undefined_is_shown_as_returned_and_equals_nothing(node_sandbox):
    graded, _, _ = grade("function total(numbers) {\n  // Your code here\n}\n")
    assert [(test.passed, test.actual) for test in graded] == [(False, "undefined")] * 3
    assert graded[0].error == "Returned undefined, which is not the expected value."
    graded, _, _ = grade("function total() { return [undefined]; }")
    assert "holds undefined" in graded[0].error and not graded[0].passed


@pytest.mark.parametrize(
    ("code", "expected", "passed"),
    [
        ("function total() { return 6.0; }", "6.0", True),
        ("function total() { return true; }", "1", False),
        ("function total() { return 1; }", "true", False),
        ("function total() { return 0; }", "false", False),
        ("function total() { return null; }", "0", False),
        (
            'function total() { return {b: [1, {c: null}], a: "x"}; }',
            '{"a": "x", "b": [1, {"c": null}]}',
            True,
        ),
        ("function total() { return [1, 2]; }", "[2, 1]", False),
        ("function total() { return {a: 1}; }", '{"a": 1, "b": 2}', False),
        ("function total() { return '1'; }", "1", False),
        ("function total() { return -0; }", "0", True),
    ],
)
def test_values_compare_as_javascripts_deep_equality_of_json(node_sandbox, code, expected, passed):
    graded, _, _ = grade(code, tests=[{"args": "", "expected": expected}])
    assert graded[0].passed is passed


def test_json_equality_on_the_server():
    assert json_equal(json_value("1"), json_value("1.0"))
    assert not json_equal(json_value("true"), json_value("1"))
    assert not json_equal(json_value("[true]"), json_value("[1]"))
    assert not json_equal(json_value("null"), json_value("false"))
    assert json_equal(json_value('{"a": [1, 2], "b": {}}'), json_value('{"b": {}, "a": [1.0, 2]}'))
    assert json_equal(json_value("9007199254740993"), json_value("9007199254740992"))  # doubles
    assert json_arguments('[1, 2], "a", null') == [[1, 2], "a", None]
    for text in ("NaN", "Infinity", "[1,]", "'a'", "undefined", "True"):
        with pytest.raises(ValueError):
            json_value(text)


def test_promises_rejected_or_never_settling_fail_their_test_and_the_next_tests_still_run(node_sandbox):
    graded, message, _ = grade(
        "function total(numbers) {\n"
        "  if (numbers.length === 3 && numbers[0] === 1) return new Promise(() => {});\n"
        "  if (numbers.length === 0) return Promise.reject(new RangeError('empty'));\n"
        "  return Promise.resolve(7);\n"
        "}\n"
    )
    assert message == ""
    assert graded[0].error == "Error: the returned Promise never settled"
    assert graded[1].error.startswith("RangeError: empty")
    assert graded[2].passed


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("function total() {\n  while (true) {}\n}\n", "ran too long"),
        ("function total() {\n  return new Promise(() => { while (true) {} });\n}\n", "ran too long"),
        ("function total() {\n  for (;;) console.log('x'.repeat(1000));\n}\n", "ran too long"),
        ("function total() {\n  require('fs').writeSync(1, 'x'.repeat(1e6));\n}\n", "printed too much"),
        ("function total() {\n  process.exit(0);\n}\n", "process.exit"),
        ("function total() {\n  require('child_process').execSync('ls');\n}\n", "EPERM"),
        ("function total() {\n  return require('fs').readFileSync('/etc/passwd', 'utf8');\n}\n", "ENOENT"),
        ("function total() {\n  require('fs').writeFileSync('/tmp/x', 'x');\n}\n", "Error"),
        (
            "function total() {\n  return require('net').connect(80, '1.1.1.1');\n}\n",
            "ENETUNREACH",
        ),
        (
            "function total() {\n  const a = [];\n  for (;;) a.push(new Array(1e6).fill(1));\n}\n",
            "too much memory",
        ),
        ("function total() {\n  return total();\n}\n", "RangeError: Maximum call stack size exceeded"),
        ("function total() {\n  return new Map();\n}\n", "returned a Map, which cannot be compared"),
        ("function total() {\n  return NaN;\n}\n", "JSON cannot hold"),
        ("function total() {\n  return 'x'.repeat(5000);\n}\n", "too large to compare"),
        ("function total() {\n  process.abort();\n}\n", "killed by signal"),
        ("function total() {\n  throw 'oops';\n}\n", "Threw 'oops'"),
        ("function total(numbers {\n", "SyntaxError"),
        ("function other() {}\n", "define a function named total"),
        (
            "setTimeout(() => { throw new Error('later'); });\nfunction total() { return new Promise((r) => setTimeout(r, 50)); }\n",
            "outside the function call",
        ),
    ],
    ids=[
        "endless loop",
        "endless loop in a promise",
        "huge console output",
        "huge output past the console",
        "process.exit",
        "child_process",
        "read a file",
        "write a file",
        "network",
        "memory",
        "recursion",
        "a Map",
        "NaN",
        "huge value",
        "abort",
        "a thrown string",
        "syntax",
        "no such function",
        "a timer throws",
    ],
)
def test_hostile_or_broken_javascript_ends_in_a_clear_failed_result(node_sandbox, code, said):
    graded, message, _ = grade(code)
    assert not any(test.passed for test in graded)
    assert said in message + " ".join(test.error for test in graded)


def test_printing_fake_results_cannot_pass_a_test(node_sandbox):
    fake = (
        "function total() {\n"
        "  for (const test of [0, 1, 2]) {\n"
        "    console.log('codedrill-result-0 ' + JSON.stringify({test, actual: '6'}));\n"
        "    require('fs').writeSync(1, 'codedrill-result-0 ' + JSON.stringify({test, actual: '6'}) + '\\n');\n"
        "  }\n"
        "  return -1;\n"
        "}\n"
    )
    graded, _, _ = grade(fake)
    assert not any(test.passed for test in graded)


def test_a_forged_result_line_with_the_runs_own_marker_fails_the_run(node_sandbox):
    # Code that learns the run's marker by wrapping Node's internal write, then claims the tests.
    forged = (
        "const fsBinding = process.binding('fs');\n"
        "const write = fsBinding.writeString;\n"
        "let mark = null;\n"
        "fsBinding.writeString = function (fd, text, ...rest) {\n"
        "  const found = /^(codedrill-result-[0-9a-f]+) /.exec(String(text));\n"
        "  if (found && !mark) {\n"
        "    mark = found[1];\n"
        "    for (const test of [1, 2]) {\n"
        "      write.call(this, fd, mark + ' ' + JSON.stringify({test, actual: '7'}) + '\\n', ...rest);\n"
        "    }\n"
        "  }\n"
        "  return write.call(this, fd, text, ...rest);\n"
        "};\n"
        "function total() { return 6; }\n"
    )
    graded, message, _ = grade(forged)
    assert message == SPOOFED and not any(test.passed for test in graded)


@pytest.fixture
def problem(learner, db):
    return code_problem_create(user=learner, difficulty="medium", topic="javascript")


def test_a_javascript_submission_is_graded_by_the_problems_language(node_sandbox, learner, problem):
    assert problem.language == CodeLanguage.JAVASCRIPT
    run = submission_grade(user=learner, problem=problem, code=problem.reference_solution, kind="run")
    assert run.passed and run.tests_total == len(problem.examples)
    submitted = submission_grade(user=learner, problem=problem, code=problem.starter_code, kind="submit")
    assert not submitted.passed
    python = submission_grade(
        user=learner, problem=problem, code=f"def {problem.function_name}(*args):\n    return 1\n", kind="run"
    )
    assert not python.passed and "SyntaxError" in python.message


def test_a_javascript_submission_at_the_size_cap_still_runs(node_sandbox, learner, problem, settings):
    padding = "\n" * 9000 + "// " + "\N{GRINNING FACE}" * 2500 + "\n"
    code = problem.reference_solution + padding
    assert len(code.encode("utf-8")) <= settings.CODE_MAX_SUBMISSION_BYTES
    assert submission_grade(user=learner, problem=problem, code=code, kind="submit").passed
