"""CodeDrill served as production serves it, in a subprocess, for tests and benchmarks.

`LiveServer` runs `manage.py migrate` and `collectstatic`, then
`gunicorn -c config/gunicorn.conf.py config.wsgi:application` with DEBUG off, real worker processes
and threads, and the database it is given; it waits for GET /healthz and stops the whole process
group. No pytest in here: a benchmark script uses it as it is.

    url = sqlite_database(tmp_dir)            # or postgres_database(); drop_database(url) after
    with LiveServer(database_url=url, signing_key_path=tmp_dir / "key.pem", daily_quota=5) as server:
        response = server.request("GET", "/api/quota", token=token)
        responses = fire_concurrently(50, lambda: server.request("POST", "/api/generate-challenge",
                                                                 token=token, body={"difficulty": "easy"}))
    rows = run_sql(url, "SELECT used, day FROM challengeapp_quota WHERE user_id = %s", [user_id])

Tokens: the server accepts development tokens signed with the key at `signing_key_path`; mint them
in the calling process with `challengeapp.identity.dev_session_token_issue` while
settings.DEV_SIGNING_KEY_PATH points at the same file.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[3]

POSTGRES_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
DATABASE_PREFIX = "codedrill_live_"

# Settings the server must not inherit from the caller's shell (a benchmark run from a shell with
# OPENAI_API_KEY set must not call OpenAI): only what LiveServer sets, or extra_env, applies.
_APP_ENV_PREFIXES = (
    "OPENAI_",
    "CLERK_",
    "DEV_",
    "GENERATION_",
    "GUNICORN_",
    "SECURE_",
    "CORS_",
    "CSRF_",
)
_APP_ENV_NAMES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "DAILY_CHALLENGE_QUOTA",
    "TIME_ZONE",
    "PORT",
    "HOST",
    "WEB_CONCURRENCY",
    "FORWARDED_ALLOW_IPS",
    "DJANGO_SETTINGS_MODULE",
}

T = TypeVar("T")


class LiveServerError(RuntimeError):
    """The server did not start (the message carries the tail of its log)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # decoded JSON, or the text when it is not JSON
    headers: Mapping[str, str]

    @property
    def detail(self) -> str | None:
        return self.body.get("detail") if isinstance(self.body, dict) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_request(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Response:
    """One request on its own connection (http.client: no proxy from the environment applies)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    send_headers = {"Accept": "application/json", "Connection": "close", **(headers or {})}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        send_headers["Content-Type"] = "application/json"
    if token:
        send_headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=payload, headers=send_headers)
        answer = connection.getresponse()
        raw = answer.read()
        response_headers = {name.lower(): value for name, value in answer.getheaders()}
        status = answer.status
    finally:
        connection.close()
    text = raw.decode("utf-8", "replace")
    decoded: Any = text
    if response_headers.get("content-type", "").startswith("application/json"):
        try:
            decoded = json.loads(text)
        except ValueError:
            pass
    return Response(status=status, body=decoded, headers=response_headers)


def fire_concurrently(
    count: int, send: Callable[[], T], *, timeout: float = 120.0
) -> list[T | BaseException]:
    """Call `send` from `count` threads released together by a barrier; the results (or the
    exception a call raised) in no particular order."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            result: T | BaseException = send()
        except BaseException as error:  # reported to the caller, never lost in a thread
            result = error
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker, name=f"burst-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(
            f"{sum(t.is_alive() for t in threads)} of {count} requests still running after {timeout} s"
        )
    return results


