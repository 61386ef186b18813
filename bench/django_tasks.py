"""Benchmark tasks that need Django in-process, run as subprocesses by bench/run.py.

    python bench/django_tasks.py seed --database-url URL --learner user_x:1000 [--learner …]
    python bench/django_tasks.py queries --database-url URL

Each prints one JSON line (prefixed `BENCH_JSON `) on stdout. The process runs with DEBUG=1 and
the development sign-in, like the test suite (challengeapp/tests/environment.py), against the
database it is given; DEV_SIGNING_KEY_PATH must be the key the tokens are checked with.

seed: creates each learner (as the app does, with their quota row) and gives them N challenges
(content from the built-in bank, so real sizes with code and explanations), every other one
answered, the newest left unanswered so the practice page shows it.

queries: migrates the (throwaway) database, seeds two learners with 10 and 5,000 challenges, and
counts the SQL queries of the practice page, the history page, GET /api/history (the whole history,
and a page of 50) and GET /api/quota for each with Django's test client and CaptureQueriesContext,
after one warm-up request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def django_setup(database_url: str) -> None:
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
        "TIME_ZONE",
        "CORS_ALLOWED_ORIGINS",
        "SECURE_SSL_REDIRECT",
    ):
        os.environ.pop(name, None)
    os.environ["DAILY_CHALLENGE_QUOTA"] = "100000000"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if "DEV_SIGNING_KEY_PATH" not in os.environ:
        raise SystemExit("DEV_SIGNING_KEY_PATH must be set (the key the tokens are signed with).")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def seed_learner(clerk_id: str, count: int) -> int:
    """Give the learner `count` challenges (created if needed); returns the learner's pk."""
    from django.db import transaction
    from seeding import bank_challenges

    from challengeapp.identity.learners import learner_get_or_create
    from challengeapp.learning.progress_counts import progress_counts_rebuild
    from challengeapp.models import Attempt, Challenge

    user = learner_get_or_create(clerk_id=clerk_id)
    challenges = bank_challenges(owner=user, count=count, key_prefix=f"bench:{clerk_id}")
    with transaction.atomic():
        created = Challenge.objects.bulk_create(challenges, batch_size=200)
        # bulk_create sets pks on both backends (RETURNING); created_at is auto_now_add.
        if any(challenge.pk is None for challenge in created):
            created = list(Challenge.objects.filter(owner=user).order_by("id"))[-count:]
        attempts = [
            Attempt(
                challenge=challenge,
                chosen_index=(challenge.correct_index + number % 3) % 4,
                is_correct=number % 3 == 0,
            )
            for number, challenge in enumerate(created[:-1])  # the newest stays unanswered
            if number % 2 == 0
        ]
        Attempt.objects.bulk_create(attempts, batch_size=200)
        # bulk_create bypasses the progress counts kept as answers happen.
        progress_counts_rebuild(user=user)
    return user.pk


def command_seed(args: argparse.Namespace) -> dict:
    django_setup(args.database_url)
    seeded = {}
    for spec in args.learner:
        clerk_id, _, count = spec.partition(":")
        seed_learner(clerk_id, int(count or 0))
        seeded[clerk_id] = int(count or 0)
    return {"seeded": seeded}


def command_queries(args: argparse.Namespace) -> dict:
    django_setup(args.database_url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from challengeapp.identity import dev_session_token_issue
    from challengeapp.middleware import SESSION_COOKIE

    setup_test_environment()
    call_command("migrate", "--noinput", verbosity=0)
    lengths = (10, 5000)
    tokens = {}
    for length in lengths:
        clerk_id = f"user_bench_queries_{length}"
        seed_learner(clerk_id, length)
        tokens[length] = dev_session_token_issue(user_id=clerk_id, session_id=f"sess_bench_q{length}")

    pages = [
        ("practice page  GET /", "/", "cookie"),
        ("history page  GET /history/", "/history/", "cookie"),
        ("GET /api/history (no limit: all items)", "/api/history", "bearer"),
        ("GET /api/history?limit=50", "/api/history?limit=50", "bearer"),
        ("GET /api/quota", "/api/quota", "bearer"),
    ]
    results = []
    # Templates render without collectstatic here, as in the test suite.
    plain_static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=plain_static, SECURE_SSL_REDIRECT=False):
        for label, path, how in pages:
            row = {"label": label, "path": path, "counts": {}, "statuses": {}, "sql": {}}
            for length in lengths:
                client = Client()
                headers = {}
                if how == "cookie":
                    client.cookies[SESSION_COOKIE] = tokens[length]
                else:
                    headers["Authorization"] = f"Bearer {tokens[length]}"
                client.get(path, headers=headers)  # warm-up: caches, first-use paths
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(path, headers=headers)
                row["counts"][str(length)] = len(captured.captured_queries)
                row["statuses"][str(length)] = response.status_code
                row["sql"][str(length)] = [query["sql"][:300] for query in captured.captured_queries]
            results.append(row)
    return {"vendor": connection.vendor, "lengths": lengths, "pages": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Django-side benchmark tasks.")
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed")
    seed.add_argument("--database-url", required=True)
    seed.add_argument("--learner", action="append", default=[], help="clerk_id:count")
    queries = sub.add_parser("queries")
    queries.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    result = command_seed(args) if args.command == "seed" else command_queries(args)
    print("BENCH_JSON " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
