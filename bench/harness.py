"""The harness every load runs in: one backend's server, its state and the machinery to measure it.

Owns the per-backend state (`BackendBench`: a fresh database, gunicorn at its production defaults
pointed at the fake model, the results collected so far), the tools the loads share (a warm-up then
repeated measured runs with `BackendBench.load`, slow-model generation runs with
`BackendBench.generation`, waiting for a quiet machine, CPU and connection sampling, py-spy
profiles), the fake OpenAI server's process, development session tokens, the machine's description
and the result dataclasses. The loads themselves are in bench/loads/, the verdicts and the report
in bench/report.py.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clients
import loadgen
from loadgen import LoadResult

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent

DAILY_QUOTA = 100_000_000
CONNECTIONS = 8
MODEL_SLOW_SECONDS = 2.0
PROBE_INTERVAL = 0.1
# Set so that the webhook reads its body (unset, it answers 503 before reading it); the stalled
# uploads carry no signature, so once complete they are refused (400).
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"codedrill-bench-webhook-secret!!").decode()

# A PostgreSQL backend's title: "postgres: 15/main: <user> <database> <host>(<port>) <state>".
POSTGRES_BACKEND = re.compile(r"^postgres: [^:]+: \S+ \S+ \S+")
# Timestamps and pids at the start of a log line (Django's and gunicorn's formats).
LOG_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T][\d:,.]+\s*|\[[^\]]*\]\s*)+")
# Another process's CPU on the machine (% of one core) above which a run waits for quiet first.
BUSY_MACHINE_PERCENT = 15.0


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
    from challengeapp.identity import dev_session_token_issue

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
    coding: dict = field(default_factory=dict)  # learners' code runs: bench/loads/coding.py
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    server_log_problems: list[str] = field(default_factory=list)
    max_db_connections: int | None = None
    max_connections_setting: str = ""
    error: str = ""


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
    """One backend's run: its database and server, their lifecycle, and the results so far. The loads
    (bench/loads/) drive the server through it; bench/run.py runs them in order."""

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
        self.stack.callback(self.drop, self.database_url)
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
    def drop(url: str) -> None:
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

    # the machinery the loads share: load runs (a warm-up, then measured runs) and slow-model runs

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

    def check_server(self) -> None:
        """Whether gunicorn is still running, and the problems its log shows (identical lines counted)."""
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
