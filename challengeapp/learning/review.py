"""Spaced review: every answered challenge is scheduled with FSRS (the `fsrs` package), and comes
back when FSRS says it is due.

Grades: the first answer to a challenge grades it Again (wrong) or Good (right). A review grades
Again when wrong; when right, Hard if the learner says they guessed, Easy if they say they knew
it, Good if they say nothing. The scheduler runs with the package's defaults: FSRS-6's default
parameters, 90 % desired retention, learning steps of 1 and 10 minutes, a relearning step of
10 minutes, intervals fuzzed a little so reviews do not bunch up. So a missed challenge comes back
a minute later, a right first answer ten minutes later, and then after days, then weeks.

Each review shows the options in a fresh random order, drawn when the previous answer was graded
and kept on the card, so the learner cannot learn positions and an answer is graded against the
order that was on screen. Reviews cost no quota; reviewing before a card is due is allowed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import cache

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from fsrs import Card, Rating, Scheduler, State

from challengeapp.core.drafts import OPTION_COUNT
from challengeapp.core.errors import CodeDrillError
from challengeapp.learning.activity import activity_count
from challengeapp.learning.progress_counts import progress_count_add
from challengeapp.models import (
    Attempt,
    Challenge,
    Confidence,
    ReviewCard,
    ReviewLog,
    ReviewRating,
)

NOT_SCHEDULED = "That challenge is not in your reviews."
INVALID_POSITION = "Choose one of the four options."
INVALID_CONFIDENCE = 'confidence must be "guessed" or "knew".'
ALREADY_ANSWERED = "This review was answered already; here is the next one."

# A right answer this long after the previous one shows retention (the card is then `retained`
# until it is missed again); mastery counts such cards (learning/progress.py).
RETENTION_GAP = dt.timedelta(days=7)

_order_rng = random.SystemRandom()


class ReviewNotFound(CodeDrillError):
    """Not the learner's challenge, or one they never answered."""


