"""A learner's challenges, newest first, with filters and keyset pagination."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.db.models import Count, Q, QuerySet

from challengeapp.core.sql_values import db_bool, db_datetime, db_json
from challengeapp.models import Attempt, Challenge

RESULT_RIGHT = "right"
RESULT_WRONG = "wrong"
RESULT_UNANSWERED = "unanswered"
RESULTS = (RESULT_RIGHT, RESULT_WRONG, RESULT_UNANSWERED)


@dataclass(frozen=True)
class HistoryPage:
    challenges: list[Challenge]
    next_before: int | None  # pass as `before` for the next page; None on the last page


def challenge_history(
    *, user, difficulty: str = "", topic: str = "", result: str = ""
) -> QuerySet[Challenge]:
    challenges = Challenge.objects.filter(owner=user).select_related("attempt").order_by("-id")
    if difficulty:
        challenges = challenges.filter(difficulty=difficulty)
    if topic:
        challenges = challenges.filter(topic=topic)
    if result == RESULT_RIGHT:
        challenges = challenges.filter(attempt__is_correct=True)
    elif result == RESULT_WRONG:
        challenges = challenges.filter(attempt__is_correct=False)
    elif result == RESULT_UNANSWERED:
        challenges = challenges.filter(attempt__isnull=True)
    return challenges


@dataclass(frozen=True)
class HistorySummary:
    challenges: int
    answered: int
    right: int


def history_summary(*, user, difficulty: str = "", topic: str = "", result: str = "") -> HistorySummary:
    """How many challenges the filters match, how many of them are answered, and how many right:
    one query, whatever the length of the history."""
    counts = challenge_history(user=user, difficulty=difficulty, topic=topic, result=result).aggregate(
        challenges=Count("id"),
        answered=Count("attempt"),
        right=Count("id", filter=Q(attempt__is_correct=True)),
    )
    return HistorySummary(**counts)


# What the JSON API's history shows of each challenge and of its attempt (None when unanswered).
HISTORY_CHALLENGE_FIELDS = (
    "id",
    "difficulty",
    "topic",
    "title",
    "question",
    "code",
    "code_language",
    "options",
    "correct_index",
    "explanation",
    "provider",
    "verification",
    "created_at",
)
HISTORY_ATTEMPT_FIELDS = ("chosen_index", "is_correct", "answered_at", "regraded_at")
# LIMIT takes a number on both backends (SQLite has no LIMIT ALL): with no limit, the largest.
_NO_LIMIT = 2**63 - 1


def history_rows(*, user, limit: int | None, offset: int = 0) -> list[dict]:
    """Unfiltered history from `offset`, newest first, as plain rows (the JSON API's whole history
    can be thousands of items: rows cost a fraction of model instances): `limit` items, or all of
    them (None). Keys are the challenge's field names and `attempt__<field>` for its attempt.

    Written in SQL: building this query through the ORM cost about as much as everything else the
    request does, and it runs on every call to the API's history."""
    with connection.cursor() as cursor:
        cursor.execute(
            _history_sql(connection.vendor), [user.pk, _NO_LIMIT if limit is None else limit, offset]
        )
        rows = cursor.fetchall()
    keys = [*HISTORY_CHALLENGE_FIELDS, *(f"attempt__{name}" for name in HISTORY_ATTEMPT_FIELDS)]
    items = []
    for row in rows:
        item = dict(zip(keys, row))
        item["options"] = db_json(item["options"])
        item["created_at"] = db_datetime(item["created_at"])
        item["attempt__is_correct"] = db_bool(item["attempt__is_correct"])
        item["attempt__answered_at"] = db_datetime(item["attempt__answered_at"])
        item["attempt__regraded_at"] = db_datetime(item["attempt__regraded_at"])
        items.append(item)
    return items


@cache
def _history_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    challenge_columns = ", ".join(
        f"c.{quote(Challenge._meta.get_field(name).column)}" for name in HISTORY_CHALLENGE_FIELDS
    )
    attempt_columns = ", ".join(
        f"a.{quote(Attempt._meta.get_field(name).column)}" for name in HISTORY_ATTEMPT_FIELDS
    )
    return (
        f"SELECT {challenge_columns}, {attempt_columns} "
        f"FROM {quote(Challenge._meta.db_table)} c LEFT JOIN {quote(Attempt._meta.db_table)} a "
        f"ON a.{quote(Attempt._meta.get_field('challenge').column)} = c.{quote(Challenge._meta.pk.column)} "
        f"WHERE c.{quote(Challenge._meta.get_field('owner').column)} = %s "
        f"ORDER BY c.{quote(Challenge._meta.pk.column)} DESC LIMIT %s OFFSET %s"
    )


def history_page(
    *,
    user,
    difficulty: str = "",
    topic: str = "",
    result: str = "",
    before: int | None = None,
    size: int = 20,
) -> HistoryPage:
    """One page of history: `size` challenges older than `before` (a challenge id)."""
    challenges = challenge_history(user=user, difficulty=difficulty, topic=topic, result=result)
    if before is not None:
        challenges = challenges.filter(id__lt=before)
    rows = list(challenges[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return HistoryPage(challenges=rows, next_before=rows[-1].id if has_more else None)
