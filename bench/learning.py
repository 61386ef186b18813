"""The learning loop at scale: learners with 5,000 and 50,000 answered challenges.

    python bench/learning.py [--backends sqlite,postgres] [--requests 30] [--write docs/BENCHMARKS.md]

For each backend, a throwaway database: three learners, with 10, 5,000 and 50,000 answered
challenges and four reviews per answer (spread over the last year, so streaks, activity and mastery
have real work to do). Then, in-process with Django's test client and DEBUG off:
- the SQL queries of the review page, the progress page, GET /api/progress, GET /api/review and
  GET /api/history for each learner (CaptureQueriesContext, after a warm-up request): equal counts
  mean the number of queries does not grow with the history;
- the latency of each for the two large learners: median and 95th percentile of --requests
  requests (fewer for the whole 50,000-item history, which is megabytes).
With --write, the results replace this script's section of docs/BENCHMARKS.md (`make bench` runs
bench/run.py first, which writes the rest of that file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
SECTION_START = "<!-- bench/learning.py: start -->"
SECTION_END = "<!-- bench/learning.py: end -->"
SIZES = ((10, 40), (5_000, 20_000), (50_000, 200_000))
TIMED = (5_000, 50_000)


def run_backend(database_url: str, requests: int) -> dict:
    """Runs in a child process per backend (Django settings are read once per process)."""
    os.environ.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 60,
            "DEV_SIGN_IN": "1",
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECURE_SSL_REDIRECT": "0",
            "DAILY_CHALLENGE_QUOTA": "100000000",
            "DEV_SIGNING_KEY_PATH": str(Path(tempfile.mkdtemp()) / "key.pem"),
        }
    )
    for name in ("OPENAI_API_KEY", "CLERK_PUBLISHABLE_KEY", "TIME_ZONE"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from challengeapp.identity import dev_session_token_issue
    from challengeapp.middleware import SESSION_COOKIE

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", "--noinput", verbosity=0)

    routes = [
        ("review page  GET /review/", "/review/", "cookie"),
        ("progress page  GET /progress/", "/progress/", "cookie"),
        ("GET /api/progress", "/api/progress", "bearer"),
        ("GET /api/review (first page)", "/api/review", "bearer"),
        ("GET /api/history?limit=20", "/api/history?limit=20", "bearer"),
        ("GET /api/history (whole list)", "/api/history", "bearer"),
    ]
    clients = {}
    for answered, reviews in SIZES:
        clerk_id = f"user_bench_learning_{answered}"
        seed(clerk_id, answered=answered, reviews=reviews)
        token = dev_session_token_issue(user_id=clerk_id, session_id=f"sess_{answered}")
        cookie_client = Client()
        cookie_client.cookies[SESSION_COOKIE] = token
        clients[answered] = (cookie_client, {"HTTP_AUTHORIZATION": f"Bearer {token}"})

    def fetch(answered: int, path: str, how: str):
        client, bearer = clients[answered]
        response = client.get(path, **(bearer if how == "bearer" else {}))
        assert response.status_code == 200, (path, response.status_code)
        return response

    results = []
    for label, path, how in routes:
        queries = {}
        for answered, _ in SIZES:
            fetch(answered, path, how)  # warm-up
            with CaptureQueriesContext(connection) as captured:
                fetch(answered, path, how)
            queries[answered] = len(captured)
        latency, size_bytes = {}, {}
        for answered in TIMED:
            timings = []
            # The whole 50,000-item history is megabytes a request: fewer rounds of it.
            rounds = max(3, requests // 10) if path == "/api/history" and answered > 5_000 else requests
            for _ in range(rounds):
                started = time.perf_counter()
                response = fetch(answered, path, how)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            size_bytes[answered] = len(response.content)
            latency[answered] = {
                "median_ms": statistics.median(timings),
                "p95_ms": timings[min(len(timings) - 1, int(len(timings) * 0.95))],
            }
        results.append({"label": label, "queries": queries, "latency": latency, "bytes": size_bytes})
    return {"vendor": connection.vendor, "results": results}


def seed(clerk_id: str, *, answered: int, reviews: int) -> None:
    from django.db import transaction
    from django.utils import timezone
    from seeding import bank_challenges

    from challengeapp.identity.learners import learner_get_or_create
    from challengeapp.learning.activity import activity_rebuild
    from challengeapp.learning.progress_counts import progress_counts_rebuild
    from challengeapp.models import Attempt, Challenge, ReviewCard, ReviewLog

    rng = random.Random(answered)
    user = learner_get_or_create(clerk_id=clerk_id)
    now = timezone.now()
    with transaction.atomic():
        challenges = Challenge.objects.bulk_create(
            bank_challenges(owner=user, count=answered, key_prefix="bench"), batch_size=500
        )
        if any(challenge.pk is None for challenge in challenges):
            challenges = list(Challenge.objects.filter(owner=user).order_by("id"))
        picks = [c.correct_index if rng.random() < 0.7 else (c.correct_index + 1) % 4 for c in challenges]
        Attempt.objects.bulk_create(
            [
                Attempt(challenge=c, chosen_index=pick, is_correct=pick == c.correct_index)
                for c, pick in zip(challenges, picks)
            ],
            batch_size=500,
        )
        cards = ReviewCard.objects.bulk_create(
            [
                ReviewCard(
                    challenge=c,
                    owner=user,
                    source_key=c.source_key,
                    state=2,
                    stability=rng.uniform(0.5, 60),
                    difficulty=rng.uniform(1, 9),
                    due_at=now + dt.timedelta(hours=rng.uniform(-72, 24 * 30)),
                    last_review_at=now - dt.timedelta(days=rng.uniform(0, 30)),
                    option_order=rng.sample(range(4), 4),
                    reviews=reviews // answered,
                )
                for c in challenges
            ],
            batch_size=500,
        )
        if any(card.pk is None for card in cards):
            cards = list(ReviewCard.objects.filter(owner=user).order_by("id"))
        logs = []
        for n in range(answered + reviews):
            card = cards[n % len(cards)]
            right = rng.random() < 0.75
            logs.append(
                ReviewLog(
                    card=card,
                    owner=user,
                    is_first_answer=n < answered,
                    review_number=n // len(cards),  # each card's answers in turn: 0, 1, 2, …
                    chosen_index=0,
                    is_correct=right,
                    rating=3 if right else 1,
                    elapsed_seconds=0 if n < answered else int(rng.uniform(0, 40) * 86400),
                    reviewed_at=now - dt.timedelta(days=rng.uniform(0, 365)),
                    due_after=now,
                )
            )
        ReviewLog.objects.bulk_create(logs, batch_size=1000)
    # bulk_create bypasses the counts kept as answers happen: the day counts and the progress groups.
    activity_rebuild(user=user)
    progress_counts_rebuild(user=user)


def markdown(outcomes: list[dict], command: str) -> str:
    lines = [
        SECTION_START,
        "## The learning loop at 5,000 and 50,000 answered challenges",
        "",
        f"Generated by `{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs. In-process (Django's test client, "
        "DEBUG off): the SQL queries of each route for learners with 10, 5,000 and 50,000 answered "
        "challenges (four reviews per answer); the latency (median / p95) and answer size for the "
        "two large ones.",
        "",
        "| backend | route | queries (10 / 5,000 / 50,000) | at 5,000 | at 50,000 | bytes at 50,000 |",
        "|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for result in outcome["results"]:
            counts = [result["queries"][str(size)] for size, _ in SIZES]
            same = "does not grow" if max(counts) <= counts[0] else "**grows**"
            timed = [result["latency"][str(size)] for size in TIMED]
            lines.append(
                f"| {outcome['vendor']} | {result['label']} | {' / '.join(map(str, counts))} ({same}) | "
                + " | ".join(f"{t['median_ms']:.1f} / {t['p95_ms']:.1f} ms" for t in timed)
                + f" | {result['bytes'][str(TIMED[-1])]:,} |"
            )
    lines += ["", SECTION_END]
    return "\n".join(lines) + "\n"


def main() -> int:
    import json
    import subprocess

    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--write", default="")
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        print("BENCH_JSON " + json.dumps(run_backend(args.child, args.requests)))
        return 0
    outcomes = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp()}/learning.sqlite3"
        else:
            name = f"codedrill_bench_learning_{os.getpid()}"
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"], check=True
            )
            url = f"postgres://postgres@127.0.0.1:5432/{name}"
        try:
            finished = subprocess.run(
                [sys.executable, __file__, "--child", url, "--requests", str(args.requests)],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            if backend != "sqlite":
                subprocess.run(
                    ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE {name}"], check=False
                )
        line = next((row for row in finished.stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
        if line is None:
            print(finished.stdout, finished.stderr, file=sys.stderr)
            return 1
        outcomes.append(json.loads(line.removeprefix("BENCH_JSON ")))
    report = markdown(outcomes, "python bench/learning.py " + " ".join(sys.argv[1:]))
    print(report)
    if args.write:
        path = Path(args.write)
        text = path.read_text() if path.exists() else ""
        if SECTION_START in text and SECTION_END in text:
            before, rest = text.split(SECTION_START, 1)
            after = rest.split(SECTION_END, 1)[1]
            text = before + report.rstrip("\n") + after
        else:
            text = text.rstrip("\n") + "\n\n" + report
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
