"""Slow generations on a warm server: 8 learners against the 2 s model, quota probed meanwhile."""

from __future__ import annotations

from harness import BackendBench

SLOW_8 = "model 2 s, 8 learners"


def measure(bench: BackendBench, probe_token: str) -> None:
    bench.generation(
        SLOW_8,
        [f"user_bench_slow8_{i:02d}" for i in range(1, 9)],
        probe_token,
        bench.args.generation_window,
    )
