"""Daily quotas, enforced in the database.

Taking a unit is one conditional UPDATE: it succeeds only while units remain today, and the first
unit of a new day resets the count in the same statement. No read-then-write in Python, so it holds
across threads, gunicorn workers and machines sharing PostgreSQL.

The learner's Quota row also holds what a generation needs besides a unit: a slot of the
generations they may have under way (GENERATION_MAX_IN_FLIGHT_PER_LEARNER, with a lease against a
process that died) and, for a model, one of the day's GENERATION_FAILURES_PER_DAY.
generation_start takes all three in one conditional UPDATE, generation_end gives back what the
outcome says in one more.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from challengeapp.core.errors import LearnerBusy, QuotaExceeded, TooManyFailures
from challengeapp.models import Quota

QUOTA_EXCEEDED = "You have used all of today's challenges."
LEARNER_BUSY = (
    "You already have {count} challenges being written. Wait for one of them to finish, then try again."
)
# A learner's in-flight count older than this is left over from a process that died mid-way
# (a generation is bounded by the model timeout and gunicorn's worker timeout, both shorter).
IN_FLIGHT_LEASE = dt.timedelta(minutes=5)
TOO_MANY_FAILURES = (
    "Generating a challenge failed {count} times for you today, so generating is paused until "
    "tomorrow. Your history and reviews still work."
)


def quota_today() -> dt.date:
    """The calendar day quotas count in: TIME_ZONE's, whatever time zone a request activates."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


@dataclass(frozen=True)
class QuotaStatus:
    daily_limit: int
    used: int
    day: dt.date
    resets_at: dt.datetime

    @property
    def remaining(self) -> int:
        return max(self.daily_limit - self.used, 0)

    @property
    def starts_at(self) -> dt.datetime:
        """The moment the current quota day began in TIME_ZONE."""
        return timezone.make_aware(
            dt.datetime.combine(self.day, dt.time.min), timezone.get_default_timezone()
        )

    @property
    def is_exhausted(self) -> bool:
        return self.remaining == 0


def _limit_expression():
    return Coalesce(F("daily_limit"), Value(settings.DAILY_CHALLENGE_QUOTA))


def quota_resets_at(day: dt.date) -> dt.datetime:
    """The moment `day` ends in TIME_ZONE, when a new day's quota starts."""
    next_day = day + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(next_day, dt.time.min), timezone.get_default_timezone())


def quota_row_ensure(user) -> None:
    """Create the learner's quota row if they have none."""
    # Learners get their row when created; this only covers users made another way (the admin).
    Quota.objects.get_or_create(user_id=user.pk, defaults={"day": quota_today()})


def _loaded_quota(user) -> Quota | None:
    """The quota row loaded with the learner for this request (identity/learners.py), if any."""
    return getattr(user, "loaded_quota", None)


def _reload_quota(user) -> None:
    """After a write, bring the row loaded with the learner up to date, so the rest of the
    request shows the new count."""
    quota = _loaded_quota(user)
    if quota is not None:
        quota.refresh_from_db(fields=["daily_limit", "used", "day"])


def quota_status(*, user) -> QuotaStatus:
    today = quota_today()
    quota = _loaded_quota(user) or Quota.objects.filter(user=user).first()
    if quota is None:
        quota_row_ensure(user)
        quota = Quota.objects.get(user=user)
    limit = quota.daily_limit if quota.daily_limit is not None else settings.DAILY_CHALLENGE_QUOTA
    used = quota.used if quota.day == today else 0
    return QuotaStatus(daily_limit=limit, used=used, day=today, resets_at=quota_resets_at(today))


def _unit_available(today: dt.date) -> tuple[Q, dict]:
    """The condition under which a unit of today's quota can be taken, and the fields that take it:
    units remain today, or this is the first unit of a new day (which resets the count)."""
    limit_is_positive = Q(daily_limit__gt=0)
    if settings.DAILY_CHALLENGE_QUOTA > 0:
        limit_is_positive |= Q(daily_limit__isnull=True)
    units_left_today = Q(day=today, used__lt=_limit_expression())
    first_unit_of_new_day = ~Q(day=today) & limit_is_positive
    return units_left_today | first_unit_of_new_day, {
        "used": Case(When(day=today, then=F("used") + 1), default=Value(1)),
        "day": today,
    }


def _failure_unit_available(today: dt.date) -> tuple[Q, dict]:
    """The condition under which one of today's GENERATION_FAILURES_PER_DAY can be held, and the
    fields that hold it."""
    counts_today = Q(failures_day=today)
    return (counts_today & Q(failures__lt=settings.GENERATION_FAILURES_PER_DAY)) | ~counts_today, {
        "failures": Case(When(counts_today, then=F("failures") + 1), default=Value(1)),
        "failures_day": today,
    }


def _slot_available(now: dt.datetime, limit: int) -> tuple[Q, dict]:
    """The condition under which the learner may start one more generation (fewer than `limit`
    under way, or the count is left over from a process that died: older than the lease), and the
    fields that take the slot."""
    leftover = Q(in_flight_since__lt=now - IN_FLIGHT_LEASE) | Q(in_flight_since__isnull=True)
    return Q(in_flight__lt=limit) | leftover, {
        "in_flight": Case(When(leftover, then=Value(1)), default=F("in_flight") + 1),
        "in_flight_since": now,
    }


