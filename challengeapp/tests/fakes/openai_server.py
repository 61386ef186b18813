"""A fake OpenAI-compatible server on 127.0.0.1, scripted per test.

The real SDK talks to it over real HTTP, so the SDK's own request building, response parsing,
error classes and timeouts all run (respx cannot intercept openai 3.x, which uses httpx2).

Each request to POST /v1/chat/completions takes the next scripted behaviour from a queue; when the
queue is empty, `default` answers (if it is None the server answers 500 "nothing scripted", so a
test that sends an unexpected request fails loudly). A behaviour is one of the dataclasses below,
or a callable that receives the RecordedRequest and returns one.

The blind second check's requests (quality/blind_check.py: its system prompt) have a queue of their
own (`enqueue_check`); when it is empty, `check_default` answers, which by default is an honest
checker: it names the option that the challenge this server last handed out marked correct, under
the letter the check shows it with. So a test about generation sees the check agree, and a test
about the check scripts what the checker says.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

from challengeapp.quality.blind_check import CHECK_SYSTEM_PROMPT, check_prompt_options

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # decoded JSON, or the raw text when it is not JSON

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def prompt_text(self) -> str:
        """Every message's content, joined: what the model is told."""
        return "\n".join(str(message.get("content", "")) for message in self.messages)

    @property
    def response_format(self) -> dict[str, Any]:
        return self.body.get("response_format", {}) if isinstance(self.body, dict) else {}


@dataclass(frozen=True)
class Reply:
    """A 200 chat completion with one choice."""

    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None
    model: str = DEFAULT_MODEL
    usage: Mapping[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}
    )
    request_id: str = "req_fake_ok"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorReply:
    """An error status with OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""

    status: int
    message: str = "Something went wrong."
    type: str = "server_error"
    param: str | None = None
    code: str | None = None
    request_id: str = "req_fake_error"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawReply:
    """Any status and body, sent as is (e.g. an HTML page from a proxy)."""

    status: int
    body: str
    content_type: str = "text/html"
    request_id: str = "req_fake_raw"


@dataclass(frozen=True)
class Hang:
    """Never answer in time. Released when the server stops, so teardown never waits on it."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Disconnect:
    """Read the request, then close the connection without a byte of answer."""


Behaviour = Reply | ErrorReply | RawReply | Hang | Disconnect | Callable[[RecordedRequest], Any]


def json_schema_unsupported(then: Behaviour) -> Callable[[RecordedRequest], Behaviour]:
    """A server that rejects response_format json_schema with 400 (as older compatible servers do)
    and answers `then` to anything else. Use as `default` so it holds for every request."""

    def behaviour(request: RecordedRequest) -> Behaviour:
        if request.response_format.get("type") == "json_schema":
            return ErrorReply(
                status=400,
                message="Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                type="invalid_request_error",
                param="response_format",
                request_id="req_fake_schema_rejected",
            )
        return then

    return behaviour


def check_answer(*letters: str, reasoning: str = "Worked through it.") -> Reply:
    """A check reply naming these letters as the correct options."""
    return Reply(json.dumps({"reasoning": reasoning, "answers": list(letters)}))


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Behaviour | None = None
        self.check_default: Behaviour | None = self._honest_check
        self._check_queue: deque[Behaviour] = deque()
        self._served: list[dict[str, Any]] = []  # challenges handed out, newest last
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases every Hang at once
        if self._thread.is_alive():  # shutdown() waits forever for a loop that never started
            self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these behaviours, one each, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    def enqueue_check(self, *behaviours: Behaviour) -> None:
        """Answer the next blind-check requests with these behaviours, one each, in order."""
        with self._lock:
            self._check_queue.extend(behaviours)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The requests for a challenge (not the blind checks)."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.path == CHAT_COMPLETIONS_PATH and not _is_check(request)
            ]

    @property
    def check_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if _is_check(request)]

    def _record_and_choose(self, request: RecordedRequest) -> Behaviour | None:
        with self._lock:
            self.requests.append(request)
            if _is_check(request):
                behaviour = self._check_queue.popleft() if self._check_queue else self.check_default
            else:
                behaviour = self._queue.popleft() if self._queue else self.default
        if callable(behaviour):  # decides from the request
            behaviour = behaviour(request)
        if isinstance(behaviour, Reply) and not _is_check(request):
            self._remember_served(behaviour.content)
        return behaviour

    def _remember_served(self, content: str | None) -> None:
        try:
            challenge = json.loads(content or "")
        except ValueError:
            return
        if isinstance(challenge, dict) and isinstance(challenge.get("options"), list):
            with self._lock:
                self._served.append(challenge)

    def _honest_check(self, request: RecordedRequest) -> Behaviour:
        shown = check_prompt_options(request.prompt_text)
        with self._lock:
            served = list(reversed(self._served))
        for challenge in served:
            options, index = challenge.get("options"), challenge.get("correct_index")
            if not isinstance(index, int) or not 0 <= index < len(options):
                continue
            letters = [letter for letter, text in shown.items() if text == str(options[index]).strip()]
            if len(letters) == 1 and set(shown.values()) <= {str(option).strip() for option in options}:
                return check_answer(letters[0])
        return ErrorReply(status=500, message="The honest checker knows no challenge with these options.")


def _is_check(request: RecordedRequest) -> bool:
    messages = request.messages
    return bool(messages) and messages[0].get("content") == CHECK_SYSTEM_PROMPT


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Handler threads that are still hanging must not make server_close() wait for them.
    block_on_close = False
    fake: FakeOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, so no pooled connection outlives a test's server.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._send_json(404, {"error": {"message": "Not found.", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        request = self._read_request()
        if request.path != CHAT_COMPLETIONS_PATH:
            self._send_json(404, {"error": {"message": "Not found.", "type": "invalid_request_error"}})
            return
        behaviour = self.server.fake._record_and_choose(request)
        self._perform(behaviour, request)

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        return RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )

    def _perform(self, behaviour: Behaviour | None, request: RecordedRequest) -> None:
        if behaviour is None:
            self._send_json(500, _error_body("Nothing scripted for this request.", "server_error"))
        elif isinstance(behaviour, Reply):
            self._send_json(
                200, _completion_body(behaviour), request_id=behaviour.request_id, headers=behaviour.headers
            )
        elif isinstance(behaviour, ErrorReply):
            body = _error_body(behaviour.message, behaviour.type, behaviour.param, behaviour.code)
            self._send_json(
                behaviour.status, body, request_id=behaviour.request_id, headers=behaviour.headers
            )
        elif isinstance(behaviour, RawReply):
            self._send(
                behaviour.status,
                behaviour.body.encode(),
                behaviour.content_type,
                request_id=behaviour.request_id,
            )
        elif isinstance(behaviour, Hang):
            self.server.fake._stopping.wait(behaviour.seconds)
        elif isinstance(behaviour, Disconnect):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            raise TypeError(f"Not a behaviour: {behaviour!r}")

    def _send_json(
        self, status: int, body: Any, *, request_id: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(
            status, json.dumps(body).encode(), "application/json", request_id=request_id, headers=headers
        )

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        *,
        request_id: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if request_id:
                self.send_header("x-request-id", request_id)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer


def _completion_body(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "finish_reason": reply.finish_reason,
                "logprobs": None,
                "message": {"role": "assistant", "content": reply.content, "refusal": reply.refusal},
            }
        ],
    }
    if reply.usage is not None:
        body["usage"] = dict(reply.usage)
    return body


def _error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def closed_port_url() -> str:
    """A /v1 URL on 127.0.0.1 where nothing listens, for "connection refused"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
