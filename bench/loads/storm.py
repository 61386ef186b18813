"""The storm: 32 learners generating against the 2 s model, as the first requests the
freshly started server serves (after /healthz), as after a deploy."""

from __future__ import annotations

from harness import BackendBench

STORM_LEARNERS = 32
STORM = f"model 2 s, {STORM_LEARNERS} learners, right after start"


def measure(bench: BackendBench, learners: list[str], probe_token: str) -> None:
    # The server has answered nothing but /healthz yet: fresh processes, as after a deploy,
    # with learners who already have accounts.
    bench.generation(STORM, learners, probe_token, bench.args.generation_window, warm=False)
