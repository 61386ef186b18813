"""The wall-clock budget of one generation (settings.GENERATION_BUDGET_SECONDS).

A generation may ask the model more than once (a retry, the json_object fallback, a repeated
question asked again); however many requests it makes, it ends within the budget, so a slow or
runaway model can never hold a learner, or a gunicorn worker, past it. generation.py opens the
budget around a generation; the OpenAI provider caps each request's timeouts by the time left and
stops asking once it is spent. The deadline lives in a context variable, so each request thread
has its own and nothing is passed through the provider interface.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from challengeapp.core.errors import GenerationError

BUDGET_SPENT = (
    "The challenge generator took too long, so we stopped waiting. This one cost you nothing: "
    "please try again."
)
BUDGET_CAUSE = "budget"

_deadline: ContextVar[float | None] = ContextVar("generation_deadline", default=None)


@contextmanager
def generation_budget(seconds: float) -> Iterator[None]:
    """Everything inside must finish within `seconds` from now (or an enclosing budget's end, if
    that comes first)."""
    deadline = time.monotonic() + seconds
    enclosing = _deadline.get()
    token = _deadline.set(deadline if enclosing is None else min(deadline, enclosing))
    try:
        yield
    finally:
        _deadline.reset(token)


def budget_seconds_left() -> float | None:
    """Seconds left in the current budget (never negative), or None outside any budget."""
    deadline = _deadline.get()
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def budget_spent() -> bool:
    left = budget_seconds_left()
    return left is not None and left <= 0


def budget_error(*, upstream_request_id: str = "") -> GenerationError:
    return GenerationError(BUDGET_SPENT, cause=BUDGET_CAUSE, upstream_request_id=upstream_request_id)


def budget_check() -> None:
    """Raise the budget's GenerationError when the current budget is spent."""
    if budget_spent():
        raise budget_error()
