"""Bounds on work that is slow or heavy: at most `limit` at once of each kind, per process
(`process_slots`) or for the whole machine (`machine_slot_acquire`).

One semaphore per kind and limit (a test that changes the setting gets a bound of its own),
created under a lock, so threads starting at the same moment share the same bound.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def process_slots(kind: str, limit: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        slots = _slots.get((kind, limit))
        if slots is None:
            slots = _slots[(kind, limit)] = threading.BoundedSemaphore(limit)
        return slots


# --- machine_slot: the same kind of bound, shared by every process on the machine -------------------
# A bound per process multiplies with the number of processes (gunicorn's workers); some work must be
# bounded for the whole machine instead. The slots are `limit` lock files in `directory`, each held
# with flock(2): the kernel lets one open file hold each, threads of one process included (each
# opens its own), and gives it back when the holder closes it or dies, so a crashed worker never
# keeps a slot. Python's threading and multiprocessing offer no semaphore shared by unrelated
# processes that a dying holder releases; POSIX named semaphores stay taken.

MACHINE_SLOT_POLL_SECONDS = 0.01


def machine_slot_acquire(kind: str, limit: int, *, directory: str, timeout: float) -> int | None:
    """Take one of the machine's `limit` slots of `kind`, waiting up to `timeout` seconds: the
    held file's descriptor (give it to machine_slot_release), or None when none came free."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        for index in range(limit):
            path = os.path.join(directory, f"{kind}-{index}.lock")
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            return descriptor
        if time.monotonic() >= deadline:
            return None
        time.sleep(MACHINE_SLOT_POLL_SECONDS)


def machine_slot_release(descriptor: int) -> None:
    os.close(descriptor)  # closing the file gives its lock back