def _take(user, parts: list[tuple[Q, dict, Exception]]) -> bool:
    """Take every part (its condition, its fields) in one conditional UPDATE of the learner's quota
    row, all or nothing. Returns True when taken; when not, raises the error of the first part
    whose condition fails, or returns False when they all hold now (freed in between: the caller
    tries again). A learner without a row (a user made another way) gets one first."""
    rows = Quota.objects.filter(user=user)
    fields = {}
    for _, take, _ in parts:
        fields.update(take)
    if rows.filter(*(available for available, _, _ in parts)).update(**fields) == 1:
        return True
    if not rows.exists():
        quota_row_ensure(user)
        return False
    for available, _, refused in parts:
        if not rows.filter(available).exists():
            raise refused
    return False


def quota_consume(*, user) -> dt.date:
    """Take one unit of today's quota, or raise QuotaExceeded. Returns the day it was taken for,
    which quota_release needs to give it back. (A generation takes its unit with the rest of what
    it needs: generation_start.)"""
    today = quota_today()
    available, take = _unit_available(today)
    while not _take(user, [(available, take, QuotaExceeded(QUOTA_EXCEEDED))]):
        pass
    _reload_quota(user)
    return today


def quota_release(*, user, day: dt.date) -> None:
    """Give back a unit taken on `day` (a failed generation costs nothing). A unit taken on a day
    that has since ended is not given back: that day's count no longer matters."""
    Quota.objects.filter(user=user, day=day, used__gt=0).update(used=F("used") - 1)
    _reload_quota(user)


class GenerationEnd(enum.Enum):
    """How a generation ended, for generation_end: what it gives back."""

    SERVED = "served"  # the quota unit is spent; the failure unit goes back
    FAILED = "failed"  # a model was asked and failed: the quota unit goes back, the failure counts
    ABANDONED = "abandoned"  # no model answered for it (busy, or an error of ours): all goes back


def generation_start(*, user, slot_limit: int, counts_failure: bool) -> dt.date:
    """Everything a generation holds before a provider is asked, taken at once in one conditional
    UPDATE of the learner's quota row: a slot of the GENERATION_MAX_IN_FLIGHT_PER_LEARNER under way,
    with `counts_failure` (a model, which bills every request) one of today's
    GENERATION_FAILURES_PER_DAY, and a unit of today's quota. All or nothing: when one is missing,
    nothing is taken and LearnerBusy, TooManyFailures or QuotaExceeded says which (in that order).
    Returns the day the units count for; generation_end gives back what the outcome says.

    One statement instead of three (and one more to end instead of two) is measured: a storm of
    generations pays for each round trip in the burst at every model round (docs/BENCHMARKS.md).
    """
    today, now = quota_today(), timezone.now()
    parts = [(*_slot_available(now, slot_limit), LearnerBusy(LEARNER_BUSY.format(count=slot_limit)))]
    if counts_failure:
        limit = settings.GENERATION_FAILURES_PER_DAY
        parts.append(
            (*_failure_unit_available(today), TooManyFailures(TOO_MANY_FAILURES.format(count=limit)))
        )
    parts.append((*_unit_available(today), QuotaExceeded(QUOTA_EXCEEDED)))
    while not _take(user, parts):
        pass
    # The row loaded with the learner is stale now; quota_status reads it again if asked.
    user.loaded_quota = None
    return today


def generation_end(*, user, day: dt.date, counts_failure: bool, outcome: GenerationEnd) -> None:
    """Give back what a generation started with generation_start no longer needs, in one UPDATE:
    always its slot; the quota unit unless it served a challenge; the failure unit unless a model
    failed. A unit taken on a day that has since ended is not given back."""
    count = PositiveIntegerField()
    fields = {
        "in_flight": Case(
            When(in_flight__gt=0, then=F("in_flight") - 1), default=Value(0), output_field=count
        )
    }
    if outcome is not GenerationEnd.SERVED:
        fields["used"] = Case(
            When(Q(day=day, used__gt=0), then=F("used") - 1), default=F("used"), output_field=count
        )
    if counts_failure and outcome is not GenerationEnd.FAILED:
        fields["failures"] = Case(
            When(Q(failures_day=day, failures__gt=0), then=F("failures") - 1),
            default=F("failures"),
            output_field=count,
        )
    Quota.objects.filter(user=user).update(**fields)
    user.loaded_quota = None


def failures_today(quota: Quota) -> int:
    """Failed generations (and generations under way) counted for today."""
    return quota.failures if quota.failures_day == quota_today() else 0


def quota_reset(*, user=None) -> int:
    """Reset today's usage, failed generations included, for one learner or everyone. Returns how
    many quotas were reset."""
    quotas = Quota.objects.all() if user is None else Quota.objects.filter(user=user)
    reset = quotas.update(used=0, day=quota_today(), failures=0)
    if user is not None:
        _reload_quota(user)
    return reset


def quota_set_limit(*, user, daily_limit: int | None) -> None:
    Quota.objects.filter(user=user).update(daily_limit=daily_limit)
    _reload_quota(user)
