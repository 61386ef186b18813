"""Learners: a Django User per Clerk user id (username), with their quota row."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from challengeapp.models import Quota
from challengeapp.services.prepared import PreparedSelect, prepared_per_database

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
    """The learner with this Clerk id, their quota row loaded with them: one query, compiled once
    (it runs on every signed-in request; services/prepared.py)."""
    found = _learner_with_quota()(clerk_id)
    return found[0] if found else None


@prepared_per_database
def _learner_with_quota() -> PreparedSelect:
    return PreparedSelect(
        User.objects.select_related("quota").filter(username="user_placeholder"),
        placeholders=["user_placeholder"],
    )


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
