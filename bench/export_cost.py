"""What one Anki export costs, by the size of the learner's history.

    python bench/export_cost.py [--sizes 1000,3000] [--runs 3] [--content bank|large]

A throwaway SQLite database; per size, a learner with that many answered challenges: bank content
(short snippets), or with --content large the largest a model's challenge may be and still be
highlighted (1,500 characters of Python, a 2,000-character question, a 2,500-character explanation,
300-character options). Each run builds the deck the way GET /progress/export.apkg does
(`export_anki_package`, the first part when the deck comes in parts) and reports the CPU seconds
of this process, the wall-clock seconds, the size of the .apkg, and how many bytes of temporary
files the build left behind in the temporary directory (genanki's own database file, if any).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def setup(database_url: str) -> None:
    os.environ.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 60,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECURE_SSL_REDIRECT": "0",
            "DEV_SIGN_IN": "1",
            "DEV_SIGNING_KEY_PATH": str(Path(tempfile.gettempdir()) / "dev-key.pem"),
        }
    )
    for name in ("OPENAI_API_KEY", "CLERK_PUBLISHABLE_KEY", "TIME_ZONE"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


LARGE_CODE = "\n".join(f"values_{n} = [item * {n} for item in range({n}) if item % 3]" for n in range(26))[
    :1500
]


def seed(clerk_id: str, answered: int, content: str):
    from django.db import transaction
    from seeding import bank_challenges

    from challengeapp.identity.learners import learner_get_or_create
    from challengeapp.models import Attempt, Challenge

    user = learner_get_or_create(clerk_id=clerk_id)
    with transaction.atomic():
        Challenge.objects.bulk_create(bank_challenges(owner=user, count=answered, key_prefix="bench"))
        challenges = list(Challenge.objects.filter(owner=user).order_by("id"))
        if content == "large":
            for challenge in challenges:
                challenge.code, challenge.code_language = LARGE_CODE, "python"
                challenge.question = ("Which line prints what? " * 90)[:2000]
                challenge.explanation = ("Because the comprehension filters. " * 80)[:2500]
                challenge.options = [(f"Option {n} " * 40)[:300] for n in range(4)]
            Challenge.objects.bulk_update(
                challenges, ["code", "code_language", "question", "explanation", "options"]
            )
        Attempt.objects.bulk_create(
            [
                Attempt(challenge=c, chosen_index=n % 4, is_correct=n % 4 == c.correct_index)
                for n, c in enumerate(challenges)
            ]
        )
    return user


def temporary_bytes(directory: str) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file())


def measure(user, runs: int) -> dict:
    from challengeapp.learning.export import export_anki_package

    cpu, wall, sizes, leftovers = [], [], [], []
    for _ in range(runs):
        before = temporary_bytes(tempfile.gettempdir())
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        package = export_anki_package(user=user)
        cpu.append(time.process_time() - cpu_start)
        wall.append(time.perf_counter() - wall_start)
        package.seek(0, os.SEEK_END)
        sizes.append(package.tell())
        package.close()
        leftovers.append(temporary_bytes(tempfile.gettempdir()) - before)
    return {
        "cpu_s": statistics.median(cpu),
        "wall_s": statistics.median(wall),
        "apkg_mb": statistics.median(sizes) / 1e6,
        "left_in_tmp_mb": statistics.median(leftovers) / 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--content", choices=("bank", "large"), default="bank")
    args = parser.parse_args()
    # A private temporary directory, so that other processes' files do not count.
    private_tmp = tempfile.mkdtemp(prefix="codedrill-export-bench-")
    tempfile.tempdir = private_tmp
    setup(f"sqlite:///{private_tmp}/bench.sqlite3")
    try:
        print("answered  cpu_s  wall_s  apkg_MB  left_in_tmp_MB (median of", args.runs, "runs)")
        for size in (int(value) for value in args.sizes.split(",")):
            user = seed(f"user_bench_export_{size}", size, args.content)
            result = measure(user, args.runs)
            print(
                f"{size:>8}  {result['cpu_s']:5.2f}  {result['wall_s']:6.2f}  {result['apkg_mb']:7.2f}"
                f"  {result['left_in_tmp_mb']:14.2f}"
            )
    finally:
        shutil.rmtree(private_tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
