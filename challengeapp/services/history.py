"""A learner's challenges, newest first, with filters and keyset pagination."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from challengeapp.models import Challenge

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


HISTORY_ROW_FIELDS = (
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
    "attempt__chosen_index",
    "attempt__is_correct",
    "attempt__answered_at",
    "attempt__regraded_at",
)


def history_rows(*, user, limit: int | None, offset: int = 0) -> list[dict]:
    """Unfiltered history from `offset`, newest first, as plain rows (the JSON API's whole history
    can be thousands of items: rows cost a fraction of model instances): `limit` items, or all of
    them (None)."""
    rows = Challenge.objects.filter(owner=user).order_by("-id").values(*HISTORY_ROW_FIELDS)
    return list(rows[offset:] if limit is None else rows[offset : offset + limit])


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
