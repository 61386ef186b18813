"""Request threads of one worker process take turns running Django; a thread that waits steps aside.

CPython runs one thread's Python code at a time (the GIL). When several request threads compete
for it, every hand-over (at each database call, each row SQLite steps through, each socket read)
costs futex wake-ups and context switches, and the process does less work per second than one
thread alone (measured by `bench/turns.py`; figures in the README).

So the WSGI app runs under a per-process turn (`TakeTurns`), and code that waits on something slow
outside the process, a model call or a fetch of Clerk's keys, steps aside (`step_aside()`) so the
other threads go on meanwhile. Gunicorn's own socket reading and writing happens outside the turn.

The one rule: never wait for another lock while holding the turn, unless no thread ever steps
aside holding it. A thread that steps aside may hold such a lock and then wait for the turn; if the
turn's holder waited for that lock, neither would move. Database queries run in the turn: with
SQLite they are work inside the process. With PostgreSQL a query is a wait on the network, which is
why turns are off there by default (REQUEST_TURNS); if turned on, no thread waiting for the turn
holds a pooled connection (one is taken at a request's first query and given back when its
response is closed, outside the turn), so the pool cannot run dry behind the turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_turn = threading.Lock()
_state = threading.local()


def holding_turn() -> bool:
    return getattr(_state, "holding", False)


@contextmanager
def turn() -> Iterator[None]:
    """Run the block as this process's only request thread running Python (re-entrant)."""
    if holding_turn():
        yield
        return
    _turn.acquire()
    _state.holding = True
    try:
        yield
    finally:
        _state.holding = False
        _turn.release()


@contextmanager
def step_aside() -> Iterator[None]:
    """Let other request threads run while this one waits on something slow. A no-op outside a
    turn (management commands, tests calling services directly)."""
    if not holding_turn():
        yield
        return
    _state.holding = False
    _turn.release()
    try:
        yield
    finally:
        _turn.acquire()
        _state.holding = True


class TakeTurns:
    """WSGI middleware: the wrapped app runs in the process's turn. The response body is sent by
    the server after the turn is given back, so a slow client never holds it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with turn():
            return self.app(environ, start_response)
