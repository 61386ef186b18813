"""`make bench`: CodeDrill under load, as production runs it, on SQLite and on PostgreSQL.

    python bench/run.py [--quick] [--backends sqlite,postgres] [--duration N] [--profile DIR]

For each backend: a fresh database; gunicorn with config/gunicorn.conf.py at its default workers
and threads, DEBUG off, static files collected (challengeapp/tests/fakes/live_server.py); the
OpenAI provider pointed at a fake OpenAI-compatible server on 127.0.0.1 (bench/fake_openai.py, its
own process) whose latency the benchmark sets; learners signed in with development session tokens
the server accepts; load from wrk (bench/loadgen.py) and, for the slow-model runs, from Python
threads, one keep-alive connection per learner (bench/clients.py). The results, each next to its
target, are printed and written to docs/BENCHMARKS.md with the machine, the date and the command.

Per backend, in this order: a storm of 32 slow generations as the first requests the freshly
started server serves; GET /api/quota against a one-view Django app under the same gunicorn
(bench/ceiling_app.py) and against that app running /api/quota's one query, run after run in turn; the other reads; quota reads while 8 uploads stall
half-way; generations with an instant model; the first visit's bytes; 8 slow generations; the SQL
queries per page.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BASE_DIR))

import clients  # noqa: E402
import loadgen  # noqa: E402
from loadgen import LoadResult  # noqa: E402

DAILY_QUOTA = 100_000_000
CONNECTIONS = 8
MODEL_SLOW_SECONDS = 2.0
PROBE_INTERVAL = 0.1
STORM_LEARNERS = 32
# GET /api/history with no limit answers the whole history: big bodies, so fewer connections.
HISTORY_ALL_ITEMS = 5_000
HISTORY_ALL_CONNECTIONS = 4
# Uploads that stall: headers and 16 bytes of a 10,000-byte body, then nothing, to each path.
STALLED_UPLOADS = {"/webhooks/clerk": 4, "/api/generate-challenge": 4}
STALLED_CONTENT_LENGTH = 10_000
STALLED_PROBE_INTERVAL = 0.03
STALLED_PROBE_TIMEOUT = 5.0
STALLED_PROBE_LEARNERS = 8
# Set so that the webhook reads its body (unset, it answers 503 before reading it); the stalled
# uploads carry no signature, so once complete they are refused (400).
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"codedrill-bench-webhook-secret!!").decode()

# The targets (issue "Fast under load"), on this 2-core machine.
TARGET_QUOTA_RPS = 2000
TARGET_QUOTA_P99_MS = 15
TARGET_CEILING_RATIO = 0.5
TARGET_HISTORY10_RPS = 1500
TARGET_GENERATE_RPS = 300
TARGET_GEN_8 = 3.6
TARGET_GEN_32 = 14.4  # 90 % of 32 learners / 2 s
TARGET_PROBE_P99_MS = 100
TARGET_STALLED_P99_MS = 100
TARGET_FIRST_VISIT_BYTES = 30 * 1024

# A PostgreSQL backend's title: "postgres: 15/main: <user> <database> <host>(<port>) <state>".
POSTGRES_BACKEND = re.compile(r"^postgres: [^:]+: \S+ \S+ \S+")
# Timestamps and pids at the start of a log line (Django's and gunicorn's formats).
LOG_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T][\d:,.]+\s*|\[[^\]]*\]\s*)+")
# Another process's CPU on the machine (% of one core) above which a run waits for quiet first.
BUSY_MACHINE_PERCENT = 15.0

MEASUREMENTS = ("storm", "ceiling", "reads", "stalled", "generate", "visit", "slow", "queries")

QUOTA = "GET /api/quota"
CEILING = "ceiling app: GET /api/quota (bench/ceiling_app.py)"
ONE_QUERY = "ceiling app + one query: GET /api/quota (bench/ceiling_app.py, CEILING_ONE_QUERY=1)"
HISTORY_10 = "GET /api/history (10 items)"
HISTORY_PAGE = "GET /api/history?limit=50 (1,000 items)"
HISTORY_ALL = f"GET /api/history (all {HISTORY_ALL_ITEMS:,} items)"
PRACTICE_PAGE = "GET / practice page"
HISTORY_HTML = "GET /history/ history page (1,000 items, 20 shown)"
GENERATE_INSTANT = "POST /api/generate-challenge, model instant, 32 learners"
STORM = f"model 2 s, {STORM_LEARNERS} learners, right after start"
SLOW_8 = "model 2 s, 8 learners"

PEERS = """\
Reference figures measured on the FastAPI apps this app replaces (same kind of machine):

| peer measurement | figure |
|---|---|
| generations per second with a 2 s model | ~0.5 /s |
| a quota read while 8 generations run | waits 16–17 s behind them |
| generations in flight | deadlock at 16 |
| best read throughput: GET /api/quota, 8 connections | ~520 req/s, p99 27 ms |
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Django in this process: only to mint development session tokens ------------------------------


def django_for_tokens(signing_key_path: Path) -> None:
    """Settings as the test suite has them (challengeapp/tests/environment.py): DEBUG on, the
    development sign-in, the key the server checks tokens with."""
    os.environ["DEBUG"] = "1"
    for name in (
        "SECRET_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_SECRET_KEY",
        "CLERK_JWT_KEY",
        "CLERK_JWKS_URL",
        "CLERK_AUTHORIZED_PARTIES",
        "CLERK_WEBHOOK_SIGNING_SECRET",
        "DEV_SIGN_IN",
        "DAILY_CHALLENGE_QUOTA",
        "TIME_ZONE",
        "CORS_ALLOWED_ORIGINS",
        "DATABASE_URL",
        "GENERATION_MAX_IN_FLIGHT",
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
    ):
        os.environ.pop(name, None)
    os.environ["DEV_SIGNING_KEY_PATH"] = str(signing_key_path)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def token_for(user_id: str) -> str:
    from challengeapp.services.identity import dev_session_token_issue

    return dev_session_token_issue(user_id=user_id, session_id=f"sess_{user_id}")


# --- the machine ------------------------------------------------------------------------------------


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return (
                    line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip().strip('"')
                )
    except OSError:
        pass
    return "?"


def machine_info() -> dict[str, str]:
    import django
    import gunicorn

    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    try:
        wrk_version = subprocess.run([loadgen.WRK, "-v"], capture_output=True, text=True).stdout.split("\n")[
            0
        ]
        wrk_version = wrk_version.split(" Copyright")[0].strip() or "wrk (version unknown)"
    except OSError:
        wrk_version = "not installed"
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        or str(os.cpu_count()),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "os": f"{_first('/etc/os-release', 'PRETTY_NAME=')}, kernel {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version,
    }


def gunicorn_defaults(overrides: dict[str, str]) -> tuple[int, int, str]:
    """workers, threads and worker class as config/gunicorn.conf.py resolves them with neither
    WEB_CONCURRENCY nor GUNICORN_THREADS set: the production defaults on this machine. (LiveServer
    always sets both, and gunicorn itself rejects an empty WEB_CONCURRENCY, so they are passed as
    these values.)"""
    code = (
        "import json, runpy; c = runpy.run_path('config/gunicorn.conf.py'); "
        "print(json.dumps([c['workers'], c['threads'], c['worker_class']]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "GUNICORN_THREADS")}
    env.update(overrides)  # --server-env experiments only
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    ).stdout
    workers, threads, worker_class = json.loads(out)
    return workers, threads, worker_class


def connections_per_worker(port: int, workers: list[int]) -> dict[int, int]:
    """Established client connections each gunicorn worker holds right now (from `ss`)."""
    try:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {pid: out.count(f"pid={pid},") for pid in workers}


