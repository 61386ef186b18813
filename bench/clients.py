"""Python clients for what wrk cannot measure: learners generating against a slow model, the quota
(or page) prober that runs beside them, uploads that stall half-way, and the bytes of a first visit.

The prober runs as its own process (`python bench/clients.py probe …`) so that its latencies are
never the generating threads' GIL waits.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from loadgen import percentile

GENERATE_BODY = json.dumps({"difficulty": "easy"}).encode()


class KeepAliveClient:
    """One persistent HTTP/1.1 connection, as a browser tab keeps one; reconnects after a failure."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, payload
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# --- learners generating, each with its own token -------------------------------------------------


@dataclass
class GenerationRun:
    learners: int
    window_s: float  # no new request starts after this
    elapsed_s: float  # until the last request ended
    created: int
    failures: dict[str, int] = field(default_factory=dict)  # "503: …busy…" → count
    timeouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    first_failure: str = ""

    @property
    def lost(self) -> int:
        return sum(self.failures.values()) + self.timeouts

    @property
    def per_second(self) -> float:
        return self.created / self.elapsed_s if self.elapsed_s else 0.0


def generation_load(
    base_url: str,
    tokens: list[str],
    *,
    window: float,
    timeout: float = 40.0,
    pause_after_failure: float = 1.0,
) -> GenerationRun:
    """Every learner loops POST /api/generate-challenge on its own keep-alive connection until the
    window closes; requests under way then are waited for. A failed request (any status but 201, a
    timeout, a broken connection) is counted and the learner waits `pause_after_failure` seconds
    before trying again, as the app's "try again in a few seconds" asks."""
    lock = threading.Lock()
    run = GenerationRun(learners=len(tokens), window_s=window, elapsed_s=0.0, created=0)
    barrier = threading.Barrier(len(tokens) + 1)
    start_at: list[float] = []

    def learner(token: str) -> None:
        client = KeepAliveClient(base_url, timeout)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        barrier.wait()
        deadline = start_at[0] + window
        while time.monotonic() < deadline:
            began = time.monotonic()
            failure = ""
            try:
                status, payload = client.request(
                    "POST", "/api/generate-challenge", headers=headers, body=GENERATE_BODY
                )
            except TimeoutError:
                with lock:
                    run.timeouts += 1
                    run.first_failure = run.first_failure or "timeout"
                time.sleep(pause_after_failure)
                continue
            except (OSError, http.client.HTTPException) as error:
                status, payload = 0, f"{type(error).__name__}: {error}".encode()
            took = (time.monotonic() - began) * 1000
            if status == 201:
                with lock:
                    run.created += 1
                    run.latencies_ms.append(took)
                continue
            try:
                detail = json.loads(payload).get("detail", "")
            except (ValueError, AttributeError):
                detail = payload[:80].decode("utf-8", "replace")
            failure = f"{status}: {detail}"[:120]
            with lock:
                run.failures[failure] = run.failures.get(failure, 0) + 1
                run.first_failure = run.first_failure or failure
            time.sleep(pause_after_failure)
        client.close()

    threads = [threading.Thread(target=learner, args=(token,), daemon=True) for token in tokens]
    for thread in threads:
        thread.start()
    start_at.append(time.monotonic())
    barrier.wait()
    for thread in threads:
        thread.join(window + timeout + 30)
    run.elapsed_s = time.monotonic() - start_at[0]
    return run


# --- the quota prober --------------------------------------------------------------------------------


