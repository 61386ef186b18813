"""A fake OpenAI-compatible server for the benchmark, meant to run in its own process.

    python bench/fake_openai.py [--port 0] [--delay 0]

It prints `PORT <n>` on stdout once it listens on 127.0.0.1, then serves until stdin closes or it
is terminated:

- POST /v1/chat/completions: after the current delay, a 200 `chat.completion` whose message is a
  challenge the app's validator accepts (title, question, code, language, four distinct options,
  correct_index, explanation) plus `usage`. The question carries a per-process nonce and a counter,
  so no two answers are the same question and the app's duplicate check never asks again.
  A blind second check (challengeapp/quality/blind_check.py: recognised by its system prompt's
  opening) is answered at once, without the delay, as an honest checker would: the letter the
  correct option is shown under.
  A request for a coding problem (its response format is the `coding_problem` JSON schema,
  challengeapp/coding/model_problems.py) is answered, after the delay as a challenge is, with
  one problem with 3 examples and 7 hidden tests, whose reference passes them all and whose starter
  and wrong solution fail some, as the server's verification requires. The bench knows its correct
  solution (bench/loads/coding.py).
- PUT /_bench/delay with {"seconds": 2.0}: the delay for the requests that arrive from now on.
- GET /_bench/stats: {"requests", "in_flight", "max_in_flight", "delay"}; POST /_bench/reset zeroes
  the counters.

ThreadingHTTPServer, a thread per connection, HTTP/1.1 keep-alive and a deep listen backlog: 32 and
more slow requests at once are answered together, not one after another. It runs in a process of
its own so that it never shares a GIL with the server under test or with the load generator.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
MODEL = "bench-fake-model"

_state_lock = threading.Lock()
_state = {"delay": 0.0, "requests": 0, "in_flight": 0, "max_in_flight": 0}
_counter = itertools.count(1)
_NONCE = secrets.token_hex(4)

_OPTIONS = [
    "It prints the list sorted in place and returns None",
    "It raises TypeError before printing anything",
    "It prints a new sorted list and leaves the original unchanged",
    "It prints the original list because sorted() is lazy",
]


def challenge_content(number: int) -> str:
    """A valid challenge (per challengeapp/core/drafts.py) unique to `number`."""
    return json.dumps(
        {
            "title": f"Sorting, copy or in place? (#{number})",
            "question": (
                f"Benchmark question {_NONCE}-{number}: what does this snippet print, and what happens "
                "to the original list?"
            ),
            "code": f"items = [3, 1, 2, {number}]\nresult = sorted(items)\nprint(result)",
            "language": "python",
            "options": _OPTIONS,
            "correct_index": 2,
            "explanation": (
                "sorted() always builds and returns a new list; list.sort() is the one that sorts in "
                "place and returns None. The original list keeps its order."
            ),
        }
    )


# How the blind check's system prompt opens (challengeapp/quality/blind_check.py, CHECK_SYSTEM_PROMPT).
CHECK_PROMPT_OPENING = "You answer multiple-choice questions"


def check_content(request: dict) -> str | None:
    """The honest checker's answer to a blind check request, or None for any other request."""
    messages = request.get("messages") or [{}]
    if not str(messages[0].get("content", "")).startswith(CHECK_PROMPT_OPENING):
        return None
    shown = {
        line[0]: line[3:]
        for line in str(messages[-1].get("content", "")).splitlines()
        if len(line) > 3 and line[0] in "ABCD" and line[1:3] == ". "
    }
    letters = [letter for letter, text in shown.items() if text == _OPTIONS[2]]
    return json.dumps({"reasoning": "sorted() returns a new list.", "answers": letters})


# The coding problem every coding request gets: 3 examples + 7 hidden tests = 10 tests a submission
# runs. The statement carries the answer's number, so each learner's problem is its own.
CODING_SCHEMA_NAME = "coding_problem"
CODING_FUNCTION = "longest_run"
CODING_REFERENCE = """def longest_run(xs: list[int]) -> int:
    best = run = 0
    previous = None
    for index, value in enumerate(xs):
        run = run + 1 if index and value == previous else 1
        previous = value
        best = max(best, run)
    return best
"""
CODING_WRONG = """def longest_run(xs: list[int]) -> int:
    best = run = 0
    for index in range(1, len(xs)):
        if xs[index] == xs[index - 1]:
            run += 1
        else:
            best = max(best, run + 1)
            run = 0
    return best
"""
CODING_EXAMPLES = [("[1, 1, 2, 2, 2, 3]", "3"), ("[]", "0"), ("[5]", "1")]
CODING_HIDDEN = [
    ("[1, 2, 3]", "1"),
    ("[4, 4, 4, 4]", "4"),
    ("[1, 2, 2]", "2"),
    ("[7, 7, 1, 7, 7, 7]", "3"),
    ("[0, 0, 0, 1, 1]", "3"),
    ("[-1, -1, 2, 2, 2, 2, 3]", "4"),
    ("[9, 8, 8, 9, 9, 9, 9, 9]", "5"),
]


