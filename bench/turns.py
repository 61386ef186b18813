"""Why request threads take turns (challengeapp/services/turns.py): CPU per request, in one process.

    python bench/turns.py [--requests 4000] [--database-url postgres://postgres@127.0.0.1:5432/scratch]

Calls the WSGI app directly (no server, no sockets) from 1, 2, 4 and 8 threads at once, with and
without TakeTurns, for GET /api/quota and GET /api/history?limit=10 (a learner with 10 challenges),
on a throwaway SQLite database (or an empty PostgreSQL database you name, which it fills), DEBUG
off. Prints requests per second and the process's CPU time per request. Without turns, the
threads' competition for the GIL costs CPU on every hand-over; with turns, CPU per request stays
nearer the one-thread figure.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
PATHS = ("/api/quota", "/api/history?limit=10")
THREAD_COUNTS = (1, 2, 4, 8)


def setup(directory: Path, database_url: str) -> str:
    """Django on a fresh database in `directory`, a learner with 10 challenges; their token."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY="bench-" + "x" * 60,
        DEV_SIGN_IN="1",
        SECURE_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url or f"sqlite:///{directory / 'db.sqlite3'}",
        DEV_SIGNING_KEY_PATH=str(directory / "dev-signing-key.pem"),
        STATIC_ROOT=str(directory / "static"),
        DAILY_CHALLENGE_QUOTA="100000000",
    )
    (directory / "static").mkdir()
    for name in ("OPENAI_API_KEY", "CLERK_PUBLISHABLE_KEY", "CLERK_SECRET_KEY", "CLERK_JWT_KEY"):
        os.environ.pop(name, None)
    sys.path[:0] = [str(BASE_DIR), str(BENCH_DIR)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django_tasks import seed_learner

    from challengeapp.services.identity import dev_session_token_issue

    seed_learner("user_turns", 10)
    return dev_session_token_issue(user_id="user_turns", session_id="sess_turns")


def environ_for(url: str, token: str) -> dict:
    path, _, query = url.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.errors": sys.stderr,
    }


def run(app, url: str, token: str, threads: int, requests: int) -> tuple[float, float]:
    """(requests per second, CPU µs per request) for `requests` calls spread over `threads`."""
    failures: list[str] = []

    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            failures.append(status)

    def work(count: int) -> None:
        for _ in range(count):
            response = app(environ_for(url, token), start_response)
            b"".join(response)
            getattr(response, "close", lambda: None)()

    per_thread = requests // threads
    workers = [threading.Thread(target=work, args=(per_thread,)) for _ in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if failures:
        raise SystemExit(f"{url}: {len(failures)} requests failed, e.g. {failures[0]}")
    done = per_thread * threads
    return done / wall, cpu / done * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per measurement")
    parser.add_argument("--database-url", default="", help="an empty database to use instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codedrill-turns-") as directory:
        token = setup(Path(directory), args.database_url)
        from django.core.wsgi import get_wsgi_application

        from challengeapp.services.turns import TakeTurns

        plain = get_wsgi_application()
        apps = {"threads compete": plain, "threads take turns": TakeTurns(plain)}
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.requests} requests each\n")
        print("| request | threads | " + " | ".join(f"{name}: req/s, CPU µs/request" for name in apps) + " |")
        print("|---|---|" + "---|" * len(apps))
        for url in PATHS:
            run(plain, url, token, 1, 200)  # warm up
            for threads in THREAD_COUNTS:
                cells = []
                for app in apps.values():
                    rps, cpu_us = run(app, url, token, threads, args.requests)
                    cells.append(f"{rps:,.0f}, {cpu_us:,.0f}")
                print(f"| GET {url} | {threads} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
