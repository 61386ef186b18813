"""Quota: one atomic conditional update per unit; a new day resets it exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from challengeapp.core.errors import QuotaExceeded
from challengeapp.models import Quota
from challengeapp.quota import (
    quota_consume,
    quota_release,
    quota_reset,
    quota_resets_at,
    quota_set_limit,
    quota_status,
)
from challengeapp.tests.conftest import make_learner

pytestmark = pytest.mark.django_db


def test_a_new_learner_has_the_default_daily_quota(learner, settings):
    status = quota_status(user=learner)
    assert (status.used, status.remaining, status.daily_limit) == (0, 50, 50)
    assert status.resets_at == quota_resets_at(timezone.localdate())


def test_taking_units_stops_exactly_at_the_limit(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 3
    for _ in range(3):
        quota_consume(user=learner)
    with pytest.raises(QuotaExceeded):
        quota_consume(user=learner)
    assert quota_status(user=learner).remaining == 0
    assert Quota.objects.get(user=learner).used == 3


def test_a_released_unit_can_be_taken_again(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    day = quota_consume(user=learner)
    quota_release(user=learner, day=day)
    assert quota_status(user=learner).remaining == 1
    quota_consume(user=learner)
    with pytest.raises(QuotaExceeded):
        quota_consume(user=learner)


def test_release_never_goes_below_zero(learner):
    quota_release(user=learner, day=timezone.localdate())
    assert Quota.objects.get(user=learner).used == 0


def test_a_new_day_resets_the_count_on_the_first_unit(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 2
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Quota.objects.filter(user=learner).update(used=2, day=yesterday)
    assert quota_status(user=learner).remaining == 2
    assert quota_consume(user=learner) == timezone.localdate()
    quota = Quota.objects.get(user=learner)
    assert (quota.used, quota.day) == (1, timezone.localdate())


def test_a_unit_taken_yesterday_is_not_given_back_today(learner):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    quota_consume(user=learner)
    quota_release(user=learner, day=yesterday)
    assert Quota.objects.get(user=learner).used == 1


def test_a_per_learner_limit_overrides_the_default(learner, other_learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 5
    quota_set_limit(user=learner, daily_limit=1)
    quota_consume(user=learner)
    with pytest.raises(QuotaExceeded):
        quota_consume(user=learner)
    assert quota_status(user=other_learner).daily_limit == 5


def test_a_limit_of_zero_refuses_even_on_a_new_day(learner):
    quota_set_limit(user=learner, daily_limit=0)
    Quota.objects.filter(user=learner).update(day=timezone.localdate() - dt.timedelta(days=3))
    with pytest.raises(QuotaExceeded):
        quota_consume(user=learner)


def test_reset_gives_back_today_for_one_learner_or_everyone(learner, other_learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    quota_consume(user=learner)
    quota_consume(user=other_learner)
    assert quota_reset(user=learner) == 1
    assert quota_status(user=learner).remaining == 1
    assert quota_status(user=other_learner).remaining == 0
    assert quota_reset() == 2
    assert quota_status(user=other_learner).remaining == 1


def test_a_user_without_a_quota_row_gets_one(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="operator")
    quota_consume(user=user)
    assert Quota.objects.get(user=user).used == 1


def test_the_day_counts_in_the_configured_time_zone(learner, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: usually a different date from UTC
    status = quota_status(user=learner)
    assert status.day == timezone.localdate()
    assert status.resets_at.utcoffset() == dt.timedelta(hours=14)


def test_learner_creation_is_idempotent(db):
    first = make_learner("user_twice")
    second = make_learner("user_twice")
    assert first.pk == second.pk
    assert Quota.objects.filter(user=first).count() == 1


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_learner_loads_with_their_quota_exactly_as_the_orm_would(db, django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from challengeapp.identity.learners import learner_with_quota

    User = get_user_model()
    made = make_learner("user_exact", email="é@example.com", first_name="Zoë", last_name="O'Brien")
    User.objects.filter(pk=made.pk).update(last_login=timezone.now(), is_staff=True)
    Quota.objects.filter(user=made).update(
        used=3,
        daily_limit=7,
        day=dt.date(2026, 2, 28),
        failures=2,
        failures_day=dt.date(2026, 2, 27),
        export_started_at=timezone.now(),
    )
    expected = User.objects.select_related("quota").get(username="user_exact")

    with django_assert_num_queries(1):
        user = learner_with_quota("user_exact")
        status = quota_status(user=user)  # the row loaded with the learner: no second query
    loaded = set(_fields(user)) - user.get_deferred_fields()
    assert {name: _fields(user)[name] for name in loaded} == {
        name: _fields(expected)[name] for name in loaded
    }
    assert {"username", "email", "first_name", "last_name", "is_active", "is_staff"} <= loaded
    assert _fields(user.loaded_quota) == _fields(expected.quota)
    assert (status.daily_limit, status.used) == (7, 0)  # the row counts for another day
    assert isinstance(user.is_staff, bool) and user.is_staff is True
    # What was not loaded loads when read, as for any deferred field.
    assert user.last_login == expected.last_login and user.last_login.tzinfo is not None
    # A loaded learner saves as an update of the same row.
    user.first_name = "Zoe"
    user.save(update_fields=["first_name"])
    assert User.objects.get(pk=made.pk).first_name == "Zoe"
    assert User.objects.count() == 1


def test_an_unknown_learner_or_one_without_a_quota_row(db):
    from django.contrib.auth import get_user_model

    from challengeapp.identity.learners import learner_with_quota

    assert learner_with_quota("user_nobody") is None
    get_user_model().objects.create(username="operator_made")
    user = learner_with_quota("operator_made")
    assert user.username == "operator_made"
    assert quota_status(user=user).remaining == quota_status(user=make_learner("user_other")).remaining
