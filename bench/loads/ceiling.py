"""GET /api/quota against the ceiling: a one-view Django app under the same gunicorn
(bench/ceiling_app.py), and that app running /api/quota's one query, run after run in turn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import BASE_DIR, BackendBench, log

QUOTA = "GET /api/quota"
CEILING = "ceiling app: GET /api/quota (bench/ceiling_app.py)"
ONE_QUERY = "ceiling app + one query: GET /api/quota (bench/ceiling_app.py, CEILING_ONE_QUERY=1)"


def measure(bench: BackendBench, token: str) -> None:
    """GET /api/quota, the ceiling app and the ceiling app with one query (same gunicorn config,
    workers and threads), run after run in turn, so that whatever else the machine does
    meanwhile weighs on all alike."""
    ceiling = ceiling_server(bench.server, bench.tmp / f"gunicorn-{bench.name}-ceiling.log")
    one_query = ceiling_server(
        bench.server, bench.tmp / f"gunicorn-{bench.name}-ceiling-one-query.log", one_query=True
    )
    log(f"{bench.name}: starting the ceiling apps under the same gunicorn config")
    try:
        for server in (ceiling, one_query):
            bench.ceilings.append(server)
            server.start()
        specs = {
            QUOTA: bench.load_spec(path="/api/quota", token=token),
            CEILING: bench.load_spec(server=ceiling, path="/api/quota", token=token),
            ONE_QUERY: bench.load_spec(server=one_query, path="/api/quota", token=token),
        }
        bench.wait_for_quiet("quota against the ceiling")
        for spec in specs.values():
            bench.drive(spec, bench.args.warmup)
        runs: dict[str, list] = {label: [] for label in specs}
        for number in range(bench.args.repeat):
            for label, spec in specs.items():
                runs[label].append(bench.measured_run(label, spec, number, bench.args.repeat))
        quota, ceiling, floor = (
            bench.record(label, specs[label], runs[label]) for label in (QUOTA, CEILING, ONE_QUERY)
        )
    finally:
        for server in bench.ceilings:
            server.stop()
        bench.ceilings = []
    bench.result.ceiling = {
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
        f"{bench.name}: quota / ceiling = {bench.result.ceiling['ratio']:.2f}, "
        f"one query / ceiling = {bench.result.ceiling['one_query_ratio']:.2f}"
    )


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
