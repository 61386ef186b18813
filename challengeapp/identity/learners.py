"""Learners: a Django User per Clerk user id (username), with their quota row.

A learner deleted in Clerk leaves a tombstone (DeletedLearner): their data is gone and their id is
never made a learner again. A learner an operator deactivates (`is_active` off) keeps their data
but is refused like a deleted one until reactivated.

Staff and superuser accounts are operators, not learners: Clerk's events (learner_update,
learner_delete) never change them, whatever their username.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q

from challengeapp.core.errors import LearnerRefused
from challengeapp.core.sql_values import db_bool, db_date, db_datetime
from challengeapp.models import DeletedLearner, Quota
from challengeapp.quota import quota_today

User = get_user_model()

MAX_NAME_CHARS = 150
MAX_EMAIL_CHARS = 254
LEARNER_DELETED = "This account has been deleted."
LEARNER_INACTIVE = "This account has been deactivated. Contact the site's operator."
LEARNER_IS_OPERATOR = (
    "This account is an operator's: it signs in to the admin with its password, never with a "
    "learner's session."
)

# What a request needs of its learner: the rest of the User row (password hash, dates) stays
# deferred and is loaded only if something reads it.
_USER_FIELDS = {"id", "username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser"}
_BOOLEAN_USER_FIELDS = {"is_active", "is_staff", "is_superuser"}
# The accounts Clerk's events may change: never an operator's.
LEARNER_ACCOUNTS = Q(is_staff=False, is_superuser=False)


def learner_for_session(clerk_id: str) -> User:
    """The learner a verified session token names: loaded, or created on first sight.

    Raises LearnerRefused for a learner deleted in Clerk or deactivated by an operator, and for
    an operator's (staff) account.
    """
    user = learner_get_or_create(clerk_id=clerk_id)  # one query for a learner already seen
    if not user.is_active:
        raise LearnerRefused(LEARNER_INACTIVE)
    if user.is_staff or user.is_superuser:
        # A staff account whose username happens to be a token's subject (or the development
        # sign-in's name for one) must not be entered without its password.
        raise LearnerRefused(LEARNER_IS_OPERATOR)
    return user


def learner_get_or_create(
    *, clerk_id: str, email: str = "", first_name: str = "", last_name: str = ""
) -> User:
    """The learner with this Clerk id, created with their quota on first sight.

    Safe when a webhook and a first request create the same learner at the same moment: the loser
    of the race reads the winner's row. Profile fields given here fill in a new learner only.
    Raises LearnerRefused for an id deleted in Clerk.
    """
    user = learner_with_quota(clerk_id)
    if user is not None:
        return user
    if DeletedLearner.objects.filter(clerk_id=clerk_id).exists():
        raise LearnerRefused(LEARNER_DELETED)
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
    # A deletion that committed while this learner was being created wins: no resurrection.
    if DeletedLearner.objects.filter(clerk_id=clerk_id).exists():
        User.objects.filter(pk=user.pk).delete()
        raise LearnerRefused(LEARNER_DELETED)
    return user


def learner_with_quota(clerk_id: str) -> User | None:
    """The learner with this Clerk id and their quota row, in one query.

    It runs on every signed-in request, so it is written in SQL: building the same query through
    the ORM costs several times what running it does. The row becomes model instances through
    `Model.from_db`, as the ORM's own loading does.
    """
    sql, user_fields, quota_fields = _learner_with_quota_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [clerk_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user_values = dict(zip(user_fields, row[: len(user_fields)]))
    for name in _BOOLEAN_USER_FIELDS:  # SQLite answers 0 and 1
        user_values[name] = db_bool(user_values[name])
    user = User.from_db(connection.alias, user_fields, [user_values[name] for name in user_fields])
    quota_values = dict(zip(quota_fields, row[len(user_fields) :]))
    if quota_values["id"] is not None:
        for field in Quota._meta.concrete_fields:  # SQLite answers dates and times as text
            if isinstance(field, models.DateTimeField):
                quota_values[field.attname] = db_datetime(quota_values[field.attname])
            elif isinstance(field, models.DateField):
                quota_values[field.attname] = db_date(quota_values[field.attname])
        # Kept on the user for this request's quota_status (quota.py).
        user.loaded_quota = Quota.from_db(
            connection.alias, quota_fields, [quota_values[name] for name in quota_fields]
        )
    return user


@cache
def _learner_with_quota_sql(vendor: str) -> tuple[str, list[str], list[str]]:
    """The query, and the fields it selects of each model in the order `from_db` takes them."""
    quote = connection.ops.quote_name
    user_selected = [f for f in User._meta.concrete_fields if f.attname in _USER_FIELDS]
    quota_selected = list(Quota._meta.concrete_fields)
    user_columns = ", ".join(f"u.{quote(f.column)}" for f in user_selected)
    quota_columns = ", ".join(f"q.{quote(f.column)}" for f in quota_selected)
    sql = (
        f"SELECT {user_columns}, {quota_columns} "
        f"FROM {quote(User._meta.db_table)} u LEFT JOIN {quote(Quota._meta.db_table)} q "
        f"ON q.{quote(Quota._meta.get_field('user').column)} = u.{quote(User._meta.pk.column)} "
        f"WHERE u.{quote(User._meta.get_field('username').column)} = %s"
    )
    return sql, [f.attname for f in user_selected], [f.attname for f in quota_selected]


def learner_is_operator(clerk_id: str) -> bool:
    """Whether this id is the username of a staff or superuser account."""
    return User.objects.filter(username=clerk_id).exclude(LEARNER_ACCOUNTS).exists()


def learner_update(*, clerk_id: str, email: str, first_name: str, last_name: str) -> bool:
    """Update an existing learner's profile. Returns False when there is no such learner: an update
    delivered after a deletion (webhooks can arrive out of order) must not bring the learner back,
    and a staff or superuser account is never changed this way."""
    updated = User.objects.filter(LEARNER_ACCOUNTS, username=clerk_id).update(
        email=email[:MAX_EMAIL_CHARS],
        first_name=first_name[:MAX_NAME_CHARS],
        last_name=last_name[:MAX_NAME_CHARS],
    )
    return updated > 0


def learner_delete(*, clerk_id: str) -> bool:
    """Delete the learner and everything that is theirs (challenges, attempts, quota), and keep a
    tombstone so the id is never re-created. A staff or superuser account is neither deleted nor
    tombstoned: returns False, as for an id with no learner."""
    with transaction.atomic():
        # Locked, so that an operator's account cannot become one between this check and the delete.
        account = User.objects.select_for_update().filter(username=clerk_id).first()
        if account is not None and (account.is_staff or account.is_superuser):
            return False
        DeletedLearner.objects.get_or_create(clerk_id=clerk_id)
        deleted, _ = User.objects.filter(LEARNER_ACCOUNTS, username=clerk_id).delete()
    return deleted > 0


def learner_display_name(user: User) -> str:
    full = f"{user.first_name} {user.last_name}".strip()
    return full or user.email or user.username
