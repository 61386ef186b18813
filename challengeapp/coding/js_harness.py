"""The fixed program that grades a learner's JavaScript function in the sandbox (Node.js), and the
JSON values its tests are written in. The Python harness (harness.py) is its model: the same data
path, the same result lines, read by the same `harness_read`.

The program is ours; the learner's code and the tests' arguments reach it as data: one JSON
document (the code in it base64-encoded), embedded as a JavaScript string literal, which the
program parses. The learner's code is run by the program as a script (`vm.Script`, file name
`solution.js`, so errors name its own lines) in Node's own context, with `require`, `module` and
`exports` given to it as a CommonJS file has them; it is never formatted into the program's text.
Inside the sandbox the sandbox is the wall, not `vm`.

The function is found by name: a global the script declared (`function f`, `var f`), else a
top-level `const`/`let` binding (read by a script made of the name alone, which the program first
checks is an identifier; the name is the problem's, never the learner's), else `module.exports.f`.

Tests: `args` is the call's arguments as comma-separated JSON values (`[1, 2], 3` is the JSON
array `[[1, 2], 3]`), `expected` one JSON value. The program reports what the function returned
as JSON text, for plain values only (null, booleans, finite numbers, strings, arrays without
holes, objects whose prototype is Object.prototype or null), written by the program itself (no
`toJSON`); anything else (NaN, a Map, a function, a class instance, `undefined` inside a value) is
an error saying so. A returned `undefined` is reported as the text `undefined`, shown as returned
and equal to no expected value (JSON has no undefined). A returned Promise is awaited: its value
is graded, its rejection is the test's error, and one that can never settle (nothing left to run)
is an error too; the run's time limit bounds the wait.

The server compares the parsed values as JavaScript's deep strict equality of plain JSON values
would (`json_equal`): numbers by value (`1` and `1.0` are one number), `true` never equal to `1`,
arrays in order, objects' keys in any order.

The learner's console output (console.log and the rest, process.stdout.write too) goes to a
bounded buffer. An exception thrown outside the call (a timer's), or `process.exit`, ends the run
with a message saying so and the tests not yet run fail.
"""

from __future__ import annotations

import json
import math

from challengeapp.coding.harness import ACTUAL_MAX_CHARS, harness_data

UNDEFINED = "undefined"

