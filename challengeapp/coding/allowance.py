"""The bounds on a learner's code runs: runs under way at once (CODE_RUNS_IN_FLIGHT_PER_LEARNER)
and runs a day (CODE_RUNS_PER_DAY), both across every process, held in the learner's
CodeRunAllowance row and taken in one conditional UPDATE, as the challenge quota is (quota.py).
A count left by a process that died mid-run expires after RUN_LEASE."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from challengeapp.core.errors import CodeDrillError
from challengeapp.models import CodeRunAllowance
from challengeapp.quality.sandbox import WALL_SECONDS
from challengeapp.quota import quota_resets_at, quota_today

RUN_LEASE = dt.timedelta(minutes=2)
RUNS_IN_FLIGHT = "Your code is already running {count} time(s). Wait for the result, then run it again."
RUNS_PER_DAY = "You have run code {count} times today, the most a day. Runs open again tomorrow."


class RunRefused(CodeDrillError):
    """A run was not started; nothing was run or counted. `http_status` is 429 (a bound, or the
    sandbox busy past the queue) or 503 (no sandbox); `retry_after`, when known, the seconds until
    a run may be taken again (the Retry-After header)."""

    def __init__(self, message: str, *, http_status: int = 429, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after


def run_start(*, user) -> None:
    """Take one of the learner's runs in flight and one of today's runs, or raise RunRefused."""
    today, now = quota_today(), timezone.now()
    CodeRunAllowance.objects.get_or_create(user_id=user.pk, defaults={"day": today})
    per_day, in_flight = settings.CODE_RUNS_PER_DAY, settings.CODE_RUNS_IN_FLIGHT_PER_LEARNER
    leftover = Q(in_flight_since__lt=now - RUN_LEASE) | Q(in_flight_since__isnull=True)
    slot_free = Q(in_flight__lt=in_flight) | leftover
    run_left = ~Q(day=today) | Q(runs__lt=per_day)
    taken = (
        CodeRunAllowance.objects.filter(user_id=user.pk)
        .filter(slot_free, run_left)
        .update(
            in_flight=Case(When(leftover, then=Value(1)), default=F("in_flight") + 1),
            in_flight_since=now,
            runs=Case(When(day=today, then=F("runs") + 1), default=Value(1)),
            day=today,
        )
    )
    if taken:
        return
    if not CodeRunAllowance.objects.filter(user_id=user.pk).filter(run_left).exists():
        until_tomorrow = (quota_resets_at(today) - now).total_seconds()
        raise RunRefused(RUNS_PER_DAY.format(count=per_day), retry_after=max(1, math.ceil(until_tomorrow)))
    # A run under way ends within the sandbox's wall-clock limit.
    raise RunRefused(RUNS_IN_FLIGHT.format(count=in_flight), retry_after=math.ceil(WALL_SECONDS))


def run_end(*, user, counted: bool = True) -> None:
    """Give back the run's slot; with `counted` False (nothing was run: the sandbox was busy or
    unavailable), today's run too."""
    count = PositiveIntegerField()
    fields = {
        "in_flight": Case(
            When(in_flight__gt=0, then=F("in_flight") - 1), default=Value(0), output_field=count
        )
    }
    if not counted:
        fields["runs"] = Case(
            When(Q(day=quota_today(), runs__gt=0), then=F("runs") - 1), default=F("runs"), output_field=count
        )
    CodeRunAllowance.objects.filter(user_id=user.pk).update(**fields)