def probe(
    base_url: str,
    tokens: list[str],
    *,
    interval: float,
    duration: float,
    new_connection: bool = False,
    timeout: float = 30.0,
    paths: list[str] | None = None,
) -> dict:
    """GET /api/quota (or each of `paths` in turn: a page with the learner's session cookie, a path
    under /api/ with the Bearer token) every `interval` seconds (on a fixed schedule) for `duration`
    seconds, each probe as the next learner of `tokens`. One keep-alive connection, or with
    `new_connection` a new one per probe, as different learners' browsers would open: a keep-alive
    connection stays with the gunicorn worker that accepted it, new ones are spread between the
    workers. With `paths`, the result also has each path's figures ("paths")."""
    paths = paths or ["/api/quota"]
    client = KeepAliveClient(base_url, timeout=timeout)
    latencies, statuses, errors = [], {}, 0
    per_path: dict[str, list[float]] = {path: [] for path in paths}
    started = time.monotonic()
    tick = 0
    while True:
        due = started + tick * interval
        if due - started > duration:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        token, path = tokens[tick % len(tokens)], paths[tick % len(paths)]
        if path.startswith("/api/"):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        else:
            headers = {"Cookie": f"__session={token}", "Accept": "text/html"}
        if new_connection:
            headers["Connection"] = "close"
        began = time.perf_counter()
        try:
            status, _ = client.request("GET", path, headers=headers)
        except (OSError, http.client.HTTPException):
            errors += 1
            status = 0
        else:
            latencies.append((time.perf_counter() - began) * 1000)
            per_path[path].append(latencies[-1])
        if new_connection:
            client.close()
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        tick += 1
        # A slow answer skips the ticks it overran rather than firing a burst to catch up.
        tick = max(tick, int((time.monotonic() - started) / interval) + 1)
    client.close()
    return {
        "samples": len(latencies),
        "errors": errors
        + sum(count for status, count in statuses.items() if status != "200" and status != "0"),
        "statuses": statuses,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "paths": {
            path: {"samples": len(values), "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99)}
            for path, values in per_path.items()
        },
    }


class Prober:
    """The prober in its own process: start(), then result() after `duration` seconds."""

    def __init__(
        self,
        base_url: str,
        tokens: list[str],
        *,
        interval: float,
        duration: float,
        new_connection: bool = False,
        timeout: float = 30.0,
        paths: list[str] | None = None,
    ) -> None:
        self.command = [
            sys.executable,
            __file__,
            "probe",
            "--url",
            base_url,
            *(argument for token in tokens for argument in ("--token", token)),
            "--interval",
            str(interval),
            "--duration",
            str(duration),
            "--timeout",
            str(timeout),
            *(["--new-connection"] if new_connection else []),
            *(argument for path in paths or [] for argument in ("--path", path)),
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> dict:
        assert self.process is not None
        out, err = self.process.communicate(timeout=300)
        line = next((row for row in out.splitlines() if row.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"the prober failed: {err[-2000:]}")
        return json.loads(line[len("BENCH_JSON ") :])


# --- uploads that stall half-way -------------------------------------------------------------------


class StalledUpload:
    """A POST that sends its headers and the first bytes of its body, then nothing: a phone going
    into a tunnel, or a client stalling on purpose (slowloris). The server's thread that took the
    request waits in the body read meanwhile. finish() sends the rest and returns the answer's status."""

    def __init__(
        self, base_url: str, path: str, *, content_length: int, token: str | None = None, sent: int = 16
    ) -> None:
        parts = urlsplit(base_url)
        # A JSON object of exactly content_length bytes, which the endpoint could parse once complete.
        prefix = '{"difficulty": "easy", "padding": "'
        self.body = (prefix + "x" * (content_length - len(prefix) - 2) + '"}').encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(self.body)}\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + "\r\n"
        )
        self.path = path
        self.sent = sent
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.sendall(head.encode() + self.body[:sent])

    def answered(self) -> bool:
        """Whether the server has answered (or closed the connection) already."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def finish(self) -> int:
        """Send the rest of the body; the status of the answer (0 when none came)."""
        try:
            self.sock.sendall(self.body[self.sent :])
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


# --- a first visit ---------------------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        elif (
            tag == "link"
            and "stylesheet" in (attributes.get("rel") or "").lower().split()
            and attributes.get("href")
        ):
            self.urls.append(attributes["href"])


def _fetch_raw(base_url: str, path: str, headers: dict[str, str]) -> dict:
    """One request on its own connection; the bytes exactly as they came over the wire."""
    parts = urlsplit(base_url)
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nConnection: close\r\n"
    request += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request.encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    response_headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        response_headers[name.strip().lower()] = value.strip()
    if response_headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    encoding = response_headers.get("content-encoding", "")
    if encoding == "gzip":
        decoded = gzip.decompress(body)
    elif encoding == "br":
        import brotli

        decoded = brotli.decompress(body)
    else:
        decoded = body
    return {
        "path": path,
        "status": status,
        "encoding": encoding or "identity",
        "wire_bytes": len(raw),
        "header_bytes": len(head) + 4,
        "body_bytes": len(body),
        "decoded_bytes": len(decoded),
        "decoded": decoded,
        "content_type": response_headers.get("content-type", ""),
        "cache_control": response_headers.get("cache-control", ""),
    }


def _dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def first_visit(base_url: str, token: str) -> dict:
    """The practice page and the scripts and stylesheets it links, fetched as a browser's first
    visit gets them (Accept-Encoding: gzip, br; nothing cached)."""
    browser = {
        "Accept-Encoding": "gzip, br",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) CodeDrill-bench",
    }
    page = _fetch_raw(base_url, "/", {**browser, "Accept": "text/html", "Cookie": f"__session={token}"})
    if page["status"] != 200:
        raise RuntimeError(f"GET / answered {page['status']}, not the practice page")
    parser = _Assets()
    parser.feed(page["decoded"].decode("utf-8", "replace"))
    resources = [page]
    for url in dict.fromkeys(parser.urls):
        absolute = urljoin(base_url + "/", url)
        if urlsplit(absolute).netloc != urlsplit(base_url).netloc:
            continue  # third-party (Clerk's CDN when Clerk is on): not ours to count
        resources.append(_fetch_raw(base_url, urlsplit(absolute).path, {**browser, "Accept": "*/*"}))
    html_gzip = len(gzip.compress(page["decoded"], compresslevel=6))
    for resource in resources:
        resource.pop("decoded")
    return {
        "resources": resources,
        "wire_bytes": sum(r["wire_bytes"] for r in resources),
        "body_bytes": sum(r["body_bytes"] for r in resources),
        "decoded_bytes": sum(r["decoded_bytes"] for r in resources),
        "html_gzip_bytes": html_gzip,
        "errors": sum(1 for r in resources if r["status"] != 200),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    probe_parser = sub.add_parser("probe")
    probe_parser.add_argument("--url", required=True)
    probe_parser.add_argument("--token", action="append", required=True, help="repeat: one per learner")
    probe_parser.add_argument("--interval", type=float, default=0.1)
    probe_parser.add_argument("--duration", type=float, required=True)
    probe_parser.add_argument("--timeout", type=float, default=30.0)
    probe_parser.add_argument("--new-connection", action="store_true")
    probe_parser.add_argument("--path", action="append", default=None, help="repeat: GET each in turn")
    args = parser.parse_args(argv)
    result = probe(
        args.url,
        args.token,
        interval=args.interval,
        duration=args.duration,
        new_connection=args.new_connection,
        timeout=args.timeout,
        paths=args.path,
    )
    print("BENCH_JSON " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
