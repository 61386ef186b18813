"""Would a lower CPU priority for the sandboxes keep learners' endless loops off the web server?

    python bench/priority.py [--seconds 4] [--loops 8]

Nothing of CodeDrill runs here: a probe (this process) does about 2 ms of Python work every 20 ms
and records how long each took, next to `--loops` busy loops (`while True: pass`) started at normal
priority, under `chrt --idle 0` (SCHED_IDLE), `nice -n 19` or `nice -n 10`; first in this process's
session, then each in a session of its own, as bubblewrap starts every sandbox (`setsid`). Linux
with `kernel.sched_autogroup_enabled` and no CPU cgroup of its own schedules each session as a
group, and a task's priority orders it only within its group; /proc says which holds here. Then
the other side of the bargain: how long a small Python program (about 30 ms of CPU) takes beside
two busy loops at normal priority, at each priority, as a sandboxed run would on a machine whose
cores the web server keeps busy. Prints the figures; docs/FIGURES.md has them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

PRIORITIES = {
    "normal": [],
    "SCHED_IDLE": ["chrt", "--idle", "0"],
    "nice 19": ["nice", "-n", "19"],
    "nice 10": ["nice", "-n", "10"],
}
LOOP = [sys.executable, "-c", "while True: pass"]
SMALL_PROGRAM = [sys.executable, "-c", "print(sum(range(1_000_000)))"]


def probe(seconds: float) -> tuple[float, float]:
    """p50 and p99 (ms) of a ~2 ms piece of work done every 20 ms for `seconds`."""
    took = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        began = time.perf_counter()
        total = 0
        for number in range(60_000):
            total += number
        took.append((time.perf_counter() - began) * 1000)
        time.sleep(0.02)
    took.sort()
    return took[len(took) // 2], took[min(int(len(took) * 0.99), len(took) - 1)]


def beside(loops: list[list[str]], *, own_sessions: bool, action):
    processes = [
        subprocess.Popen(command, start_new_session=own_sessions, stdout=subprocess.DEVNULL)
        for command in loops
    ]
    try:
        time.sleep(0.5)
        return action()
    finally:
        for process in processes:
            process.kill()
            process.wait()


def timed(command: list[str], limit: float = 20.0) -> str:
    began = time.monotonic()
    try:
        subprocess.run(command, stdout=subprocess.DEVNULL, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return f"> {limit:.0f} s (stopped)"
    return f"{time.monotonic() - began:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--loops", type=int, default=8)
    args = parser.parse_args(argv)
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    cpu_cgroup = next(
        (
            line.split(":", 2)[2]
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if "cpu" in line.split(":", 2)[1].split(",") or line.startswith("0::")
        ),
        "?",
    )
    enabled = autogroup.read_text().strip() if autogroup.exists() else "absent"
    print(f"sched_autogroup_enabled: {enabled}; this process's CPU cgroup: {cpu_cgroup}")
    p50, p99 = probe(args.seconds)
    print(f"{'no loops':<42} probe p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")
    for own_sessions in (False, True):
        for name, prefix in PRIORITIES.items():
            p50, p99 = beside(
                [prefix + LOOP] * args.loops,
                own_sessions=own_sessions,
                action=lambda: probe(args.seconds),
            )
            where = "each in its own session" if own_sessions else "in the probe's session"
            print(f"{args.loops} loops {name:<10} {where:<24} probe p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")
    for name, prefix in PRIORITIES.items():
        took = beside([LOOP, LOOP], own_sessions=False, action=lambda p=prefix: timed(p + SMALL_PROGRAM))
        print(f"a small program at {name:<10} beside 2 busy loops: {took}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