class ConnectionSampler:
    """connections_per_worker() once, `delay` seconds after start(), in a thread."""

    def __init__(self, port: int, workers: list[int], delay: float) -> None:
        self.result: dict[int, int] = {}
        self._thread = threading.Thread(
            target=lambda: (time.sleep(delay), self.result.update(connections_per_worker(port, workers))),
            daemon=True,
        )

    def start(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def split(self) -> str:
        self._thread.join(30)
        return " / ".join(str(count) for count in self.result.values()) if self.result else "?"


def children_of(pid: int) -> list[int]:
    return [child for child, (_, ppid, _, _) in loadgen.process_table().items() if ppid == pid]


# --- results -----------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    target: str
    measured: str
    passed: bool | None  # None: no target, informational


@dataclass
class BackendResult:
    name: str
    database: str = ""
    skipped: str = ""
    loads: dict[str, dict] = field(default_factory=dict)  # label → LoadResult as dict (+ extras)
    generation: dict[str, dict] = field(default_factory=dict)
    ceiling: dict = field(default_factory=dict)
    stalled: dict = field(default_factory=dict)
    first_visit: dict = field(default_factory=dict)
    queries: dict = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    server_log_problems: list[str] = field(default_factory=list)
    max_db_connections: int | None = None
    max_connections_setting: str = ""
    error: str = ""


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms" if value == value else "n/a"


def busy_note(cpu: dict) -> str:
    other = cpu.get("other", 0.0)
    return (
        f" ⚠ other processes used {other:.0f}% of a core meanwhile" if other >= BUSY_MACHINE_PERCENT else ""
    )


def verdict(passed: bool | None) -> str:
    return "—" if passed is None else ("PASS" if passed else "**MISS**")


# --- the fake model -------------------------------------------------------------------------------


class FakeModel:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "fake_openai.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the fake OpenAI server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        from challengeapp.tests.fakes.live_server import http_request

        response = http_request(self.url, method, path, body=body, timeout=10)
        if response.status != 200:
            raise RuntimeError(f"fake model {method} {path}: {response.status}")
        return response.body

    def set_delay(self, seconds: float) -> None:
        self._call("PUT", "/_bench/delay", {"seconds": seconds})

    def reset(self) -> None:
        self._call("POST", "/_bench/reset", {})

    def stats(self) -> dict:
        return self._call("GET", "/_bench/stats")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=5)


# --- profiling (optional, --profile DIR) ----------------------------------------------------------