def coding_content(request: dict, number: int) -> str | None:
    """A coding problem for a request under the coding problem schema, or None for any other."""
    response_format = request.get("response_format") or {}
    schema = response_format.get("json_schema") or {} if isinstance(response_format, dict) else {}
    if not isinstance(schema, dict) or schema.get("name") != CODING_SCHEMA_NAME:
        return None
    return json.dumps(
        {
            "title": f"Longest run of equal neighbours (#{number})",
            "statement": (
                f"Benchmark problem {_NONCE}-{number}: return the length of the longest stretch of "
                "equal adjacent values in xs, 0 for an empty list."
            ),
            "function_name": CODING_FUNCTION,
            "signature": "def longest_run(xs: list[int]) -> int",
            "starter_code": "def longest_run(xs: list[int]) -> int:\n    return 0\n",
            "examples": [{"args": args, "expected": expected} for args, expected in CODING_EXAMPLES],
            "hidden_tests": [{"args": args, "expected": expected} for args, expected in CODING_HIDDEN],
            "reference_solution": CODING_REFERENCE,
            "wrong_solution": CODING_WRONG,
            "explanation": "Count the current run, reset it when the value changes, keep the longest.",
        }
    )


def completion_body(number: int, content: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": f"chatcmpl-bench-{_NONCE}-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": content or challenge_content(number),
                        "refusal": None,
                    },
                }
            ],
            "usage": {"prompt_tokens": 310, "completion_tokens": 180, "total_tokens": 490},
        }
    ).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512  # the listen backlog: 5 by default would drop bursts of 32 connections
    allow_reuse_address = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK's connection pool reuses connections
    # Headers and body go out in two writes: with Nagle's algorithm on, the body would wait for the
    # client's delayed ACK (up to 40 ms), a latency no real API adds.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, request_id: str = "") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if request_id:
                self.send_header("x-request-id", request_id)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        if self.path == "/_bench/stats":
            with _state_lock:
                payload = json.dumps(_state).encode()
            self._send(200, payload)
        else:
            self._send(404, b'{"error": {"message": "Not found.", "type": "invalid_request_error"}}')

    def do_PUT(self) -> None:
        raw = self._body()
        if self.path != "/_bench/delay":
            self._send(404, b"{}")
            return
        seconds = float(json.loads(raw or b"{}").get("seconds", 0))
        with _state_lock:
            _state["delay"] = max(seconds, 0.0)
        self._send(200, json.dumps({"delay": _state["delay"]}).encode())

    def do_POST(self) -> None:
        raw = self._body()
        if self.path == "/_bench/reset":
            with _state_lock:
                _state.update(requests=0, in_flight=0, max_in_flight=0)
            self._send(200, b"{}")
            return
        if self.path.split("?", 1)[0] != CHAT_COMPLETIONS_PATH:
            self._send(404, b'{"error": {"message": "Not found.", "type": "invalid_request_error"}}')
            return
        try:
            request = json.loads(raw)
        except ValueError:
            self._send(400, b'{"error": {"message": "Invalid JSON.", "type": "invalid_request_error"}}')
            return
        with _state_lock:
            _state["requests"] += 1
            _state["in_flight"] += 1
            _state["max_in_flight"] = max(_state["max_in_flight"], _state["in_flight"])
            delay = _state["delay"]
        try:
            number = next(_counter)
            check = check_content(request) if isinstance(request, dict) else None
            # The delay is the writer's (a challenge or a coding problem): a check is answered at
            # once, so a storm's ideal stays one model delay per generation (a real check adds a
            # short round trip: docs/FIGURES.md).
            if delay > 0 and check is None:
                time.sleep(delay)
            content = check or (coding_content(request, number) if isinstance(request, dict) else None)
            self._send(200, completion_body(number, content), request_id=f"req_bench_{number}")
        finally:
            with _state_lock:
                _state["in_flight"] -= 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    _state["delay"] = args.delay
    server = Server(("127.0.0.1", args.port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    # Serve until the parent closes our stdin (or kills us): never outlives the benchmark.
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
