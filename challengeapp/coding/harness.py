"""The fixed program that grades a learner's function in the sandbox, and reading what it printed.

The program is ours; the learner's code and the tests' arguments reach it as data: one JSON
document (the code in it base64-encoded), embedded as a Python string literal (`repr`), which the
program decodes. The learner's
code is compiled and run by the program with `exec`, never formatted into the program's text.

What the program sends back: one line per test and one closing line, each starting with a random
marker drawn for this run (a learner's `print` goes to a bounded buffer, not to standard output,
and a line without the marker is ignored). The expected values never enter the sandbox: the
program reports what the function returned (its `repr`, for plain built-in values only) and the
server compares it with the expected value (`literal_equal`: ==, but a boolean equals only a
boolean). So a forged result line can claim only values the code computed itself, which is what a
correct solution does anyway; a line claiming a test twice, or an unreadable one, fails the whole
run.
"""

from __future__ import annotations

import ast
import base64
import json
import secrets
from dataclasses import dataclass

# Past this, a returned value's repr is not compared (and not shown): no test expects one so long.
ACTUAL_MAX_CHARS = 2000
# The learner's own printed output kept and shown.
OUTPUT_MAX_CHARS = 2000
ERROR_MAX_CHARS = 300

_PROGRAM = r'''
import ast, base64, io, json, os, sys, traceback
_write = os.write
_DATA = json.loads(__DATA__)
_DATA["code"] = base64.b64decode(_DATA.pop("code_base64")).decode("utf-8")
_MARK = _DATA.pop("mark")
_ACTUAL_MAX, _OUTPUT_MAX, _ERROR_MAX = _DATA["limits"]


def _emit(result):
    _write(1, (_MARK + " " + json.dumps(result) + "\n").encode("utf-8"))


class _Output(io.TextIOBase):
    """The learner's printed output: kept up to a bound, the rest counted."""

    def __init__(self):
        self.parts, self.size = [], 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        if self.size < _OUTPUT_MAX:
            self.parts.append(text[: _OUTPUT_MAX - self.size])
        self.size += len(text)
        return len(text)

    def text(self):
        kept = "".join(self.parts)
        return kept + ("\n[output cut]" if self.size > _OUTPUT_MAX else "")


def _error_line(error):
    try:
        line = ""
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename == "solution.py":
                line = f" (line {frame.lineno})"
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return (text + line)[:_ERROR_MAX]
    except BaseException:
        return "Your code raised an exception that could not be described."


_PLAIN = (bool, int, float, str, bytes, type(None))


def _check_plain(value, depth=0):
    kind = type(value)
    if depth > 20:
        raise TypeError("the returned value is nested too deeply to compare")
    if kind in _PLAIN:
        return
    if kind in (list, tuple, set):
        for item in value:
            _check_plain(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
        return
    raise TypeError(f"returned a {kind.__name__}, which cannot be compared: return plain values")


def _main():
    output = _Output()
    sys.stdout = output
    namespace = {"__name__": "solution"}
    try:
        exec(compile(_DATA["code"], "solution.py", "exec"), namespace)
        function = namespace.get(_DATA["function"])
        if not callable(function):
            raise NameError(f"define a function named {_DATA['function']}")
    except BaseException as error:
        _emit({"load_error": _error_line(error), "output": output.text()})
        return
    for index, arguments in enumerate(_DATA["tests"]):
        result = {"test": index}
        try:
            actual = function(*ast.literal_eval(arguments))
            _check_plain(actual)
            text = repr(actual)
            if len(text) > _ACTUAL_MAX:
                raise ValueError("the returned value is too large to compare")
            result["actual"] = text
        except BaseException as error:
            result["error"] = _error_line(error)
        _emit(result)
    _emit({"done": True, "output": output.text()})


_main()
sys.stdout = sys.__stdout__
os._exit(0)
'''


@dataclass(frozen=True)
class HarnessRun:
    """What the program reported (the Python program or the JavaScript one, js_harness.py): per
    test, what the function returned (`actual`: a repr, or JSON text) or the error it raised; None
    for a test it never reported (the run ended first). `load_error`: why the code could not be
    loaded, or (JavaScript) how it ended the run itself, by process.exit or an error outside the
    call."""

    per_test: list[dict | None]
    load_error: str
    output: str
    finished: bool
    spoofed: bool


