"""Uploads that stall half-way cost one request thread each, never the rest of the process.

A phone in a tunnel (or a slowloris) sends a POST's headers and the first bytes of its body, then
nothing: the thread that took the request waits in the body read. Meanwhile other learners must
be answered as usual. One gunicorn worker (so every request shares the stalled process) with
threads to spare, on SQLite and on PostgreSQL; latency is measured by `make bench`, not here.
"""

from __future__ import annotations

import base64
import select
import socket
import time
from urllib.parse import urlsplit

from challengeapp.tests.fakes.live_fixtures import database_url, mint_token, signing_key_path
from challengeapp.tests.fakes.live_server import (
    LiveServer,
)

GENERATE = "/api/generate-challenge"
WEBHOOK = "/webhooks/clerk"
STALLED_CONTENT_LENGTH = 10_000
PROBES = 20
PROBE_TIMEOUT = 5.0  # generous: a probe that needs it is stuck behind the stalled uploads
# Set, so that the webhook reads its body (unset, it answers 503 without reading it).
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"stalled-uploads-test-secret-0123").decode()


class StalledUpload:
    """A POST that sends its headers and 16 bytes of a JSON body, then nothing until finish()."""

    def __init__(self, base_url: str, path: str, *, token: str | None = None) -> None:
        parts = urlsplit(base_url)
        prefix = '{"difficulty": "easy", "padding": "'
        self.body = (prefix + "x" * (STALLED_CONTENT_LENGTH - len(prefix) - 2) + '"}').encode()
        self.path = path
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + "\r\n"
        )
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.sendall(head.encode() + self.body[:16])

    def answered(self) -> bool:
        """The server has answered or closed the connection (it should still be waiting)."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def finish(self) -> int:
        """Send the rest of the body; the answer's status (0 when none came)."""
        try:
            self.sock.sendall(self.body[16:])
            answer = b""
            while b"\r\n" not in answer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
        except (OSError, ValueError, IndexError):
            return 0
        finally:
            self.sock.close()


# --- fixtures ---------------------------------------------------------------------------------------


def quota_status(server: LiveServer, token: str) -> int | str:
    """GET /api/quota's status, or why no answer came."""
    try:
        return server.request("GET", "/api/quota", token=token, timeout=PROBE_TIMEOUT).status
    except OSError as error:
        return f"no answer: {type(error).__name__}: {error}"


# --- the test ---------------------------------------------------------------------------------------


def test_other_learners_are_answered_while_uploads_stall(database_url, signing_key_path, mint_token):
    uploaders = [mint_token(f"user_uploading_{number}") for number in range(4)]
    readers = [mint_token(f"user_reading_{number}") for number in range(4)]
    with LiveServer(
        database_url=database_url,
        signing_key_path=signing_key_path,
        workers=1,
        threads=16,  # 8 for the stalled uploads, 8 to spare
        extra_env={"CLERK_WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET},
    ) as server:
        for token in uploaders + readers:  # first sight creates each learner
            assert quota_status(server, token) == 200
        uploads = [StalledUpload(server.url, WEBHOOK) for _ in range(4)]
        uploads += [StalledUpload(server.url, GENERATE, token=token) for token in uploaders]
        try:
            time.sleep(0.5)  # the server's threads take the requests and wait for the rest of the bodies

            for number in range(PROBES):
                status = quota_status(server, readers[number % len(readers)])
                assert status == 200, f"quota read {number + 1} of {PROBES} while uploads stall: {status}"

            # The reads above ran while all eight uploads were still waiting for their bodies.
            assert [upload.answered() for upload in uploads] == [False] * len(uploads)
        finally:
            resumed = {upload.path: [] for upload in uploads}
            for upload in uploads:
                resumed[upload.path].append(upload.finish())

    # Once complete, each upload gets its usual answer: a challenge, and "unsigned" for the webhook.
    assert resumed == {GENERATE: [201] * 4, WEBHOOK: [400] * 4}
