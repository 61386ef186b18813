"""Generations with an instant model: POST /api/generate-challenge under the load generator (wrk), its
learners in turn."""

from __future__ import annotations

from harness import BackendBench

GENERATE_INSTANT = "POST /api/generate-challenge, model instant, 32 learners"


def measure(bench: BackendBench, learner_tokens: list[str]) -> None:
    bench.fake.set_delay(0)
    bench.fake.reset()
    # More learners than connections, each request the next one's: per-learner limits on
    # generations in flight never come into play.
    bench.load(
        GENERATE_INSTANT,
        method="POST",
        path="/api/generate-challenge",
        body={"difficulty": "easy"},
        rotate_tokens=learner_tokens,
    )
    bench.result.loads[GENERATE_INSTANT]["model_calls"] = bench.fake.stats()["requests"]
