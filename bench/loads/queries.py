"""The SQL queries per page at a short and a long history (in-process, on a throwaway database)."""

from __future__ import annotations

from harness import BackendBench, log


def measure(bench: BackendBench) -> None:
    log(f"{bench.name}: SQL queries per page (in-process, throwaway database)")
    from challengeapp.tests.fakes import live_server as ls

    throwaway = ls.sqlite_database(bench.tmp) if bench.name == "sqlite" else ls.postgres_database()
    try:
        bench.result.queries = bench.django_task("queries", "--database-url", throwaway)
    finally:
        bench.drop(throwaway)
