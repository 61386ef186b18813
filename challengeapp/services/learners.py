"""Learners: a Django User per Clerk user id (username), with their quota row."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from challengeapp.models import Quota

User = get_user_model()

MAX_NAME_CHARS = 150
MAX_EMAIL_CHARS = 254


def quota_today():
    """The calendar day quotas count in (TIME_ZONE)."""
    return timezone.localdate()


def learner_get_or_create(
    *, clerk_id: str, email: str = "", first_name: str = "", last_name: str = ""
) -> User:
    """The learner with this Clerk id, created with their quota on first sight.

    Safe when a webhook and a first request create the same learner at the same moment: the loser
    of the race reads the winner's row. Profile fields given here fill in a new learner only.
    """
    user = learner_with_quota(clerk_id)
    if user is not None:
        return user
    try:
        with transaction.atomic():
            user = User.objects.create(
                username=clerk_id,
                email=email[:MAX_EMAIL_CHARS],
                first_name=first_name[:MAX_NAME_CHARS],
                last_name=last_name[:MAX_NAME_CHARS],
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
            # By id, so the new row is not cached on this User object: quota_status reads it fresh.
            Quota.objects.create(user_id=user.pk, day=quota_today())
    except IntegrityError:
        user = User.objects.get(username=clerk_id)
    return user


def learner_with_quota(clerk_id: str) -> User | None:
    """The learner with this Clerk id and their quota row (None if either is missing), in one query.

    This runs on every signed-in request, so it skips the ORM's query compiler, which costs about
    20 times the query itself here: the SQL is the ORM's own, compiled once per database, and rows
    become model instances through Model.from_db with each field's database converters, as the ORM
    does. Equivalent to `User.objects.select_related("quota").filter(username=clerk_id).first()`.
    """
    alias = router.db_for_read(User)
    lookup = _learner_lookup(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(lookup.sql, [clerk_id])
        row = cursor.fetchone()
    if row is None:
        return None
    connection = connections[alias]
    values = []
    for value, (column, converters) in zip(row, lookup.columns, strict=True):
        for convert in converters:
            value = convert(value, column, connection)
        values.append(value)
    user = User.from_db(alias, lookup.user_fields, values[: len(lookup.user_fields)])
    quota_values = values[len(lookup.user_fields) :]
    if quota_values[0] is not None:
        quota = Quota.from_db(alias, lookup.quota_fields, quota_values)
        Quota.user.field.set_cached_value(quota, user)
        User.quota.related.set_cached_value(user, quota)
    return user


class _LearnerLookup:
    """The learner query for one database: its SQL, and each column with its converters."""

    def __init__(self, alias: str) -> None:
        connection = connections[alias]
        queryset = User.objects.using(alias).select_related("quota").filter(username="")
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        if params != ("",) and params != [""]:
            raise RuntimeError(f"unexpected parameters in the learner query: {params!r}")
        user_columns = [field for field in User._meta.concrete_fields]
        quota_columns = [field for field in Quota._meta.concrete_fields]
        selected = [column.target for column, _sql, _alias in compiler.select]
        if selected != user_columns + quota_columns:
            raise RuntimeError("the learner query does not select the columns expected")
        self.user_fields = [field.attname for field in user_columns]
        self.quota_fields = [field.attname for field in quota_columns]
        self.columns = [
            (
                column,
                connection.ops.get_db_converters(column) + column.get_db_converters(connection),
            )
            for column, _sql, _alias in compiler.select
        ]


@functools.cache
def _learner_lookup(alias: str) -> _LearnerLookup:
    return _LearnerLookup(alias)


def learner_update(*, clerk_id: str, email: str, first_name: str, last_name: str) -> bool:
    """Update an existing learner's profile. Returns False when there is no such learner: an update
    delivered after a deletion (webhooks can arrive out of order) must not bring the learner back."""
    updated = User.objects.filter(username=clerk_id).update(
        email=email[:MAX_EMAIL_CHARS],
        first_name=first_name[:MAX_NAME_CHARS],
        last_name=last_name[:MAX_NAME_CHARS],
    )
    return updated > 0


def learner_delete(*, clerk_id: str) -> bool:
    """Delete the learner and everything that is theirs (challenges, attempts, quota)."""
    deleted, _ = User.objects.filter(username=clerk_id, is_staff=False).delete()
    return deleted > 0


def learner_display_name(user: User) -> str:
    full = f"{user.first_name} {user.last_name}".strip()
    return full or user.email or user.username