class Profiler:
    """py-spy record (raw collapsed stacks) on every gunicorn worker for one run, then a summary of
    the hottest functions (self time and inclusive time) in DIR/<backend>-<run>-summary.txt.
    Only the thread holding the GIL is sampled (--gil), so the shares are of the Python CPU time,
    not of wall time with idle threads waiting in it."""

    def __init__(self, directory: Path | None, pids: list[int], name: str, seconds: float) -> None:
        self.directory, self.pids, self.name, self.seconds = directory, pids, name, seconds
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def __enter__(self) -> Profiler:
        if self.directory is None:
            return self
        py_spy = Path(sys.executable).parent / "py-spy"
        if not py_spy.exists():
            log("py-spy is not installed in the venv (.venv/bin/pip install py-spy): no profile")
            self.directory = None
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        for pid in self.pids:
            out = self.directory / f"{self.name}-{pid}.txt"
            command = [
                str(py_spy),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(int(self.seconds), 1)),
                "--rate",
                "100",
                "--format",
                "raw",
                "--nonblocking",
                "--gil",
                "-o",
                str(out),
            ]
            self.processes.append(
                (subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.directory is None:
            return
        stacks: dict[str, int] = {}
        for process, out in self.processes:
            try:
                process.wait(timeout=self.seconds + 30)
            except subprocess.TimeoutExpired:
                process.kill()
            if out.exists():
                for line in out.read_text().splitlines():
                    stack, _, count = line.rpartition(" ")
                    if count.isdigit():
                        stacks[stack] = stacks.get(stack, 0) + int(count)
        total = sum(stacks.values()) or 1
        self_time: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        for stack, count in stacks.items():
            frames = stack.split(";")
            self_time[frames[-1]] = self_time.get(frames[-1], 0) + count
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + count
        lines = [f"{self.name}: {total} samples over {len(self.pids)} workers", "", "self time:"]
        lines += [
            f"{100 * c / total:5.1f}%  {f}" for f, c in sorted(self_time.items(), key=lambda i: -i[1])[:40]
        ]
        lines += ["", "inclusive time:"]
        lines += [
            f"{100 * c / total:5.1f}%  {f}" for f, c in sorted(inclusive.items(), key=lambda i: -i[1])[:80]
        ]
        (self.directory / f"{self.name}-summary.txt").write_text("\n".join(lines) + "\n")


# --- one backend --------------------------------------------------------------------------------------


class BackendBench:
    def __init__(
        self,
        *,
        name: str,
        args: argparse.Namespace,
        tmp: Path,
        signing_key: Path,
        fake: FakeModel,
        stack: ExitStack,
    ) -> None:
        self.name, self.args, self.tmp, self.signing_key, self.fake, self.stack = (
            name,
            args,
            tmp,
            signing_key,
            fake,
            stack,
        )
        self.result = BackendResult(name=name)
        self.server = None
        self.ceilings: list = []  # the ceiling apps' servers, while they run
        self.database_url = ""
        self.server_config: tuple[int, int, str] | None = None
        self.use_wrk = args.use_wrk

    # infrastructure

    def start(self) -> bool:
        from challengeapp.tests.fakes import live_server as ls

        if self.name == "sqlite":
            self.database_url = ls.sqlite_database(self.tmp)
            self.result.database = f"SQLite {sqlite3.sqlite_version} (WAL), file on local disk"
        else:
            ok, why = ls.postgres_available()
            if not ok:
                self.result.skipped = why
                log(f"{self.name}: skipped: {why}")
                return False
            self.database_url = ls.postgres_database()
            version = ls.run_sql(self.database_url, "SHOW server_version")[0][0]
            self.result.max_connections_setting = ls.run_sql(self.database_url, "SHOW max_connections")[0][0]
            self.result.database = f"PostgreSQL {version} on 127.0.0.1 (same machine)"
        self.stack.callback(self._drop, self.database_url)
        self.server_config = gunicorn_defaults(self.args.server_env)
        extra_env = {
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": self.fake.base_url,
            "GUNICORN_ACCESS_LOG": "1" if self.args.access_log else "0",
            "CLERK_WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET,
            **self.args.server_env,
        }
        self.server = ls.LiveServer(
            database_url=self.database_url,
            signing_key_path=self.signing_key,
            daily_quota=DAILY_QUOTA,
            workers=self.server_config[0],
            threads=self.server_config[1],
            extra_env=extra_env,
            log_path=self.tmp / f"gunicorn-{self.name}.log",
            startup_timeout=60,
        )
        log(
            f"{self.name}: starting gunicorn (migrate, collectstatic, {self.server_config[0]} workers × "
            f"{self.server_config[1]} threads, {self.server_config[2]})"
        )
        self.server.start()
        self.stack.callback(self.server.stop)
        workers = children_of(self.server.process.pid)
        if len(workers) != self.server_config[0]:
            time.sleep(1)
            workers = children_of(self.server.process.pid)
        log(f"{self.name}: gunicorn master {self.server.process.pid}, workers {workers}")
        return True

    @staticmethod
    def _drop(url: str) -> None:
        from challengeapp.tests.fakes.live_server import drop_database

        try:
            drop_database(url)
        except Exception as error:
            log(f"could not drop {url}: {error}")

    def database_connections(self) -> int | None:
        """PostgreSQL connections the server holds (a pool per worker process)."""
        if self.name != "postgres":
            return None
        from challengeapp.tests.fakes.live_server import run_sql

        rows = run_sql(
            self.database_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()",
        )
        count = int(rows[0][0])
        self.result.max_db_connections = max(self.result.max_db_connections or 0, count)
        return count

    def worker_pids(self, server=None) -> list[int]:
        return children_of((server or self.server).process.pid)

    def cpu_meter(self) -> loadgen.CpuMeter:
        # Each gunicorn is its own process group; the ceiling app's, while it runs, counts as gunicorn.
        masters = {server.process.pid for server in (self.server, *self.ceilings) if server is not None}
        fake_pid = self.fake.process.pid
        me = os.getpid()
        database = urlsplit(self.database_url).path.lstrip("/") if self.name == "postgres" else None

        def ours_postgres(pid: int, comm: str, ppid: int, pgid: int) -> bool:
            # Our database's backends and the shared auxiliary processes (WAL writer, checkpointer…);
            # other databases' backends (someone else's tests) count as "other".
            if database is None or not comm.startswith("postgres"):
                return False
            cmdline = loadgen.cmdline(pid)
            return f" {database} " in cmdline or not POSTGRES_BACKEND.search(cmdline)

        return loadgen.CpuMeter(
            {
                "gunicorn": lambda pid, comm, ppid, pgid: pgid in masters,
                "postgres": ours_postgres,
                "fake model": lambda pid, comm, ppid, pgid: pid == fake_pid,
                # wrk / the prober (children that ended are added from RUSAGE_CHILDREN) and our threads
                "load generator": lambda pid, comm, ppid, pgid: (
                    pid == me or (ppid == me and comm != "py-spy")
                ),
            }
        )

    def wait_for_quiet(self, label: str) -> float:
        """Wait (within --quiet-wait per run and --quiet-budget overall) until processes that are not
        ours use less than BUSY_MACHINE_PERCENT of a core; returns that share at the last look."""
        waited_since = time.monotonic()
        while True:
            meter = self.cpu_meter()
            meter.start()
            time.sleep(1.0)
            other = meter.stop()["other"]
            waited = time.monotonic() - waited_since
            if other < BUSY_MACHINE_PERCENT:
                break
            if waited >= self.args.quiet_wait or self.args.quiet_spent + waited >= self.args.quiet_budget:
                log(
                    f"{self.name}: {label}: the machine is still busy (other processes {other:.0f}% of a core); "
                    f"measuring anyway"
                )
                break
            if waited < 1.5:
                log(f"{self.name}: {label}: other processes use {other:.0f}% of a core; waiting for quiet")
        self.args.quiet_spent += time.monotonic() - waited_since
        return other

    def django_task(self, *task_args: str) -> dict:
        env = {**os.environ, "DEV_SIGNING_KEY_PATH": str(self.signing_key)}
        finished = subprocess.run(
            [sys.executable, str(BENCH_DIR / "django_tasks.py"), *task_args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        line = next((row for row in finished.stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
        if finished.returncode != 0 or line is None:
            raise RuntimeError(
                f"django_tasks {task_args[0]} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
            )
        return json.loads(line[len("BENCH_JSON ") :])

    def request(self, method: str, path: str, **kwargs):
        return self.server.request(method, path, **kwargs)

    # the measurements

    def load_spec(
        self,
        *,
        server=None,
        method: str = "GET",
        path: str,
        token: str | None = None,
        cookie: str | None = None,
        body: dict | None = None,
        rotate_tokens: list[str] | None = None,
        connections: int = CONNECTIONS,
    ) -> dict:
        headers = {"Accept": "application/json" if path.startswith("/api/") else "text/html"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = f"__session={cookie}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        rotate = ("Authorization", [f"Bearer {t}" for t in rotate_tokens]) if rotate_tokens else None
        return {
            "server": server or self.server,
            "method": method,
            "path": path,
            "headers": headers,
            "body": payload,
            "connections": connections,
            "rotate_header": rotate,
        }

    def drive(self, spec: dict, duration: float) -> LoadResult:
        runner = loadgen.run_wrk if self.use_wrk else loadgen.run_asyncio
        request = {key: value for key, value in spec.items() if key != "server"}
        return runner(spec["server"].url, duration=duration, **request)

    def measured_run(self, label: str, spec: dict, number: int, of: int) -> tuple[LoadResult, str]:
        """One run on new connections (how they split between the workers is drawn again each time)."""
        server, duration = spec["server"], self.args.duration
        meter = self.cpu_meter()
        sampler = ConnectionSampler(server.port, self.worker_pids(server), duration / 2)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        with Profiler(
            self.args.profile if number == 0 else None,
            self.worker_pids(server),
            f"{self.name}-{safe}",
            duration,
        ):
            meter.start()
            sampler.start()
            result = self.drive(spec, duration)
            result.cpu = meter.stop()
        split = sampler.split()
        log(
            f"{self.name}: {label} (run {number + 1} of {of}): {result.rps:,.0f} req/s, "
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, errors {result.errors} "
            f"{result.bad_statuses or ''}, connections per worker {split}, cpu {result.cpu}"
        )
        return result, split

    def record(self, label: str, spec: dict, runs: list[tuple[LoadResult, str]]) -> LoadResult:
        """The median run (by req/s), with every run's req/s and all runs' errors."""
        result, split = sorted(runs, key=lambda run: run[0].rps)[len(runs) // 2]
        self.result.loads[label] = {
            **asdict(result),
            "rps": result.rps,
            "errors": sum(run.errors for run, _split in runs),
            "runs_rps": [run.rps for run, _split in runs],
            "method": spec["method"],
            "path": spec["path"],
            "connections": spec["connections"],
            "split": split,
            "db_connections": self.database_connections(),
        }
        return result

    def load(self, label: str, **request: Any) -> LoadResult:
        """A warm-up (connections, code paths), then --repeat runs; the median is reported."""
        spec = self.load_spec(**request)
        self.wait_for_quiet(label)
        self.drive(spec, self.args.warmup)
        runs = [
            self.measured_run(label, spec, number, self.args.repeat) for number in range(self.args.repeat)
        ]
        return self.record(label, spec, runs)

    def quota_against_ceiling(self, token: str) -> None:
        """GET /api/quota, the ceiling app and the ceiling app with one query (same gunicorn config,
        workers and threads), run after run in turn, so that whatever else the machine does
        meanwhile weighs on all alike."""
        ceiling = ceiling_server(self.server, self.tmp / f"gunicorn-{self.name}-ceiling.log")
        one_query = ceiling_server(
            self.server, self.tmp / f"gunicorn-{self.name}-ceiling-one-query.log", one_query=True
        )
        log(f"{self.name}: starting the ceiling apps under the same gunicorn config")
        try:
            for server in (ceiling, one_query):
                self.ceilings.append(server)
                server.start()
            specs = {
                QUOTA: self.load_spec(path="/api/quota", token=token),
                CEILING: self.load_spec(server=ceiling, path="/api/quota", token=token),
                ONE_QUERY: self.load_spec(server=one_query, path="/api/quota", token=token),
            }
            self.wait_for_quiet("quota against the ceiling")
            for spec in specs.values():
                self.drive(spec, self.args.warmup)
            runs: dict[str, list] = {label: [] for label in specs}
            for number in range(self.args.repeat):
                for label, spec in specs.items():
                    runs[label].append(self.measured_run(label, spec, number, self.args.repeat))
            quota, ceiling, floor = (
                self.record(label, specs[label], runs[label]) for label in (QUOTA, CEILING, ONE_QUERY)
            )
        finally:
            for server in self.ceilings:
                server.stop()
            self.ceilings = []
        self.result.ceiling = {
            "ratio": quota.rps / ceiling.rps if ceiling.rps else 0.0,
            "one_query_ratio": floor.rps / ceiling.rps if ceiling.rps else 0.0,
            "pairs": [
                (quota_run.rps, ceiling_run.rps)
                for (quota_run, _), (ceiling_run, _) in zip(runs[QUOTA], runs[CEILING])
            ],
            "one_query_pairs": [
                (floor_run.rps, ceiling_run.rps)
                for (floor_run, _), (ceiling_run, _) in zip(runs[ONE_QUERY], runs[CEILING])
            ],
        }
        log(
            f"{self.name}: quota / ceiling = {self.result.ceiling['ratio']:.2f}, "
            f"one query / ceiling = {self.result.ceiling['one_query_ratio']:.2f}"
        )

    def stalled_uploads(self, stall_tokens: list[str], probe_tokens: list[str]) -> dict:
        """Uploads that stall after their headers and a few bytes, held open while other learners
        read their quota, each probe on a new connection (so spread over the workers)."""
        label = "stalled uploads"
        self.wait_for_quiet(label)
        self.fake.set_delay(0)  # the generations complete at once when the uploads resume
        tokens = iter(stall_tokens)
        uploads = [
            clients.StalledUpload(
                self.server.url,
                path,
                content_length=STALLED_CONTENT_LENGTH,
                token=next(tokens) if path.startswith("/api/") else None,
            )
            for path, count in STALLED_UPLOADS.items()
            for _ in range(count)
        ]
        try:
            time.sleep(0.5)  # the server's threads have taken the requests and wait for the rest
            split = " / ".join(
                str(count) for count in connections_per_worker(self.server.port, self.worker_pids()).values()
            )
            window = self.args.stalled_window
            prober = clients.Prober(
                self.server.url,
                probe_tokens,
                interval=STALLED_PROBE_INTERVAL,
                duration=window,
                new_connection=True,
                timeout=STALLED_PROBE_TIMEOUT,
            )
            meter = self.cpu_meter()
            meter.start()
            prober.start()
            probe = prober.result()
            cpu = meter.stop()
            held = sum(not upload.answered() for upload in uploads)
        finally:
            finished = Counter(upload.finish() for upload in uploads)
        result = {
            "uploads": len(uploads),
            "held": held,
            "window_s": window,
            "split": split,
            "probe": probe,
            "resumed": {str(status): count for status, count in sorted(finished.items())},
            "cpu": cpu,
        }
        self.result.stalled = result
        log(
            f"{self.name}: {label}: {held} of {len(uploads)} held open unanswered (connections per worker "
            f"{split}); quota probes p50 {probe['p50_ms']:.1f} ms, p99 {probe['p99_ms']:.1f} ms, max "
            f"{probe['max_ms']:.1f} ms over {probe['samples']}, errors {probe['errors']} {probe['statuses']}; "
            f"resumed: {result['resumed']}"
        )
        return result

    def generation(
        self, label: str, learners: list[str], probe_token: str, window: float, *, warm: bool = True
    ) -> dict:
        """Learners loop POST /api/generate-challenge against the 2 s model. warm: each signs in
        first (their first request) before the clock starts; otherwise their generations are the
        first requests the server sees from them."""
        tokens = [token_for(user) for user in learners]
        if warm:
            for token in tokens:
                response = self.request("GET", "/api/quota", token=token)
                assert response.status == 200, response
        self.wait_for_quiet(label)
        self.fake.set_delay(MODEL_SLOW_SECONDS)
        self.fake.reset()
        prober = clients.Prober(
            self.server.url, [probe_token], interval=PROBE_INTERVAL, duration=window + MODEL_SLOW_SECONDS
        )
        meter = self.cpu_meter()
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        sampler = ConnectionSampler(self.server.port, self.worker_pids(), window / 2)
        with Profiler(self.args.profile, self.worker_pids(), f"{self.name}-{safe}", window):
            meter.start()
            prober.start()
            sampler.start()
            run = clients.generation_load(self.server.url, tokens, window=window)
            cpu = meter.stop()
            probe = prober.result()
        stats = self.fake.stats()
        self.fake.set_delay(0)
        latencies = sorted(run.latencies_ms)
        result = {
            "learners": len(learners),
            "warm": warm,
            "window_s": window,
            "elapsed_s": run.elapsed_s,
            "created": run.created,
            "per_second": run.per_second,
            "ideal_per_second": len(learners) / MODEL_SLOW_SECONDS,
            "lost": run.lost,
            "failures": run.failures,
            "timeouts": run.timeouts,
            "latency_p50_ms": loadgen.percentile(latencies, 50),
            "latency_p99_ms": loadgen.percentile(latencies, 99),
            "model_calls": stats["requests"],
            "model_max_in_flight": stats["max_in_flight"],
            "probe": probe,
            "cpu": cpu,
            "split": sampler.split(),
            "db_connections": self.database_connections(),
        }
        self.result.generation[label] = result
        log(
            f"{self.name}: {label}: {run.created} created in {run.elapsed_s:.1f} s = {run.per_second:.2f}/s, "
            f"lost {run.lost} {run.failures or ''}, model calls {stats['requests']} (max {stats['max_in_flight']} at once), "
            f"quota probe p99 {probe['p99_ms']:.1f} ms over {probe['samples']} samples, errors {probe['errors']}, "
            f"connections per worker {result['split']}"
        )
        return result

    def sanity(self, tokens: dict[str, str]) -> None:
        """The requests the load repeats answer what they should, before any load."""
        quota = self.request("GET", "/api/quota", token=tokens["reader"])
        assert quota.status == 200 and quota.body["daily_limit"] == DAILY_QUOTA, quota
        for key, path, expected in (
            ("hist10", "/api/history", 10),
            ("hist1000", "/api/history?limit=50", 50),
            ("hist5000", "/api/history", HISTORY_ALL_ITEMS),  # no limit: the whole history
        ):
            history = self.request("GET", path, token=tokens[key])
            assert history.status == 200 and len(history.body) == expected, (
                f"GET {path} for {key}: {history.status}, "
                f"{len(history.body) if isinstance(history.body, list) else str(history.body)[:300]} "
                f"items, expected {expected}"
            )
        for path in ("/", "/history/"):
            page = self.request(
                "GET", path, headers={"Cookie": f"__session={tokens['hist1000']}", "Accept": "text/html"}
            )
            assert page.status == 200 and "Sign out" in page.body, (path, page.status, str(page.body)[:300])
        self.fake.set_delay(0)
        generated = self.request(
            "POST", "/api/generate-challenge", token=tokens["reader"], body={"difficulty": "easy"}
        )
        assert generated.status == 201 and generated.body["provider"] == "openai", (
            generated.status,
            generated.body,
        )

    def run(self) -> BackendResult:
        args = self.args
        if not self.start():
            return self.result
        users = {
            "reader": "user_bench_reader",
            "hist10": "user_bench_hist10",
            "hist1000": "user_bench_hist1000",
            "hist5000": f"user_bench_hist{HISTORY_ALL_ITEMS}",
        }
        storm_learners = [f"user_bench_storm_{i:02d}" for i in range(1, STORM_LEARNERS + 1)]
        log(f"{self.name}: seeding histories of 10, 1,000 and {HISTORY_ALL_ITEMS:,} challenges")
        self.django_task(
            "seed",
            "--database-url",
            self.database_url,
            "--learner",
            f"{users['hist10']}:10",
            "--learner",
            f"{users['hist1000']}:1000",
            "--learner",
            f"{users['hist5000']}:{HISTORY_ALL_ITEMS}",
            "--learner",
            f"{users['reader']}:0",
            *(argument for learner in storm_learners for argument in ("--learner", f"{learner}:0")),
        )
        tokens = {key: token_for(user) for key, user in users.items()}

        if "storm" in args.only:
            # The server has answered nothing but /healthz yet: fresh processes, as after a deploy,
            # with learners who already have accounts.
            self.generation(STORM, storm_learners, tokens["reader"], args.generation_window, warm=False)
        self.sanity(tokens)
        fast_learners = [token_for(f"user_bench_fast_{i:02d}") for i in range(1, 33)]
        stall_learners = [token_for(f"user_bench_stall_{i:02d}") for i in range(1, 5)]
        probe_learners = [
            token_for(f"user_bench_probe_{i:02d}") for i in range(1, STALLED_PROBE_LEARNERS + 1)
        ]
        for token in fast_learners + stall_learners + probe_learners:
            self.request("GET", "/api/quota", token=token)

        if "ceiling" in args.only:
            self.quota_against_ceiling(tokens["reader"])
        if "reads" in args.only:
            self.load(HISTORY_10, path="/api/history", token=tokens["hist10"])
            self.load(HISTORY_PAGE, path="/api/history?limit=50", token=tokens["hist1000"])
            self.load(
                HISTORY_ALL,
                path="/api/history",
                token=tokens["hist5000"],
                connections=HISTORY_ALL_CONNECTIONS,
            )
            self.load(PRACTICE_PAGE, path="/", cookie=tokens["hist1000"])
            self.load(HISTORY_HTML, path="/history/", cookie=tokens["hist1000"])
        if "stalled" in args.only:
            self.stalled_uploads(stall_learners, probe_learners)
        if "generate" in args.only:
            self.fake.set_delay(0)
            self.fake.reset()
            # More learners than connections, each request the next one's: per-learner limits on
            # generations in flight never come into play.
            self.load(
                GENERATE_INSTANT,
                method="POST",
                path="/api/generate-challenge",
                body={"difficulty": "easy"},
                rotate_tokens=fast_learners,
            )
            self.result.loads[GENERATE_INSTANT]["model_calls"] = self.fake.stats()["requests"]
        if "visit" in args.only:
            log(f"{self.name}: first visit of the practice page")
            self.result.first_visit = clients.first_visit(self.server.url, tokens["hist10"])
        if "slow" in args.only:
            self.generation(
                SLOW_8,
                [f"user_bench_slow8_{i:02d}" for i in range(1, 9)],
                tokens["reader"],
                args.generation_window,
            )

        if self.server.process.poll() is not None:
            self.result.notes.append(f"gunicorn exited during the run (code {self.server.process.poll()})")
        problems: dict[str, int] = {}
        for line in self.server.log_tail(50_000_000).splitlines():
            if (
                any(
                    marker in line
                    for marker in ("Traceback", "ERROR", "CRITICAL", "WORKER TIMEOUT", "Worker exiting")
                )
                and "Handling signal" not in line
            ):
                message = LOG_PREFIX.sub("", line).strip()[:240]
                problems[message] = problems.get(message, 0) + 1
        self.result.server_log_problems = [
            f"{count}× {message}" for message, count in list(problems.items())[:20]
        ]

        if "queries" not in args.only:
            return self.result
        log(f"{self.name}: SQL queries per page (in-process, throwaway database)")
        from challengeapp.tests.fakes import live_server as ls

        throwaway = ls.sqlite_database(self.tmp) if self.name == "sqlite" else ls.postgres_database()
        try:
            self.result.queries = self.django_task("queries", "--database-url", throwaway)
        finally:
            self._drop(throwaway)
        return self.result


def ceiling_server(server, log_path: Path, *, one_query: bool = False):
    """bench/ceiling_app.py under gunicorn with the environment, config, workers and threads of
    `server` (a LiveServer), on a port of its own; with `one_query`, its one-query variant on the
    same database."""
    from challengeapp.tests.fakes.live_server import LiveServer

    class CeilingServer(LiveServer):
        def _spawn(self, port: int, env) -> None:
            self.port = port
            self._log_handle = open(self.log_path, "wb")  # noqa: SIM115 -- closed in stop()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "config/gunicorn.conf.py",
                    "bench.ceiling_app:application",
                ],
                cwd=BASE_DIR,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    return CeilingServer(
        database_url=server.database_url,
        signing_key_path=server.signing_key_path,
        daily_quota=server.daily_quota,
        workers=server.workers,
        threads=server.threads,
        extra_env={**server.extra_env, "CEILING_ONE_QUERY": "1" if one_query else "0"},
        migrate=False,
        collectstatic=False,
        startup_timeout=60,
        log_path=log_path,
    )


# --- the verdicts ---------------------------------------------------------------------------------


def evaluate(result: BackendResult) -> None:
    rows = result.rows
    loads = result.loads

    def load_rows(
        label: str, short: str, rps_target: float | None = None, p99_target: float | None = None
    ) -> None:
        load = loads.get(label)
        if load is None:
            return
        runs = load.get("runs_rps", [])
        all_runs = f"; runs {' / '.join(fmt_int(rps) for rps in runs)} req/s" if len(runs) > 1 else ""
        measured = (
            f"{fmt_int(load['rps'])} req/s (p50 {fmt_ms(load['p50_ms'])}, p99 {fmt_ms(load['p99_ms'])}; "
            f"connections per worker {load['split']}{all_runs})" + busy_note(load["cpu"])
        )
        if rps_target is not None:
            rows.append(
                Row(
                    f"{short}: throughput",
                    f"≥ {fmt_int(rps_target)} req/s",
                    measured,
                    load["rps"] >= rps_target,
                )
            )
        else:
            rows.append(Row(f"{short}", "—", measured, None))
        if p99_target is not None:
            rows.append(
                Row(
                    f"{short}: p99 latency",
                    f"< {p99_target} ms",
                    fmt_ms(load["p99_ms"]) + busy_note(load["cpu"]),
                    load["p99_ms"] < p99_target,
                )
            )

    def generation_row(label: str, what: str, target: float) -> None:
        gen = result.generation.get(label)
        if gen is None:
            return
        lost = ""
        if gen["lost"]:
            causes = [f"{count}× HTTP {failure.split(':')[0]}" for failure, count in gen["failures"].items()]
            causes += [f"{gen['timeouts']}× timeout"] if gen["timeouts"] else []
            lost = f" ({', '.join(causes)})"
        rows.append(
            Row(
                what,
                f"≥ {target} /s (90 % of ideal), none lost",
                f"{gen['per_second']:.2f} /s = {100 * gen['per_second'] / gen['ideal_per_second']:.0f} % of ideal "
                f"{gen['ideal_per_second']:.0f}/s ({gen['created']} in {gen['elapsed_s']:.1f} s), "
                f"lost {gen['lost']}{lost}" + busy_note(gen["cpu"]),
                gen["per_second"] >= target and gen["lost"] == 0,
            )
        )

    def probe_row(what: str, probe: dict, target: float | None, cpu: dict) -> None:
        failed = f", {probe['errors']} failed {probe['statuses']}" if probe["errors"] else ", none failed"
        rows.append(
            Row(
                what,
                f"< {target} ms, none failed" if target else "—",
                f"{fmt_ms(probe['p99_ms'])} (p50 {fmt_ms(probe['p50_ms'])}, max {fmt_ms(probe['max_ms'])}, "
                f"{probe['samples']} probes{failed})" + busy_note(cpu),
                probe["p99_ms"] < target and probe["errors"] == 0 if target else None,
            )
        )

    storm = result.generation.get(STORM)
    if storm:
        generation_row(
            STORM,
            f"Generations/s, model 2 s, {storm['learners']} learners at once, the first requests after a start",
            TARGET_GEN_32,
        )
        probe_row(
            "GET /api/quota every 100 ms during that storm: p99",
            storm["probe"],
            TARGET_PROBE_P99_MS,
            storm["cpu"],
        )

    load_rows(QUOTA, "GET /api/quota, 8 connections", TARGET_QUOTA_RPS, TARGET_QUOTA_P99_MS)
    load_rows(CEILING, "Ceiling: a one-view Django app, same gunicorn, 8 connections")
    if result.ceiling:
        pairs = " / ".join(f"{quota / ceiling:.2f}" for quota, ceiling in result.ceiling["pairs"] if ceiling)
        rows.append(
            Row(
                "GET /api/quota ÷ the ceiling (median req/s of runs taken in turn)",
                f"≥ {TARGET_CEILING_RATIO}",
                f"{result.ceiling['ratio']:.2f} ({fmt_int(loads[QUOTA]['rps'])} / {fmt_int(loads[CEILING]['rps'])} "
                f"req/s; run by run {pairs})",
                result.ceiling["ratio"] >= TARGET_CEILING_RATIO,
            )
        )
    load_rows(ONE_QUERY, "Ceiling + one query: the same view, also running /api/quota's SQL query")
    if result.ceiling.get("one_query_pairs"):
        pairs = " / ".join(
            f"{floor / ceiling:.2f}" for floor, ceiling in result.ceiling["one_query_pairs"] if ceiling
        )
        rows.append(
            Row(
                "Ceiling + one query ÷ the ceiling: the most a view reading the database once reaches",
                "—",
                f"{result.ceiling['one_query_ratio']:.2f} ({fmt_int(loads[ONE_QUERY]['rps'])} / "
                f"{fmt_int(loads[CEILING]['rps'])} req/s; run by run {pairs})",
                None,
            )
        )
    load_rows(HISTORY_10, "GET /api/history, 10 items, 8 connections", TARGET_HISTORY10_RPS)
    load_rows(HISTORY_PAGE, "GET /api/history?limit=50, 1,000 items, 8 connections")
    load_rows(
        HISTORY_ALL,
        f"GET /api/history, no limit: all {HISTORY_ALL_ITEMS:,} items, {HISTORY_ALL_CONNECTIONS} connections",
    )
    load_rows(PRACTICE_PAGE, "GET / (practice page, signed in), 8 connections")
    load_rows(HISTORY_HTML, "GET /history/ (1,000 items, 20 shown), 8 connections")

    stalled = result.stalled
    if stalled:
        probe = stalled["probe"]
        held = stalled["held"] == stalled["uploads"]
        failed = f"{probe['errors']} failed {probe['statuses']}" if probe["errors"] else "none failed"
        rows.append(
            Row(
                f"GET /api/quota (other learners, new connections, every {STALLED_PROBE_INTERVAL * 1000:.0f} ms) "
                f"while {stalled['uploads']} uploads stall: p99",
                f"< {TARGET_STALLED_P99_MS} ms, none failed",
                f"{fmt_ms(probe['p99_ms'])} (p50 {fmt_ms(probe['p50_ms'])}, max {fmt_ms(probe['max_ms'])}, "
                f"{probe['samples']} probes, {failed}; {stalled['held']} of {stalled['uploads']} uploads held open "
                f"unanswered, connections per worker {stalled['split']})" + busy_note(stalled["cpu"]),
                probe["p99_ms"] < TARGET_STALLED_P99_MS and probe["errors"] == 0 and held,
            )
        )

    load_rows(
        GENERATE_INSTANT,
        "POST /api/generate-challenge, model instant, 8 connections / 32 learners",
        TARGET_GENERATE_RPS,
    )
    generation_row(SLOW_8, "Generations/s, model 2 s, 8 learners at once", TARGET_GEN_8)
    if SLOW_8 in result.generation:
        gen = result.generation[SLOW_8]
        probe_row("GET /api/quota every 100 ms while 8 generate: p99", gen["probe"], None, gen["cpu"])

    visit = result.first_visit
    if visit:
        rows.append(
            Row(
                "First visit of the practice page (HTML + CSS + JS, gzip/br as served)",
                f"≤ {TARGET_FIRST_VISIT_BYTES // 1024} KB",
                f"{visit['wire_bytes'] / 1024:.1f} KB on the wire: {visit['body_bytes'] / 1024:.1f} KB bodies + "
                f"{(visit['wire_bytes'] - visit['body_bytes']) / 1024:.1f} KB headers, {len(visit['resources'])} responses "
                f"({visit['decoded_bytes'] / 1024:.1f} KB uncompressed)",
                visit["wire_bytes"] <= TARGET_FIRST_VISIT_BYTES,
            )
        )

    if result.queries:
        small, large = (str(length) for length in result.queries["lengths"])
        for page in result.queries["pages"]:
            counts = page["counts"]
            ok = counts[small] == counts[large] and all(status == 200 for status in page["statuses"].values())
            rows.append(
                Row(
                    f"SQL queries: {page['label']}",
                    f"equal for {int(small):,} and {int(large):,} items",
                    f"{counts[small]} / {counts[large]}",
                    ok,
                )
            )

    if result.error:
        rows.append(Row("The whole run completed", "yes", f"no: {result.error[:200]}", False))
    errors = sum(load["errors"] for load in loads.values())
    errors += sum(gen["lost"] + gen["probe"]["errors"] for gen in result.generation.values())
    errors += stalled["probe"]["errors"] if stalled else 0
    errors += visit.get("errors", 0) if visit else 0
    rows.append(
        Row(
            "Errors under every load (non-2xx, socket errors, timeouts, lost generations, failed probes)",
            "0",
            str(errors),
            errors == 0,
        )
    )


# --- the report -------------------------------------------------------------------------------------


def markdown_report(
    *,
    results: list[BackendResult],
    machine: dict,
    command: str,
    started: dt.datetime,
    wall_s: float,
    args: argparse.Namespace,
    server_config,
    in_flight: int,
) -> str:
    out: list[str] = []
    add = out.append
    add("# CodeDrill benchmarks")
    add("")
    add("Generated by `make bench` (`bench/run.py`); do not edit by hand — run it again.")
    add("")
    add(f"- **Date**: {started.strftime('%Y-%m-%d %H:%M UTC')}")
    add(f"- **Command**: `{command}` (wall time of the script: {wall_s / 60:.1f} min)")
    add(
        f"- **Machine**: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, {machine['os']}"
    )
    add(
        f"- **Software**: Python {machine['python']}, Django {machine['django']}, gunicorn {machine['gunicorn']}, "
        f"SQLite {machine['sqlite']}, {machine['wrk']}"
    )
    if server_config:
        workers, threads, worker_class = server_config
        add(
            f"- **Server**: gunicorn `-c config/gunicorn.conf.py` at its defaults: {workers} workers × {threads} threads "
            f"({worker_class}), DEBUG=0, static files collected (WhiteNoise), access log "
            f"{'on (as in production)' if args.access_log else 'off'}, GENERATION_MAX_IN_FLIGHT={in_flight} per process, "
            f"DAILY_CHALLENGE_QUOTA={DAILY_QUOTA:,}"
        )
    add(
        f"- **Load**: {'wrk' if args.use_wrk else 'an asyncio keep-alive client (bench/loadgen.py) instead of wrk; its CPU is the load generator column'}, "
        f"{CONNECTIONS} keep-alive connections, {args.duration:g} s per run after a {args.warmup:g} s warm-up, "
        f"{args.repeat} run{'s' if args.repeat > 1 else ''} per measurement on new connections "
        f"(the median run is reported, every run's req/s beside it; errors count over all runs); "
        f"non-2xx answers count as errors. Slow-model runs: one Python thread and one keep-alive connection per "
        f"learner, each looping POST /api/generate-challenge for {args.generation_window:g} s (a request under way "
        f"when the window closes is waited for), while a separate process GETs /api/quota every 100 ms; the "
        f"{STORM_LEARNERS}-learner run comes first, the first requests the freshly started server serves after "
        f"/healthz (its learners have accounts, as after a deploy)."
    )
    add(
        "- **Ceiling**: bench/ceiling_app.py, one Django view answering a body like /api/quota's, with no "
        "middleware, no database, no installed apps, served by the same `gunicorn -c config/gunicorn.conf.py` "
        "with the same workers, threads and access log. Beside it, the same app with CEILING_ONE_QUERY=1: "
        "its view also runs the SQL query /api/quota runs, on the product's database settings (pool, "
        "server-side binding), so its rate is the most any view reading the database once can reach on "
        "that backend. GET /api/quota, the ceiling and the one-query app are run in turn "
        f"(quota, ceiling, one query, quota…, {args.repeat} run{'s' if args.repeat > 1 else ''} each) and the ratios of their median req/s reported."
    )
    add(
        f"- **Stalled uploads**: {' and '.join(f'{count} POSTs to {path}' for path, count in STALLED_UPLOADS.items())} "
        f"(those with a learner's Bearer token) send their headers (Content-Length {STALLED_CONTENT_LENGTH:,}) and "
        f"16 bytes of body, then nothing for {args.stalled_window:g} s, while a separate process GETs /api/quota "
        f"every {STALLED_PROBE_INTERVAL * 1000:.0f} ms as {STALLED_PROBE_LEARNERS} other learners in turn, each on a "
        f"new connection, with a {STALLED_PROBE_TIMEOUT:g} s timeout. CLERK_WEBHOOK_SIGNING_SECRET is set so that "
        "the webhook reads its body; afterwards the uploads send the rest of their body."
    )
    if set(args.only) != set(MEASUREMENTS):
        add(f"- **PARTIAL RUN**: only {', '.join(sorted(args.only))}")
    if args.server_env:
        add(
            f"- **EXPERIMENT — not the production configuration**: the server ran with "
            f"{', '.join(f'`{k}={v}`' for k, v in args.server_env.items())}"
        )
    add(
        "- **Model**: a fake OpenAI-compatible server on 127.0.0.1 (bench/fake_openai.py, its own process, a thread "
        "per connection) answering valid challenges after 0 s or 2 s; the app's real OpenAI provider and SDK call it "
        "through OPENAI_BASE_URL."
    )
    add(
        "- Everything shares the same machine: the load generator, the fake model and PostgreSQL take CPU from "
        "gunicorn (see the CPU column: % of one core, over the measured run)."
    )
    add(
        "- *Connections per worker*: the load's established connections held by each gunicorn worker, sampled "
        "mid-run. A keep-alive connection stays with the worker that accepted it, and one worker is one GIL, so "
        "at most one core: `8 / 0` means a single worker served the whole run."
    )
    add(
        f"- *Other* in the CPU column: processes that are not part of the benchmark (someone else's work on the "
        f"machine, the kernel). Each run first waits (briefly) for it to drop below {BUSY_MACHINE_PERCENT:.0f}% of a "
        f"core; a run marked ⚠ still shared the CPU, and its figures understate the app."
    )
    add(
        "- KB = 1,024 bytes. The first visit counts the bytes on the wire (status lines, headers and bodies) of the "
        "page and of every script and stylesheet it links, fetched with `Accept-Encoding: gzip, br` and no cache."
    )
    add("")
    summary = []
    for result in results:
        verdicts = [row.passed for row in result.rows if row.passed is not None]
        if verdicts:
            summary.append(f"{result.name}: {verdicts.count(True)} PASS, {verdicts.count(False)} MISS")
    if summary:
        add("**Summary**: " + "; ".join(summary) + ".")
        add("")

    for result in results:
        add(f"## {result.name}")
        add("")
        if result.skipped:
            add(f"Skipped: {result.skipped}")
            add("")
            continue
        if result.error:
            add(f"The run failed: `{result.error}`")
            add("")
        add(f"Database: {result.database}.")
        add("")
        add("| measurement | target | measured | result |")
        add("|---|---|---|---|")
        for row in result.rows:
            add(f"| {row.what} | {row.target} | {row.measured} | {verdict(row.passed)} |")
        add("")
        if result.loads:
            add("Load runs in detail:")
            add("")
            add(
                "| run | req/s | p50 | p90 | p99 | max | errors | connections per worker | CPU (% of one core) |"
            )
            add("|---|---:|---:|---:|---:|---:|---:|---:|---|")
            for label, load in result.loads.items():
                cpu = ", ".join(
                    f"{k} {v:.0f}" for k, v in load["cpu"].items() if not k.startswith("_") and v >= 1
                )
                errors = str(load["errors"]) + (f" {load['bad_statuses']}" if load["bad_statuses"] else "")
                add(
                    f"| {label} | {fmt_int(load['rps'])} | {fmt_ms(load['p50_ms'])} | {fmt_ms(load['p90_ms'])} | "
                    f"{fmt_ms(load['p99_ms'])} | {fmt_ms(load['max_ms'])} | {errors} | {load['split']} | {cpu} |"
                )
            add("")
        if result.generation:
            add("Slow model (2 s per answer):")
            add("")
            add(
                "| learners at once | server | created | generations/s (ideal) | request p50 / p99 | lost (why) | model calls (max at once) | quota probe p50 / p99 / max | connections per worker | CPU (% of one core) |"
            )
            add("|---:|---|---:|---:|---:|---|---:|---:|---:|---|")
            for gen in result.generation.values():
                why = "; ".join(f"{count}× {failure}" for failure, count in gen["failures"].items())
                if gen["timeouts"]:
                    why = f"{why}; {gen['timeouts']}× timeout".strip("; ")
                cpu = ", ".join(
                    f"{k} {v:.0f}" for k, v in gen["cpu"].items() if not k.startswith("_") and v >= 1
                )
                probe = gen["probe"]
                add(
                    f"| {gen['learners']} | {'warm' if gen['warm'] else 'just started'} | {gen['created']} | {gen['per_second']:.2f} ({gen['ideal_per_second']:.0f}) | "
                    f"{fmt_ms(gen['latency_p50_ms'])} / {fmt_ms(gen['latency_p99_ms'])} | {gen['lost']}{f' ({why})' if why else ''} | "
                    f"{gen['model_calls']} ({gen['model_max_in_flight']}) | {fmt_ms(probe['p50_ms'])} / {fmt_ms(probe['p99_ms'])} / "
                    f"{fmt_ms(probe['max_ms'])} | {gen['split']} | {cpu} |"
                )
            add("")
        if result.ceiling:
            add("GET /api/quota, the ceiling app and the one-query app, run by run in the order they ran:")
            add("")
            add(
                "| run | GET /api/quota req/s | ceiling req/s | one query req/s | quota ÷ ceiling | one query ÷ ceiling |"
            )
            add("|---:|---:|---:|---:|---:|---:|")
            floors = [floor for floor, _ in result.ceiling.get("one_query_pairs", [])]
            for number, (quota, ceiling) in enumerate(result.ceiling["pairs"], 1):
                floor = floors[number - 1] if number <= len(floors) else 0.0
                add(
                    f"| {number} | {fmt_int(quota)} | {fmt_int(ceiling)} | {fmt_int(floor)} "
                    f"| {quota / ceiling if ceiling else 0:.2f} | {floor / ceiling if ceiling else 0:.2f} |"
                )
            add("")
        if result.stalled:
            stalled = result.stalled
            probe = stalled["probe"]
            cpu = ", ".join(
                f"{k} {v:.0f}" for k, v in stalled["cpu"].items() if not k.startswith("_") and v >= 1
            )
            add(
                f"Stalled uploads: {stalled['uploads']} held for {stalled['window_s']:g} s "
                f"({stalled['held']} still unanswered at the end, connections per worker {stalled['split']}), "
                f"{probe['samples']} quota probes: p50 {fmt_ms(probe['p50_ms'])}, p99 {fmt_ms(probe['p99_ms'])}, "
                f"max {fmt_ms(probe['max_ms'])}, statuses {probe['statuses']}; once resumed the uploads were "
                f"answered {', '.join(f'{count}× {status}' for status, count in stalled['resumed'].items())} "
                f"(CPU: {cpu})."
            )
            add("")
        if result.first_visit:
            visit = result.first_visit
            add(
                "First visit of the practice page (signed in, a challenge on the page; `Accept-Encoding: gzip, br`):"
            )
            add("")
            add("| resource | status | encoding | body bytes | headers | uncompressed | Cache-Control |")
            add("|---|---:|---|---:|---:|---:|---|")
            for resource in visit["resources"]:
                add(
                    f"| `{resource['path']}` | {resource['status']} | {resource['encoding']} | {resource['body_bytes']:,} | "
                    f"{resource['header_bytes']:,} | {resource['decoded_bytes']:,} | {resource['cache_control'] or '—'} |"
                )
            add(
                f"| **total** | | | {visit['body_bytes']:,} | {visit['wire_bytes'] - visit['body_bytes']:,} | "
                f"{visit['decoded_bytes']:,} | |"
            )
            add("")
            add(f"(The HTML would be {visit['html_gzip_bytes']:,} bytes gzipped.)")
            add("")
        if result.queries:
            add(
                f"SQL queries per request (Django test client + CaptureQueriesContext, {result.queries['vendor']}, "
                f"after one warm-up request):"
            )
            add("")
            small, large = (str(length) for length in result.queries["lengths"])
            add(f"| request | {int(small):,} items | {int(large):,} items |")
            add("|---|---:|---:|")
            for page in result.queries["pages"]:
                add(f"| {page['label']} | {page['counts'][small]} | {page['counts'][large]} |")
            add("")
        if result.max_db_connections is not None:
            add(
                f"PostgreSQL connections held by the server after the runs: up to {result.max_db_connections} "
                f"(the server's max_connections is {result.max_connections_setting}; each worker process keeps a "
                f"pool of at most DB_POOL_MAX_SIZE)."
            )
            add("")
        if result.server_log_problems:
            add("Problems in the server's log (identical lines counted):")
            add("")
            add("```")
            out.extend(line[:300] for line in result.server_log_problems)
            add("```")
            add("")
        for note in result.notes:
            add(f"- {note}")
        if result.notes:
            add("")

    add("## Peers")
    add("")
    add(PEERS)
    return "\n".join(out).rstrip() + "\n"


def console_tables(results: list[BackendResult]) -> str:
    lines = []
    for result in results:
        lines.append(f"\n== {result.name} ==")
        if result.skipped:
            lines.append(f"skipped: {result.skipped}")
            continue
        if result.error:
            lines.append(f"FAILED: {result.error}")
        width = max((len(r.what) for r in result.rows), default=10)
        twidth = max((len(r.target) for r in result.rows), default=6)
        for row in result.rows:
            lines.append(
                f"{row.what:<{width}}  {row.target:<{twidth}}  {verdict(row.passed).strip('*'):<4}  {row.measured}"
            )
    return "\n".join(lines)


def command_line() -> str:
    python = " ".join(shlex.quote(part) for part in ["python", "bench/run.py", *sys.argv[1:]])
    if os.environ.get("MAKELEVEL"):
        bench_args = " ".join(sys.argv[1:])
        return (
            "make bench" + (f" BENCH_ARGS={shlex.quote(bench_args)}" if bench_args else "") + f"` → `{python}"
        )
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CodeDrill under load (make bench).")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~2 minutes)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per wrk run (10; 3 with --quick)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="wrk runs per measurement, the median reported (3; 1 with --quick)",
    )
    parser.add_argument(
        "--generation-window",
        type=float,
        default=None,
        help="seconds the slow-model learners keep generating (16; 6 with --quick)",
    )
    parser.add_argument(
        "--stalled-window",
        type=float,
        default=None,
        help="seconds the stalled uploads are held open while quota is probed (10; 4 with --quick)",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy every worker during each run into DIR"
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="turn gunicorn's access log off (production has it on)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an experiment: run the server with this variable set (say so in the report)",
    )
    parser.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"comma-separated subset of: {', '.join(MEASUREMENTS)} (a partial run, for experiments)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="seconds a run waits at most for other processes to leave the CPU (30)",
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        default=150.0,
        help="seconds all runs together wait at most for a quiet machine (150)",
    )
    parser.add_argument("--asyncio", action="store_true", help="use the asyncio client instead of wrk")
    parser.add_argument("--output", type=Path, default=BASE_DIR / "docs" / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.generation_window = args.generation_window or (6.0 if args.quick else 16.0)
    args.stalled_window = args.stalled_window or (4.0 if args.quick else 10.0)
    args.warmup = 1.0 if args.quick else 2.0
    args.repeat = max(args.repeat or (1 if args.quick else 3), 1)
    args.quiet_spent = 0.0
    args.only = {item.strip() for item in args.only.split(",") if item.strip()}
    if args.only - set(MEASUREMENTS):
        parser.error(f"unknown measurements: {', '.join(sorted(args.only - set(MEASUREMENTS)))}")
    args.server_env = dict(item.split("=", 1) for item in args.server_env)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")

    started_wall = time.monotonic()
    started = dt.datetime.now(dt.UTC)
    command = command_line()
    args.use_wrk = not args.asyncio and loadgen.ensure_wrk(log)
    if not args.use_wrk:
        log("wrk is not available: falling back to the asyncio client (bench/loadgen.py)")

    results: list[BackendResult] = []
    server_config = None
    with tempfile.TemporaryDirectory(prefix="codedrill-bench-") as tmp_name, ExitStack() as outer:
        tmp = Path(tmp_name)
        signing_key = tmp / "dev-signing-key.pem"
        django_for_tokens(signing_key)
        token_for("user_bench_keymaker")  # creates the key file before any server reads it
        from django.conf import settings

        in_flight = int(args.server_env.get("GENERATION_MAX_IN_FLIGHT") or settings.GENERATION_MAX_IN_FLIGHT)
        machine = machine_info()
        log(f"machine: {machine}")
        fake = FakeModel()
        outer.callback(fake.stop)
        log(f"fake OpenAI server on {fake.base_url} (pid {fake.process.pid})")
        for name in backends:
            with ExitStack() as stack:
                bench = BackendBench(
                    name=name, args=args, tmp=tmp, signing_key=signing_key, fake=fake, stack=stack
                )
                try:
                    result = bench.run()
                except Exception as error:
                    traceback.print_exc()
                    result = bench.result
                    result.error = f"{type(error).__name__}: {str(error)[:500]}"
                    if bench.server is not None and bench.server.process is not None:
                        log("server log tail:\n" + bench.server.log_tail(3000))
                server_config = server_config or bench.server_config
            evaluate(result)
            results.append(result)
        wall = time.monotonic() - started_wall
        report = markdown_report(
            results=results,
            machine=machine,
            command=command,
            started=started,
            wall_s=wall,
            args=args,
            server_config=server_config,
            in_flight=in_flight,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(console_tables(results))
    print(f"\nWritten to {args.output} ({wall / 60:.1f} min)")
    failed = any(r.error for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