class LiveServer:
    """CodeDrill under gunicorn in a subprocess (its own process group), on 127.0.0.1:<free port>."""

    def __init__(
        self,
        *,
        database_url: str,
        signing_key_path: str | os.PathLike[str],
        daily_quota: int = 50,
        workers: int = 2,
        threads: int = 8,
        extra_env: Mapping[str, str] | None = None,
        migrate: bool = True,
        collectstatic: bool = True,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.signing_key_path = Path(signing_key_path)
        self.daily_quota = daily_quota
        self.workers = workers
        self.threads = threads
        self.extra_env = dict(extra_env or {})
        self.migrate = migrate
        self.collectstatic = collectstatic
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._own_log = log_path is None
        if log_path is None:
            descriptor, log_path = tempfile.mkstemp(prefix="codedrill-live-", suffix=".log")
            os.close(descriptor)
        self.log_path = Path(log_path)
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._log_handle = None

    # --- the environment and the commands ------------------------------------------------------

    def environment(self, port: int) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in _APP_ENV_NAMES and not name.startswith(_APP_ENV_PREFIXES)
        }
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
        env.update(
            {
                "DEBUG": "0",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "DEV_SIGN_IN": "1",
                "SECURE_SSL_REDIRECT": "0",
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "WEB_CONCURRENCY": str(self.workers),
                "GUNICORN_THREADS": str(self.threads),
                "GUNICORN_ACCESS_LOG": "0",
                "DEV_SIGNING_KEY_PATH": str(self.signing_key_path),
                "DAILY_CHALLENGE_QUOTA": str(self.daily_quota),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_URL": self.database_url,
                "PYTHONUNBUFFERED": "1",
                # Collected apart from the project's staticfiles/, which in-process tests serve.
                "STATIC_ROOT": _static_root(),
                # The server's own calls to fakes on 127.0.0.1 must never go through a proxy.
                "NO_PROXY": no_proxy,
                "no_proxy": no_proxy,
            }
        )
        env.update(self.extra_env)
        return env

    def _manage(self, env: Mapping[str, str], *args: str) -> None:
        command = [sys.executable, "manage.py", *args]
        finished = subprocess.run(
            command, cwd=BASE_DIR, env=dict(env), capture_output=True, text=True, timeout=180
        )
        if finished.returncode != 0:
            raise LiveServerError(
                f"{' '.join(args)} failed with exit code {finished.returncode}:\n"
                f"{finished.stdout[-4000:]}\n{finished.stderr[-4000:]}"
            )

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("The server is not started.")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        if self.process is not None:
            raise RuntimeError("The server is already started.")
        prepared = False  # migrate and collectstatic run once, whatever the retries
        last_error: LiveServerError | None = None
        for _ in range(3):  # another process may take the free port between probe and bind
            port = free_port()
            env = self.environment(port)
            if not prepared:
                try:
                    if self.migrate:
                        self._manage(env, "migrate", "--noinput", "-v0")
                    if self.collectstatic:
                        self._manage(env, "collectstatic", "--noinput", "-v0")
                except BaseException:
                    self.stop()
                    raise
                prepared = True
            try:
                self._spawn(port, env)
                self._wait_healthy()
            except LiveServerError as error:
                self._terminate()
                last_error = error
                if "Address already in use" in str(error):
                    continue
                break
            atexit.register(self.stop)
            return self
        assert last_error is not None
        self.stop()  # the error carries the log's tail; the file goes
        raise last_error

    def _spawn(self, port: int, env: Mapping[str, str]) -> None:
        self.port = port
        self._log_handle = open(self.log_path, "wb")  # noqa: SIM115 -- kept open for the server process; closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"],
            cwd=BASE_DIR,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the master and workers
        )

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise LiveServerError(
                    f"gunicorn exited with code {code} before answering /healthz. Its log:\n{self.log_tail()}"
                )
            try:
                response = http_request(self.url, "GET", "/healthz", timeout=2)
            except OSError as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}: {str(response.body)[:200]}"
            time.sleep(0.1)
        raise LiveServerError(
            f"GET /healthz did not answer 200 within {self.startup_timeout} s (last: {last}). "
            f"The server's log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after stop_timeout seconds. Safe to call twice."""
        atexit.unregister(self.stop)
        self._terminate()
        if self._own_log:
            try:
                self.log_path.unlink()
            except FileNotFoundError:
                pass

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
            # Workers left behind by a master that died are still in the group.
            _signal_group(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- talking to it --------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        return http_request(self.url, method, path, **kwargs)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


# --- databases ------------------------------------------------------------------------------------


def sqlite_database(tmp_dir: str | os.PathLike[str]) -> str:
    """The URL of a fresh SQLite file in tmp_dir (created by the server's migrate)."""
    path = Path(tmp_dir).resolve() / f"{DATABASE_PREFIX}{secrets.token_hex(6)}.sqlite3"
    return f"sqlite:///{path}"


def postgres_available(server_url: str = POSTGRES_SERVER_URL, *, timeout: float = 3.0) -> tuple[bool, str]:
    """(True, "") when PostgreSQL at server_url accepts a connection, else (False, why not)."""
    try:
        import psycopg
    except ImportError:
        return False, "psycopg is not installed"
    try:
        with psycopg.connect(_with_database(server_url, "postgres"), connect_timeout=max(int(timeout), 1)):
            return True, ""
    except psycopg.Error as error:
        return False, f"PostgreSQL is not reachable at {server_url}: {str(error).strip()}"


def postgres_database(server_url: str = POSTGRES_SERVER_URL) -> str:
    """CREATE a fresh database codedrill_live_<random> and return its URL; drop_database() after."""
    import psycopg

    name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
    with psycopg.connect(
        _with_database(server_url, "postgres"), autocommit=True, connect_timeout=5
    ) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return _with_database(server_url, name)


def drop_database(url: str) -> None:
    """Drop a database made by postgres_database() (WITH (FORCE)), or delete a sqlite_database()
    file with its -wal and -shm companions."""
    if url.startswith("sqlite:"):
        path = _sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{path}{suffix}")
            except FileNotFoundError:
                pass
        return
    import psycopg

    name = _database_name(url)
    if not name.startswith(DATABASE_PREFIX):
        raise ValueError(f"Refusing to drop {name!r}: not a database made by postgres_database().")
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sql(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Run one statement on the database at `url` and commit; the rows it returns, if any.

    Placeholders are `%s` for both backends. Dates and datetimes go to SQLite as ISO text, as
    Django stores them; SQLite hands them back as text too (compare with `str(day)`).
    """
    if url.startswith("sqlite:"):
        adapted = [
            value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value for value in params
        ]
        connection = sqlite3.connect(_sqlite_path(url), timeout=20)
        try:
            cursor = connection.execute(sql.replace("%s", "?"), adapted)
            rows = cursor.fetchall() if cursor.description is not None else []
            connection.commit()
            return rows
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as connection:  # commits on a clean exit
        cursor = connection.execute(sql, list(params))
        return cursor.fetchall() if cursor.description is not None else []


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise ValueError(f"Not a SQLite file URL: {url!r}")
    return url[len("sqlite:///") :]


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@functools.cache
def _static_root() -> str:
    """One collectstatic target per process, removed at exit."""
    path = tempfile.mkdtemp(prefix="codedrill-live-static-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
