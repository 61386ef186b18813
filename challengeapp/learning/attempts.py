"""Answering a challenge: graded on the server by option index; the first answer counts.

The learner may say how sure they were ("I knew it", "I guessed"): it grades the answer for the
schedule (learning/review.py). An answer to content the learner has answered before (a bank
repeat, the same question generated again) is a review of that content's card: it is not counted
as a first answer again (`Attempt.is_repeat`)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from challengeapp.core.drafts import OPTION_COUNT
from challengeapp.core.errors import CodeDrillError
from challengeapp.learning.progress_counts import progress_count_add
from challengeapp.learning.review import ReviewStale, review_schedule_first_answer
from challengeapp.models import Attempt, Challenge, Confidence

INVALID_CHOICE = "Choose one of the four options."
INVALID_CONFIDENCE = 'confidence must be "guessed" or "knew".'


class InvalidChoice(CodeDrillError):
    """The answer is not one of the four options."""


def attempt_record(
    *, challenge: Challenge, chosen_index: int, confidence: str = "", now: dt.datetime | None = None
) -> tuple[Attempt, bool]:
    """Grade and store the learner's answer. Returns the attempt that counts and whether this call
    created it; answering again returns the first attempt unchanged."""
    if isinstance(chosen_index, bool) or not isinstance(chosen_index, int):
        raise InvalidChoice(INVALID_CHOICE)
    if not 0 <= chosen_index < OPTION_COUNT:
        raise InvalidChoice(INVALID_CHOICE)
    if not isinstance(confidence, str) or confidence not in Confidence.values:
        raise InvalidChoice(INVALID_CONFIDENCE)
    existing = _attempt_of(challenge)
    if existing is not None:
        return existing, False
    for last_try in (False, False, True):
        try:
            attempt, created = (
                _store(challenge, chosen_index=chosen_index, confidence=confidence, now=now),
                True,
            )
            break
        except IntegrityError:
            stored = Attempt.objects.filter(challenge=challenge).first()
            if stored is not None:  # two answers raced; the one stored first counts
                attempt, created = stored, False
                break
            # Another serving of the same content made its card at that moment: answer again,
            # joining that card.
            if last_try:
                raise
        except ReviewStale:
            # The content's card was reviewed at that moment: answer again against its new state.
            if last_try:
                raise
    # The caller renders the challenge with its answer next: assigning the attempt to the
    # challenge caches it there, so it is not loaded again.
    challenge.attempt = attempt
    return attempt, created


def _store(challenge: Challenge, *, chosen_index: int, confidence: str, now: dt.datetime | None) -> Attempt:
    with transaction.atomic():
        # Graded against the key as stored now, not as the caller loaded it: an operator's
        # correction may have been committed since. The row lock makes a correction under way
        # finish first, or wait for this answer and grade it again (content/reports.py).
        challenge.correct_index = _key_now(challenge)
        attempt = Attempt.objects.create(
            challenge=challenge,
            chosen_index=chosen_index,
            is_correct=chosen_index == challenge.correct_index,
            answered_at=now or timezone.now(),
        )
        # Every answered challenge enters the learner's spaced reviews: a new card, or a review of
        # the card its content already has (then it is a repeat).
        review_schedule_first_answer(attempt=attempt, challenge=challenge, confidence=confidence)
        if not attempt.is_repeat:
            progress_count_add(
                owner_id=challenge.owner_id,
                topic=challenge.topic,
                difficulty=challenge.difficulty,
                answered=1,
                correct=int(attempt.is_correct),
            )
    return attempt


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
