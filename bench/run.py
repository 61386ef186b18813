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
half-way; generations with an instant model; the first visit's bytes; 8 slow generations; learners'
code runs (submissions of 10 tests in turn and at once, other learners' pages while 8 endless loops
run, hostile submissions); the SQL queries per page. `--only coding` (say) runs one measurement.

The code: this file reads the arguments and runs each backend's sequence in order;
bench/harness.py holds a backend's server and state and the machinery every load uses;
bench/loads/ has one module per measurement (storm, ceiling, reads, stalled, generate, visit, slow,
coding, queries); bench/report.py judges the results and writes the report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BASE_DIR))

import loadgen  # noqa: E402
from harness import (  # noqa: E402
    DAILY_QUOTA,
    BackendBench,
    BackendResult,
    FakeModel,
    django_for_tokens,
    log,
    machine_info,
    token_for,
)
from loads import (  # noqa: E402
    MEASUREMENTS,
    ceiling,
    coding,
    generate,
    queries,
    reads,
    slow,
    stalled,
    storm,
    visit,
)
from loads.reads import HISTORY_ALL_ITEMS  # noqa: E402
from loads.stalled import STALLED_PROBE_LEARNERS  # noqa: E402
from loads.storm import STORM_LEARNERS  # noqa: E402
from report import console_tables, evaluate, markdown_report  # noqa: E402


def run_backend(bench: BackendBench) -> BackendResult:
    """One backend: its server started, its learners seeded, then the loads --only asks for, in order."""
    args = bench.args
    if not bench.start():
        return bench.result
    users = {
        "reader": "user_bench_reader",
        "hist10": "user_bench_hist10",
        "hist1000": "user_bench_hist1000",
        "hist5000": f"user_bench_hist{HISTORY_ALL_ITEMS}",
    }
    storm_learners = [f"user_bench_storm_{i:02d}" for i in range(1, STORM_LEARNERS + 1)]
    log(f"{bench.name}: seeding histories of 10, 1,000 and {HISTORY_ALL_ITEMS:,} challenges")
    bench.django_task(
        "seed",
        "--database-url",
        bench.database_url,
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
        storm.measure(bench, storm_learners, tokens["reader"])
    sanity(bench, tokens)
    fast_learners = [token_for(f"user_bench_fast_{i:02d}") for i in range(1, 33)]
    stall_learners = [token_for(f"user_bench_stall_{i:02d}") for i in range(1, 5)]
    probe_learners = [token_for(f"user_bench_probe_{i:02d}") for i in range(1, STALLED_PROBE_LEARNERS + 1)]
    for token in fast_learners + stall_learners + probe_learners:
        bench.request("GET", "/api/quota", token=token)

    if "ceiling" in args.only:
        ceiling.measure(bench, tokens["reader"])
    if "reads" in args.only:
        reads.measure(bench, tokens)
    if "stalled" in args.only:
        stalled.measure(bench, stall_learners, probe_learners)
    if "generate" in args.only:
        generate.measure(bench, fast_learners)
    if "visit" in args.only:
        visit.measure(bench, tokens["hist10"])
    if "slow" in args.only:
        slow.measure(bench, tokens["reader"])
    if "coding" in args.only:
        coding.measure(bench)

    bench.check_server()

    if "queries" in args.only:
        queries.measure(bench)
    return bench.result


def sanity(bench: BackendBench, tokens: dict[str, str]) -> None:
    """The requests the load repeats answer what they should, before any load."""
    quota = bench.request("GET", "/api/quota", token=tokens["reader"])
    assert quota.status == 200 and quota.body["daily_limit"] == DAILY_QUOTA, quota
    for key, path, expected in (
        ("hist10", "/api/history", 10),
        ("hist1000", "/api/history?limit=50", 50),
        ("hist5000", "/api/history", HISTORY_ALL_ITEMS),  # no limit: the whole history
    ):
        history = bench.request("GET", path, token=tokens[key])
        assert history.status == 200 and len(history.body) == expected, (
            f"GET {path} for {key}: {history.status}, "
            f"{len(history.body) if isinstance(history.body, list) else str(history.body)[:300]} "
            f"items, expected {expected}"
        )
    for path in ("/", "/history/"):
        page = bench.request(
            "GET", path, headers={"Cookie": f"__session={tokens['hist1000']}", "Accept": "text/html"}
        )
        assert page.status == 200 and "Sign out" in page.body, (path, page.status, str(page.body)[:300])
    bench.fake.set_delay(0)
    generated = bench.request(
        "POST", "/api/generate-challenge", token=tokens["reader"], body={"difficulty": "easy"}
    )
    assert generated.status == 201 and generated.body["provider"] == "openai", (
        generated.status,
        generated.body,
    )


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
                    result = run_backend(bench)
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
