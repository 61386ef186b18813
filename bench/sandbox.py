"""What one sandboxed snippet run costs: the median of 20 runs, for the README.

    .venv/bin/python bench/sandbox.py [--runs N]

Measures, on this machine: the probe paid once per process (the first snippet_run or
sandbox_available), then `print(2 + 2)` and a bank snippet through snippet_run, and, for scale,
the same interpreter started bare on `print(2 + 2)` with no sandbox (our own constant code).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")  # settings need a SECRET_KEY otherwise; nothing here serves

import django

django.setup()

from django.conf import settings  # noqa: E402

from challengeapp.content.bank.loader import bank_entries  # noqa: E402
from challengeapp.quality.sandbox import sandbox_available, snippet_run  # noqa: E402

TRIVIAL = "print(2 + 2)"


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    return (
        f"median {statistics.median(ordered) * 1000:6.1f} ms   "
        f"min {ordered[0] * 1000:6.1f}   max {ordered[-1] * 1000:6.1f}   (n={len(ordered)})"
    )


def timed(action, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs

    started = time.perf_counter()
    available, description = sandbox_available()
    probe_seconds = time.perf_counter() - started
    if not available:
        print(f"no sandbox: {description}")
        return 1
    print(f"sandbox: {description}")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"probe, once per process: {probe_seconds * 1000:.1f} ms")

    bank_snippet = next(entry for entry in bank_entries() if entry.entry_id == "data-structures-hard-02")

    def run_ok(code: str) -> None:
        run = snippet_run(code=code)
        assert run.ok, run

    def bare() -> None:
        subprocess.run([settings.SANDBOX_PYTHON, "-I", "-c", TRIVIAL], capture_output=True, check=True)

    run_ok(TRIVIAL)  # warm the page cache
    print(f"snippet_run {TRIVIAL!r}:".ljust(44) + milliseconds(timed(lambda: run_ok(TRIVIAL), runs)))
    print(
        f"snippet_run bank {bank_snippet.entry_id}:".ljust(44)
        + milliseconds(timed(lambda: run_ok(bank_snippet.draft.code), runs))
    )
    print("bare interpreter, no sandbox:".ljust(44) + milliseconds(timed(bare, runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