_PROGRAM = r"""
"use strict";
const fs = require("fs");
const vm = require("vm");
const util = require("util");
const DATA = JSON.parse(__DATA__);
const MARK = DATA.mark;
const [ACTUAL_MAX, OUTPUT_MAX, ERROR_MAX] = DATA.limits;
// What the program uses after the learner's code has run, taken before it runs.
const writeSync = fs.writeSync;
const stringify = JSON.stringify;
const { getPrototypeOf, keys, prototype: objectPrototype } = Object;
const { isArray } = Array;
const isPromise = util.types.isPromise;
const then = Promise.prototype.then;
const format = util.format;
const realExit = process.reallyExit ? process.reallyExit.bind(process) : process.exit.bind(process);

let finished = false;
let current = -1;
let stalled = null;

function emit(result) {
  writeSync(1, MARK + " " + stringify(result) + "\n");
}

const output = { parts: [], size: 0 };
function keep(text) {
  text = String(text);
  if (output.size < OUTPUT_MAX) output.parts.push(text.slice(0, OUTPUT_MAX - output.size));
  output.size += text.length;
}
function outputText() {
  return output.parts.join("") + (output.size > OUTPUT_MAX ? "\n[output cut]" : "");
}

function errorLine(error) {
  try {
    let text, line = "";
    if (error instanceof Error) {
      text = error.message ? error.name + ": " + error.message : error.name;
      const stack = String(error.stack);
      const found = /solution\.js:(\d+)/.exec(stack);
      if (found) line = " (line " + found[1] + ")";
    } else {
      text = "Threw " + format("%o", error);
    }
    return (text + line).slice(0, ERROR_MAX);
  } catch {
    return "Your code threw an exception that could not be described.";
  }
}

class NotPlain extends TypeError {}

// The returned value as JSON text, written here (no toJSON): plain values only.
function plain(value, depth) {
  if (depth > 20) throw new NotPlain("the returned value is nested too deeply to compare");
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new NotPlain("returned " + value + ", which JSON cannot hold");
      return stringify(value);
    case "string":
      if (value.length > ACTUAL_MAX) throw new RangeError("the returned value is too large to compare");
      return stringify(value);
    case "undefined":
      throw new NotPlain("the returned value holds undefined, which cannot be compared: use null");
    case "object":
      break;
    default:
      throw new NotPlain("returned a " + typeof value + ", which cannot be compared: return plain values");
  }
  if (isArray(value)) {
    if (value.length > ACTUAL_MAX) throw new RangeError("the returned value is too large to compare");
    const items = [];
    for (let index = 0; index < value.length; index++) {
      if (!(index in value)) throw new NotPlain("the returned array has an empty slot: fill every index");
      items.push(plain(value[index], depth + 1));
    }
    return "[" + items.join(", ") + "]";
  }
  const prototype = getPrototypeOf(value);
  if (prototype !== objectPrototype && prototype !== null) {
    const name = (prototype && prototype.constructor && prototype.constructor.name) || "object";
    throw new NotPlain("returned a " + name + ", which cannot be compared: return plain values");
  }
  const names = keys(value);
  if (names.length > ACTUAL_MAX) throw new RangeError("the returned value is too large to compare");
  return "{" + names.map((name) => stringify(name) + ": " + plain(value[name], depth + 1)).join(", ") + "}";
}

function settle(value) {
  if (!isPromise(value)) return value;
  return new Promise((resolve, reject) => {
    stalled = () => reject(new Error("the returned Promise never settled"));
    then.call(value, resolve, reject);
  });
}

// Nothing left to run while a returned Promise is awaited: it can never settle. (Rejected from a
// setImmediate, so the event loop has work again and does not end before the next test.)
process.on("beforeExit", () => {
  const stall = stalled;
  stalled = null;
  if (stall) setImmediate(stall);
});
process.on("uncaughtException", (error) => {
  if (finished) return;
  finished = true;
  emit({ load_error: "An error outside the function call ended the run: " + errorLine(error), output: outputText() });
  realExit(1);
});
process.on("exit", () => {
  if (finished) return;
  finished = true;
  const when = current < 0 ? "while loading" : "during test " + (current + 1);
  emit({ load_error: "Your code ended the run (process.exit) " + when + ", so the tests after it did not run.", output: outputText() });
});

const learnerConsole = {};
for (const name of ["log", "info", "debug", "warn", "error", "trace"]) {
  learnerConsole[name] = (...parts) => keep(format(...parts) + "\n");
}
learnerConsole.dir = (value) => keep(util.inspect(value) + "\n");
learnerConsole.table = learnerConsole.log;
learnerConsole.assert = (condition, ...parts) => {
  if (!condition) keep("Assertion failed" + (parts.length ? ": " + format(...parts) : "") + "\n");
};
globalThis.console = learnerConsole;
for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, ...rest) => {
    keep(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    const callback = rest.find((item) => typeof item === "function");
    if (callback) process.nextTick(callback);
    return true;
  };
}

// A global of Node's own with the function's name (`escape`) is not the learner's function.
const builtin = globalThis[DATA.function];

function findFunction(name) {
  const declared = globalThis[name];
  if (typeof declared === "function" && declared !== builtin) return declared;
  if (/^[A-Za-z_$][\w$]*$/.test(name)) {
    try {
      const bound = new vm.Script(name).runInThisContext();
      if (typeof bound === "function" && bound !== builtin) return bound;
    } catch {}
  }
  const exported = globalThis.module && globalThis.module.exports;
  if (exported && typeof exported[name] === "function") return exported[name];
  if (typeof exported === "function" && exported.name === name) return exported;
  return null;
}

async function main() {
  const code = Buffer.from(DATA.code_base64, "base64").toString("utf8");
  let solution;
  try {
    globalThis.require = require;
    globalThis.module = { exports: {} };
    globalThis.exports = globalThis.module.exports;
    new vm.Script(code, { filename: "solution.js" }).runInThisContext();
    solution = findFunction(DATA.function);
    if (solution === null) throw new ReferenceError("define a function named " + DATA.function);
  } catch (error) {
    finished = true;
    emit({ load_error: errorLine(error), output: outputText() });
    return;
  }
  for (let index = 0; index < DATA.tests.length; index++) {
    current = index;
    const result = { test: index };
    try {
      const actual = await settle(solution(...DATA.tests[index]));
      if (actual === undefined) {
        result.actual = "undefined";
      } else {
        const text = plain(actual, 0);
        if (text.length > ACTUAL_MAX) throw new RangeError("the returned value is too large to compare");
        result.actual = text;
      }
    } catch (error) {
      result.error = errorLine(error);
    }
    stalled = null;
    emit(result);
  }
  finished = true;
  emit({ done: true, output: outputText() });
  realExit(0);
}

main();
"""


def js_harness_program(*, code: str, function_name: str, test_arguments: list[list]) -> tuple[str, str]:
    """The program that runs `code`'s `function_name` on each test's arguments (each a list of JSON
    values), and the marker its result lines start with."""
    data, mark = harness_data(code=code, function_name=function_name, test_arguments=test_arguments)
    # json.dumps twice: a JSON string (ASCII only) is a JavaScript string literal.
    return _PROGRAM.replace("__DATA__", json.dumps(json.dumps(data)), 1), mark


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_value(text: str):
    """A JSON value (a test's expected value, or what a function returned) as a Python value;
    ValueError for anything else (NaN and Infinity too, which JSON does not have)."""
    if not isinstance(text, str) or len(text) > ACTUAL_MAX_CHARS:
        raise ValueError("too long")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ValueError("not a JSON value") from None


def json_arguments(text: str) -> list:
    """A test's arguments, written as in the call (`[1, 2], 3`), as a list of JSON values."""
    if not text.strip():
        return []
    value = json_value(f"[{text}]")
    if not isinstance(value, list):  # pragma: no cover - "[...]" parses as a list or not at all
        raise ValueError("not an argument list")
    return value


def json_equal(left, right) -> bool:
    """Whether two parsed JSON values are equal as JavaScript's deep strict equality would find
    them: numbers by value (1 == 1.0), booleans never equal to numbers, arrays in order, objects
    with the same keys and equal values whatever their order."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return _as_double(left) == _as_double(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if left is None or right is None:
        return left is right
    return type(left) is type(right) and left == right


def _as_double(number: int | float) -> float:
    # JavaScript reads every JSON number as a double: 2**53 + 1 is 2**53 there.
    try:
        return float(number)
    except OverflowError:
        return math.copysign(math.inf, number)
