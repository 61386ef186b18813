"""Per-process bounds on work that is slow or heavy: at most `limit` at once of each kind.

One semaphore per kind and limit (a test that changes the setting gets a bound of its own),
created under a lock, so threads starting at the same moment share the same bound.
"""

from __future__ import annotations

import threading

_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def process_slots(kind: str, limit: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        slots = _slots.get((kind, limit))
        if slots is None:
            slots = _slots[(kind, limit)] = threading.BoundedSemaphore(limit)
        return slots
