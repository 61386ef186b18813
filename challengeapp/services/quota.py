"""Daily quotas, enforced in the database.

Taking a unit is one conditional UPDATE: it succeeds only while units remain today, and the first
unit of a new day resets the count in the same statement. No read-then-write in Python, so it holds
across threads, gunicorn workers and machines sharing PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from challengeapp.models import Quota
from challengeapp.services.errors import QuotaExceeded, TooManyFailures
from challengeapp.services.learners import quota_today

QUOTA_EXCEEDED = "You have used all of today's challenges."
TOO_MANY_FAILURES = (
    "Generating a challenge failed {count} times for you today, so generating is paused until "
    "tomorrow. Your history and reviews still work."
)


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
    """The quota row loaded with the learner for this request (services/learners.py), if any."""
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


def quota_consume(*, user) -> dt.date:
    """Take one unit of today's quota, or raise QuotaExceeded. Returns the day it was taken for,
    which quota_release needs to give it back."""
    today = quota_today()
    limit_is_positive = Q(daily_limit__gt=0)
    if settings.DAILY_CHALLENGE_QUOTA > 0:
        limit_is_positive |= Q(daily_limit__isnull=True)
    units_left_today = Q(day=today, used__lt=_limit_expression())
    first_unit_of_new_day = ~Q(day=today) & limit_is_positive
    taken = (
        Quota.objects.filter(user=user)
        .filter(units_left_today | first_unit_of_new_day)
        .update(
            used=Case(When(day=today, then=F("used") + 1), default=Value(1)),
            day=today,
        )
    )
    if taken == 1:
        _reload_quota(user)
        return today
    if not Quota.objects.filter(user=user).exists():
        quota_row_ensure(user)
        return quota_consume(user=user)
    raise QuotaExceeded(QUOTA_EXCEEDED)


def quota_release(*, user, day: dt.date) -> None:
    """Give back a unit taken on `day` (a failed generation costs nothing). A unit taken on a day
    that has since ended is not given back: that day's count no longer matters."""
    Quota.objects.filter(user=user, day=day, used__gt=0).update(used=F("used") - 1)
    _reload_quota(user)


def generation_failure_take(*, user) -> dt.date:
    """Hold one of today's GENERATION_FAILURES_PER_DAY before asking a model, or raise
    TooManyFailures. Returns the day it counts for, which generation_failure_release needs.

    A model bills every request, usable answer or not, and a failed generation costs the learner
    nothing: this is what bounds failures. The generation gives the unit back when it succeeds and
    keeps it when it fails; held from the start (not counted at the end), so generations running at
    once cannot pass the bound between them. One conditional UPDATE, like quota_consume.
    """
    today = quota_today()
    limit = settings.GENERATION_FAILURES_PER_DAY
    counts_today = Q(failures_day=today)
    taken = (
        Quota.objects.filter(user=user)
        .filter((counts_today & Q(failures__lt=limit)) | ~counts_today)
        .update(
            failures=Case(When(counts_today, then=F("failures") + 1), default=Value(1)), failures_day=today
        )
    )
    if taken == 1:
        return today
    if not Quota.objects.filter(user=user).exists():
        quota_row_ensure(user)
        return generation_failure_take(user=user)
    raise TooManyFailures(TOO_MANY_FAILURES.format(count=limit))


def generation_failure_release(*, user, day: dt.date) -> None:
    """Give back a failure unit held on `day`: the generation succeeded, or never asked a model."""
    Quota.objects.filter(user=user, failures_day=day, failures__gt=0).update(failures=F("failures") - 1)


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
