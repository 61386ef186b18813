"""Answering a challenge: graded on the server by option index; the first answer counts."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from challengeapp.core.drafts import OPTION_COUNT
from challengeapp.core.errors import CodeDrillError
from challengeapp.learning.progress_counts import progress_count_add
from challengeapp.learning.review import review_schedule_first_answer
from challengeapp.models import Attempt, Challenge

INVALID_CHOICE = "Choose one of the four options."


class InvalidChoice(CodeDrillError):
    """The answer is not one of the four options."""


def attempt_record(*, challenge: Challenge, chosen_index: int) -> tuple[Attempt, bool]:
    """Grade and store the learner's answer. Returns the attempt that counts and whether this call
    created it; answering again returns the first attempt unchanged."""
    if isinstance(chosen_index, bool) or not isinstance(chosen_index, int):
        raise InvalidChoice(INVALID_CHOICE)
    if not 0 <= chosen_index < OPTION_COUNT:
        raise InvalidChoice(INVALID_CHOICE)
    existing = _attempt_of(challenge)
    if existing is not None:
        return existing, False
    created = True
    try:
        with transaction.atomic():
            # Graded against the key as stored now, not as the caller loaded it: an operator's
            # correction may have been committed since. The row lock makes a correction under way
            # finish first, or wait for this answer and grade it again (content/reports.py).
            challenge.correct_index = _key_now(challenge)
            attempt = Attempt.objects.create(
                challenge=challenge,
                chosen_index=chosen_index,
                is_correct=chosen_index == challenge.correct_index,
            )
            progress_count_add(
                owner_id=challenge.owner_id,
                topic=challenge.topic,
                difficulty=challenge.difficulty,
                answered=1,
                correct=int(attempt.is_correct),
            )
            # Every answered challenge enters the learner's spaced reviews.
            review_schedule_first_answer(attempt=attempt, challenge=challenge)
    except IntegrityError:
        # Two answers raced; the one stored first counts.
        attempt, created = Attempt.objects.get(challenge=challenge), False
    # The caller renders the challenge with its answer next: assigning the attempt to the
    # challenge caches it there, so it is not loaded again.
    challenge.attempt = attempt
    return attempt, created


def _key_now(challenge: Challenge) -> int:
    """The challenge's key as stored, its row locked until the transaction ends."""
    return Challenge.objects.select_for_update().values_list("correct_index", flat=True).get(pk=challenge.pk)


def _attempt_of(challenge: Challenge) -> Attempt | None:
    """The challenge's stored attempt: the one loaded with it (select_related), else from the
    database."""
    try:
        return challenge.attempt
    except Attempt.DoesNotExist:
        return None