def harness_data(*, code: str, function_name: str, test_arguments: list) -> tuple[dict, str]:
    """The document a harness program (this one, or js_harness.py's) reads: the code, the function's
    name, each test's arguments and the limits; and the marker drawn for this run."""
    mark = "codedrill-result-" + secrets.token_hex(16)
    data = {
        "mark": mark,
        # Base64: 4 bytes per 3 of code, whatever it holds (JSON and repr would take up to 12 for a
        # control character), so a submission at the size cap always fits the sandbox's program cap.
        "code_base64": base64.b64encode(code.encode("utf-8")).decode("ascii"),
        "function": function_name,
        "tests": list(test_arguments),
        "limits": [ACTUAL_MAX_CHARS, OUTPUT_MAX_CHARS, ERROR_MAX_CHARS],
    }
    return data, mark


def harness_program(*, code: str, function_name: str, test_arguments: list[str]) -> tuple[str, str]:
    """The program that runs `code`'s `function_name` on each test's arguments, and the marker its
    result lines start with."""
    data, mark = harness_data(code=code, function_name=function_name, test_arguments=test_arguments)
    return _PROGRAM.replace("__DATA__", repr(json.dumps(data)), 1), mark


def harness_read(stdout: str, *, mark: str, tests: int) -> HarnessRun:
    """Read the program's result lines out of everything the run printed."""
    per_test: list[dict | None] = [None] * tests
    load_error, output, finished, spoofed = "", "", False, False
    for line in stdout.splitlines():
        if not line.startswith(mark + " "):
            continue
        try:
            result = json.loads(line[len(mark) + 1 :])
        except ValueError:
            spoofed = True
            continue
        if not isinstance(result, dict):
            spoofed = True
        elif "test" in result:
            index = result["test"]
            if not isinstance(index, int) or not 0 <= index < tests or per_test[index] is not None:
                spoofed = True
            else:
                per_test[index] = result
        elif "load_error" in result:
            load_error = str(result["load_error"])[:ERROR_MAX_CHARS] or "Your code could not be loaded."
            output = str(result.get("output", ""))
        elif result.get("done") is True:
            spoofed = spoofed or finished
            finished = True
            output = str(result.get("output", ""))
        else:
            spoofed = True
    return HarnessRun(
        per_test=per_test,
        load_error=load_error,
        output=output[: OUTPUT_MAX_CHARS + 20],
        finished=finished,
        spoofed=spoofed,
    )


def literal_value(text: str):
    """A Python literal (a test's expected value, or what a function returned) as a value; raises
    ValueError for anything else."""
    if len(text) > ACTUAL_MAX_CHARS:
        raise ValueError("too long")
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("not a Python literal") from None


# Deeper than this, two values are not compared (the harness refuses to report one past 20).
EQUAL_MAX_DEPTH = 100


def literal_equal(actual, expected, depth: int = 0) -> bool:
    """Whether a returned value equals the expected one: Python's `==`, except that a boolean
    equals only a boolean (`1` is not `True`, `0.0` is not `False`, as JavaScript's grading has
    it too), at any depth. Numbers compare by value (`2 == 2.0`); a list never equals a tuple.
    ValueError for values nested past EQUAL_MAX_DEPTH."""
    if depth > EQUAL_MAX_DEPTH:
        raise ValueError("nested too deeply to compare")
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(
            literal_equal(a, e, depth + 1) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            literal_equal(actual[key], expected[key], depth + 1) for key in expected
        )
    if isinstance(expected, set | frozenset):
        return {_tagged(item, depth + 1) for item in actual} == {
            _tagged(item, depth + 1) for item in expected
        }
    return actual == expected


def _tagged(item, depth: int):
    """A set's item with its booleans told apart from numbers, for comparing sets by hash."""
    if depth > EQUAL_MAX_DEPTH:
        raise ValueError("nested too deeply to compare")
    if isinstance(item, bool):
        return ("bool", item)
    if isinstance(item, tuple):
        return ("tuple", tuple(_tagged(part, depth + 1) for part in item))
    if isinstance(item, frozenset):
        return ("frozenset", frozenset(_tagged(part, depth + 1) for part in item))
    if isinstance(item, int | float):
        return ("number", item)
    return (type(item).__name__, item)


def arguments_value(text: str) -> tuple:
    """A test's arguments, written as in the call (`[1, 2], 3`), as a tuple."""
    value = literal_value(f"({text},)") if text.strip() else ()
    if not isinstance(value, tuple):
        raise ValueError("not an argument list")
    return value
