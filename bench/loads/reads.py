"""The reads: GET /api/history at 10, 1,000 (a page of 50) and 5,000 items, the practice page and the
history page, each over the load generator's keep-alive connections (wrk)."""

from __future__ import annotations

from harness import BackendBench

# GET /api/history with no limit answers the whole history: big bodies, so fewer connections.
HISTORY_ALL_ITEMS = 5_000
HISTORY_ALL_CONNECTIONS = 4

HISTORY_10 = "GET /api/history (10 items)"
HISTORY_PAGE = "GET /api/history?limit=50 (1,000 items)"
HISTORY_ALL = f"GET /api/history (all {HISTORY_ALL_ITEMS:,} items)"
PRACTICE_PAGE = "GET / practice page"
HISTORY_HTML = "GET /history/ history page (1,000 items, 20 shown)"


def measure(bench: BackendBench, tokens: dict[str, str]) -> None:
    bench.load(HISTORY_10, path="/api/history", token=tokens["hist10"])
    bench.load(HISTORY_PAGE, path="/api/history?limit=50", token=tokens["hist1000"])
    bench.load(
        HISTORY_ALL,
        path="/api/history",
        token=tokens["hist5000"],
        connections=HISTORY_ALL_CONNECTIONS,
    )
    bench.load(PRACTICE_PAGE, path="/", cookie=tokens["hist1000"])
    bench.load(HISTORY_HTML, path="/history/", cookie=tokens["hist1000"])