class InvalidReviewAnswer(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReviewStale(CodeDrillError):
    """The answer was for a review already answered (a second tab, a double submit)."""


@dataclass(frozen=True)
class ReviewOutcome:
    card: ReviewCard
    log: ReviewLog
    shown_options: list[str]  # in the order the learner saw them
    chosen_position: int
    correct_position: int

    @property
    def is_correct(self) -> bool:
        return self.log.is_correct

    @property
    def next_due_at(self) -> dt.datetime:
        return self.card.due_at


# The schedule's promises to the learner, stated here rather than left to the fsrs release's
# defaults (which they equal today): a new card comes back in a minute, then ten; a lapsed one in
# ten minutes; intervals aim at 90 % recall. The model's weights stay the library's.
LEARNING_STEPS = (dt.timedelta(minutes=1), dt.timedelta(minutes=10))
RELEARNING_STEPS = (dt.timedelta(minutes=10),)
DESIRED_RETENTION = 0.9


@cache
def _scheduler() -> Scheduler:
    return Scheduler(
        desired_retention=DESIRED_RETENTION, learning_steps=LEARNING_STEPS, relearning_steps=RELEARNING_STEPS
    )


def _new_order() -> list[int]:
    order = list(range(OPTION_COUNT))
    _order_rng.shuffle(order)
    return order


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(dt.UTC) if moment is not None else None


def _fsrs_card(card: ReviewCard) -> Card:
    return Card(
        card_id=card.challenge_id,
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=_utc(card.due_at),
        last_review=_utc(card.last_review_at),
    )


def _copy_schedule(card: ReviewCard, scheduled: Card) -> None:
    card.state = int(scheduled.state)
    card.step = scheduled.step
    card.stability = scheduled.stability
    card.difficulty = scheduled.difficulty
    card.due_at = scheduled.due
    card.last_review_at = scheduled.last_review


def review_rating(*, is_correct: bool, is_first_answer: bool, confidence: str = "") -> int:
    """The FSRS grade for an answer (the mapping in the module docstring)."""
    if not is_correct:
        return ReviewRating.AGAIN
    if is_first_answer or confidence == Confidence.NONE:
        return ReviewRating.GOOD
    return ReviewRating.HARD if confidence == Confidence.GUESSED else ReviewRating.EASY


def review_schedule_first_answer(*, attempt: Attempt, challenge: Challenge) -> ReviewCard:
    """Schedule a newly answered challenge (called in the transaction that stores the attempt)."""
    answered_at = _utc(attempt.answered_at) or timezone.now()
    rating = review_rating(is_correct=attempt.is_correct, is_first_answer=True)
    scheduled, _ = _scheduler().review_card(Card(card_id=challenge.id), Rating(rating), answered_at)
    card = ReviewCard(challenge=challenge, owner_id=challenge.owner_id, option_order=_new_order())
    _copy_schedule(card, scheduled)
    card.save()
    ReviewLog.objects.create(
        card=card,
        owner_id=challenge.owner_id,
        is_first_answer=True,
        chosen_index=attempt.chosen_index,
        is_correct=attempt.is_correct,
        rating=rating,
        elapsed_seconds=0,
        reviewed_at=answered_at,
        due_after=card.due_at,
    )
    activity_count(owner_id=challenge.owner_id, moment=answered_at)
    return card


def _soonest_first(user):
    return (
        ReviewCard.objects.filter(owner=user).select_related("challenge").order_by("due_at", "challenge_id")
    )


def review_queue(
    *, user, limit: int | None = None, offset: int = 0, after: tuple[dt.datetime, int] | None = None
) -> list[ReviewCard]:
    """The learner's scheduled challenges, soonest due first (ties by challenge id), with their
    challenges: `limit` of them (all with None), from `offset`, or after the card at `after`
    (due_at, challenge_id) — a page boundary that holds while cards move, and an index range scan
    (owner, due_at) rather than a count past the skipped rows."""
    cards = _soonest_first(user)
    if after is not None:
        due_at, challenge_id = after
        cards = cards.filter(Q(due_at__gt=due_at) | Q(due_at=due_at, challenge_id__gt=challenge_id))
    return list(cards[offset:] if limit is None else cards[offset : offset + limit])


def review_due_count(*, user) -> int:
    return ReviewCard.objects.filter(owner=user, due_at__lte=timezone.now()).count()


def review_next(*, user, early: bool = False) -> ReviewCard | None:
    """The next review: the card most overdue, or with `early`, the soonest even if not yet due."""
    cards = _soonest_first(user)
    if not early:
        cards = cards.filter(due_at__lte=timezone.now())
    return cards.first()


def review_card_of(*, user, challenge_id: int) -> ReviewCard:
    card = (
        ReviewCard.objects.filter(owner=user, challenge_id=challenge_id).select_related("challenge").first()
    )
    if card is None:
        raise ReviewNotFound(NOT_SCHEDULED)
    return card


def review_options(card: ReviewCard) -> list[str]:
    """The card's options in this review's order."""
    return [card.challenge.options[index] for index in card.option_order]


def review_answer(
    *, user, challenge_id: int, position: int, confidence: str = "", expected_reviews: int | None = None
) -> ReviewOutcome:
    """Grade a review: `position` indexes the options as this review showed them.

    `expected_reviews` (the card's review count when it was shown) refuses an answer to a review
    that has been answered since (ReviewStale), so a double submit cannot be graded against the
    next review's order. Raises ReviewNotFound, InvalidReviewAnswer.
    """
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < OPTION_COUNT:
        raise InvalidReviewAnswer(INVALID_POSITION)
    if confidence not in Confidence.values:
        raise InvalidReviewAnswer(INVALID_CONFIDENCE)
    with transaction.atomic():
        # The challenge row first, as an operator's key correction locks it (content/reports.py):
        # in the same order, the two wait for each other instead of deadlocking, and the review is
        # graded against the key as stored when it is written.
        list(Challenge.objects.select_for_update().filter(pk=challenge_id, owner=user).values_list("pk"))
        card = (
            ReviewCard.objects.select_for_update()
            .filter(owner=user, challenge_id=challenge_id)
            .select_related("challenge")
            .first()
        )
        if card is None:
            raise ReviewNotFound(NOT_SCHEDULED)
        if expected_reviews is not None and expected_reviews != card.reviews:
            raise ReviewStale(ALREADY_ANSWERED)
        challenge = card.challenge
        shown = review_options(card)
        order = list(card.option_order)
        chosen_index = order[position]
        is_correct = chosen_index == challenge.correct_index
        rating = review_rating(is_correct=is_correct, is_first_answer=False, confidence=confidence)
        now = timezone.now()
        previous = _utc(card.last_review_at)
        scheduled, _ = _scheduler().review_card(_fsrs_card(card), Rating(rating), now)
        _copy_schedule(card, scheduled)
        card.reviews += 1
        card.option_order = _new_order()
        was_retained = card.retained
        if not is_correct:
            card.retained = False
        elif previous is not None and now - previous >= RETENTION_GAP:
            card.retained = True
        card.save()
        _count_retained(card, was_retained=was_retained)
        log = ReviewLog.objects.create(
            card=card,
            owner=user,
            is_first_answer=False,
            chosen_index=chosen_index,
            is_correct=is_correct,
            confidence=confidence,
            rating=rating,
            elapsed_seconds=max(int((now - previous).total_seconds()), 0) if previous else 0,
            reviewed_at=now,
            due_after=card.due_at,
        )
        activity_count(owner_id=user.pk, moment=now)
    return ReviewOutcome(
        card=card,
        log=log,
        shown_options=shown,
        chosen_position=position,
        correct_position=order.index(challenge.correct_index),
    )


def review_card_rebuild(card: ReviewCard) -> ReviewCard:
    """Grade every answer of the card again against its challenge's current key and replay them
    through FSRS in order: after an operator corrects a key, the schedule (and whether the card
    counts as retained) is what it would have been had the key been right all along."""
    challenge = card.challenge
    scheduled = Card(card_id=challenge.id)
    retained = False
    previous: dt.datetime | None = None
    logs = list(card.logs.order_by("reviewed_at", "id"))
    for log in logs:
        reviewed_at = _utc(log.reviewed_at)
        log.is_correct = log.chosen_index == challenge.correct_index
        log.rating = review_rating(
            is_correct=log.is_correct, is_first_answer=log.is_first_answer, confidence=log.confidence
        )
        scheduled, _ = _scheduler().review_card(scheduled, Rating(log.rating), reviewed_at)
        log.due_after = scheduled.due
        if not log.is_correct:
            retained = False
        elif not log.is_first_answer and previous is not None and reviewed_at - previous >= RETENTION_GAP:
            retained = True
        previous = reviewed_at
    ReviewLog.objects.bulk_update(logs, ["is_correct", "rating", "due_after"])
    _copy_schedule(card, scheduled)
    was_retained, card.retained = card.retained, retained
    card.save(
        update_fields=["state", "step", "stability", "difficulty", "due_at", "last_review_at", "retained"]
    )
    _count_retained(card, was_retained=was_retained)
    return card


def _count_retained(card: ReviewCard, *, was_retained: bool) -> None:
    """Keep the progress page's count of retained cards (learning/progress_counts.py)."""
    if card.retained != was_retained:
        challenge = card.challenge
        progress_count_add(
            owner_id=card.owner_id,
            topic=challenge.topic,
            difficulty=challenge.difficulty,
            retained=1 if card.retained else -1,
        )
