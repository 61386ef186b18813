"""Quota reads by other learners while uploads stall half-way through their bodies."""

from __future__ import annotations

import time
from collections import Counter

import clients
from harness import BackendBench, connections_per_worker, log

# Uploads that stall: headers and 16 bytes of a 10,000-byte body, then nothing, to each path.
STALLED_UPLOADS = {"/webhooks/clerk": 4, "/api/generate-challenge": 4}
STALLED_CONTENT_LENGTH = 10_000
STALLED_PROBE_INTERVAL = 0.03
STALLED_PROBE_TIMEOUT = 5.0
STALLED_PROBE_LEARNERS = 8


def measure(bench: BackendBench, stall_tokens: list[str], probe_tokens: list[str]) -> dict:
    """Uploads that stall after their headers and a few bytes, held open while other learners
    read their quota, each probe on a new connection (so spread over the workers)."""
    label = "stalled uploads"
    bench.wait_for_quiet(label)
    bench.fake.set_delay(0)  # the generations complete at once when the uploads resume
    tokens = iter(stall_tokens)
    uploads = [
        clients.StalledUpload(
            bench.server.url,
            path,
            content_length=STALLED_CONTENT_LENGTH,
            token=next(tokens) if path.startswith("/api/") else None,
        )
        for path, count in STALLED_UPLOADS.items()
        for _ in range(count)
    ]
    try:
        time.sleep(0.5)  # the server's threads have taken the requests and wait for the rest
        split = " / ".join(
            str(count) for count in connections_per_worker(bench.server.port, bench.worker_pids()).values()
        )
        window = bench.args.stalled_window
        prober = clients.Prober(
            bench.server.url,
            probe_tokens,
            interval=STALLED_PROBE_INTERVAL,
            duration=window,
            new_connection=True,
            timeout=STALLED_PROBE_TIMEOUT,
        )
        meter = bench.cpu_meter()
        meter.start()
        prober.start()
        probe = prober.result()
        cpu = meter.stop()
        held = sum(not upload.answered() for upload in uploads)
    finally:
        finished = Counter(upload.finish() for upload in uploads)
    result = {
        "uploads": len(uploads),
        "held": held,
        "window_s": window,
        "split": split,
        "probe": probe,
        "resumed": {str(status): count for status, count in sorted(finished.items())},
        "cpu": cpu,
    }
    bench.result.stalled = result
    log(
        f"{bench.name}: {label}: {held} of {len(uploads)} held open unanswered (connections per worker "
        f"{split}); quota probes p50 {probe['p50_ms']:.1f} ms, p99 {probe['p99_ms']:.1f} ms, max "
        f"{probe['max_ms']:.1f} ms over {probe['samples']}, errors {probe['errors']} {probe['statuses']}; "
        f"resumed: {result['resumed']}"
    )
    return result
