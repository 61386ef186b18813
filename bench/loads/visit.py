"""The first visit: the bytes on the wire of the practice page and every script and stylesheet it links."""

from __future__ import annotations

import clients
from harness import BackendBench, log


def measure(bench: BackendBench, token: str) -> None:
    log(f"{bench.name}: first visit of the practice page")
    bench.result.first_visit = clients.first_visit(bench.server.url, token)
