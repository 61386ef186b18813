"""Spaced review: every piece of content a learner answered is one card, scheduled with FSRS (the
`fsrs` package), and comes back on the day FSRS says it is due.

Grades (`review_rating`), for a first answer and a review alike: wrong is Again; right but "I
guessed" is Again too (a multiple-choice answer is right by chance one time in four: a guess is not
recall); right and "I knew it" is Easy; right with nothing said is Good. The scheduler's settings
are stated below (90 % desired retention, learning steps of 1 and 10 minutes, a relearning step of
10 minutes, intervals fuzzed a little so reviews do not bunch up).

Due means due that day in the learner's calendar (TIME_ZONE): a card in review is served from the
start of the day its due time falls on, so a session that moves by an hour does not push it to the
next day. A card in a learning or relearning step (minutes) is due at its exact time.

The queue (`review_next`, and the JSON API's list in the same order): misses whose step has passed
first (today's, and any left from an earlier session), then the oldest due. A miss is due again in
the same session: once nothing else is, it is served even before its step has passed. Past
REVIEW_DAILY_LIMIT reviews in a day only misses are served. A card missed LEECH_MISSES times is a leech: flagged, and the
learner can reset it (a new card) or suspend it (never served until resumed).

Each answer has a number (0 the first answer, then 1, 2, … per review), unique per card in the
database: a submission for a number already answered is a duplicate, answered with the first
result when it is the same answer and refused (ReviewStale) when it is not; it never changes the
card. The options are shown in a fresh random order per review, drawn when the previous answer was
graded and kept on the card, so positions cannot be learned and an answer is graded against the
order that was on screen (kept on the answer's log too, so a duplicate is judged against it).
Reviews cost no quota; reviewing early is allowed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from fsrs import Card, Rating, Scheduler, State

from challengeapp.content.identity import option_form
from challengeapp.core.drafts import OPTION_COUNT
from challengeapp.core.errors import CodeDrillError
from challengeapp.learning.activity import activity_count, day_start, period_index
from challengeapp.learning.progress_counts import progress_count_add
from challengeapp.models import (
    Attempt,
    Challenge,
    CodeReviewCard,
    Confidence,
    ReviewCard,
    ReviewLog,
    ReviewRating,
    ReviewState,
)

NOT_SCHEDULED = "That challenge is not in your reviews."
INVALID_POSITION = "Choose one of the four options."
INVALID_CONFIDENCE = 'confidence must be "guessed" or "knew".'
ALREADY_ANSWERED = "This review was answered already; here is the next one."
ANSWERED_OTHERWISE = "This review was answered already, with another answer; that answer counts."
SUSPENDED = "That challenge is suspended: resume it to review it again."
INVALID_ACTION = 'action must be "reset", "suspend" or "resume".'

# A right answer this long after the previous one shows retention (the card is then `retained`
# until it is missed again); mastery counts such cards (learning/progress.py).
RETENTION_GAP = dt.timedelta(days=7)
# Missed (wrong, or right by a guess) this many times: a leech, flagged for the learner to reset or
# suspend rather than drill again and again.
LEECH_MISSES = 4
# An answer without a review number that repeats the card's latest answer this soon after it is
# taken for the same submission sent again (a retried request), not a new review.
REPLAY_WINDOW = dt.timedelta(minutes=2)

_order_rng = random.SystemRandom()


class ReviewNotFound(CodeDrillError):
    """Not the learner's challenge, or one they never answered."""


class InvalidReviewAnswer(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReviewStale(CodeDrillError):
    """The answer was for a review already answered (a second tab, a double submit) with another
    answer, or for a review not shown yet."""

    def __init__(self, message: str = ALREADY_ANSWERED) -> None:
        super().__init__(message)
        self.message = message


class ReviewSuspended(CodeDrillError):
    def __init__(self, message: str = SUSPENDED) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ReviewOutcome:
    card: ReviewCard
    log: ReviewLog
    shown_options: list[str]  # in the order the learner saw them
    chosen_position: int
    correct_position: int
    replayed: bool = False  # a duplicate submission, answered with the first result

    @property
    def is_correct(self) -> bool:
        return self.log.is_correct

    @property
    def next_due_at(self) -> dt.datetime:
        return self.log.due_after


# The schedule's promises to the learner, stated here rather than left to the fsrs release's
# defaults (which they equal today): a new card comes back in a minute, then ten; a lapsed one in
# ten minutes; intervals aim at 90 % recall. The model's weights stay the library's.
LEARNING_STEPS = (dt.timedelta(minutes=1), dt.timedelta(minutes=10))
RELEARNING_STEPS = (dt.timedelta(minutes=10),)
DESIRED_RETENTION = 0.9


@cache
def review_scheduler() -> Scheduler:
    return Scheduler(
        desired_retention=DESIRED_RETENTION, learning_steps=LEARNING_STEPS, relearning_steps=RELEARNING_STEPS
    )


def _new_order() -> list[int]:
    order = list(range(OPTION_COUNT))
    _order_rng.shuffle(order)
    return order


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(dt.UTC) if moment is not None else None


def fsrs_card(card: ReviewCard | CodeReviewCard, *, card_id: int) -> Card:
    """A stored schedule (a challenge's card or a coding problem's) as an FSRS card."""
    return Card(
        card_id=card_id,
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=_utc(card.due_at),
        last_review=_utc(card.last_review_at),
    )


# The fields copy_schedule writes, for the updates that store them.
SCHEDULE_FIELDS = ("state", "step", "stability", "difficulty", "due_at", "last_review_at")


def copy_schedule(card: ReviewCard | CodeReviewCard, scheduled: Card) -> None:
    """Store an FSRS card's schedule on `card` (not saved)."""
    card.state = int(scheduled.state)
    card.step = scheduled.step
    card.stability = scheduled.stability
    card.difficulty = scheduled.difficulty
    card.due_at = scheduled.due
    card.last_review_at = scheduled.last_review


def review_rating(*, is_correct: bool, confidence: str = "", is_first_answer: bool = False) -> int:
    """The FSRS grade for an answer, first or review alike (the mapping in the module docstring)."""
    if not is_correct or confidence == Confidence.GUESSED:
        return ReviewRating.AGAIN
    return ReviewRating.EASY if confidence == Confidence.KNEW else ReviewRating.GOOD


def is_recalled(*, is_correct: bool, confidence: str) -> bool:
    """Right, and not by a guess: what the schedule, misses and mastery count as remembered."""
    return is_correct and confidence != Confidence.GUESSED


def _check_confidence(confidence: object) -> str:
    if not isinstance(confidence, str) or confidence not in Confidence.values:
        raise InvalidReviewAnswer(INVALID_CONFIDENCE)
    return confidence


# --- The learner's day ----------------------------------------------------------------------------


def tomorrow_start(now: dt.datetime) -> dt.datetime:
    return day_start(timezone.localdate(now) + dt.timedelta(days=1))


def _pending_miss() -> Q:
    """Missed on its latest answer (and not answered since)."""
    return Q(missed_at__isnull=False, missed_at=F("last_review_at"))


def _due_q(now: dt.datetime) -> Q:
    """Due now: a review card whose due time falls today or earlier in the learner's calendar, a
    card in a step whose time has come, or a miss not answered since (it comes back in the same
    session, not after the session ends; a session may run past midnight)."""
    return Q(suspended=False) & (
        Q(state=ReviewState.REVIEW, due_at__lt=tomorrow_start(now)) | Q(due_at__lte=now) | _pending_miss()
    )


def review_is_due(card: ReviewCard, *, now: dt.datetime | None = None) -> bool:
    """`_due_q` for one card already loaded."""
    now = now or timezone.now()
    if card.suspended:
        return False
    if card.state == ReviewState.REVIEW and card.due_at < tomorrow_start(now):
        return True
    if card.due_at <= now:
        return True
    return card.missed_at is not None and card.missed_at == card.last_review_at


def _queue(user, now: dt.datetime) -> QuerySet[ReviewCard]:
    """Every card not suspended, in queue order: misses whose step has passed, then by due time."""
    return (
        ReviewCard.objects.filter(owner=user, suspended=False)
        .select_related("challenge")
        .annotate(
            queue_rank=Case(
                When(_pending_miss() & Q(due_at__lte=now), then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("queue_rank", "due_at", "challenge_id")
    )


def review_queue(
    *,
    user,
    limit: int | None = None,
    offset: int = 0,
    after: tuple[int, dt.datetime, int] | None = None,
    now: dt.datetime | None = None,
) -> list[ReviewCard]:
    """The learner's cards in queue order (the module docstring), with their challenges: `limit`
    of them (all with None), from `offset`, or after the card at `after` (queue_rank, due_at,
    challenge_id): a page boundary that holds while cards move."""
    cards = _queue(user, now or timezone.now())
    if after is not None:
        rank, due_at, challenge_id = after
        cards = cards.filter(
            Q(queue_rank__gt=rank)
            | Q(queue_rank=rank, due_at__gt=due_at)
            | Q(queue_rank=rank, due_at=due_at, challenge_id__gt=challenge_id)
        )
    return list(cards[offset:] if limit is None else cards[offset : offset + limit])


def reviews_today(*, user, now: dt.datetime | None = None) -> int:
    """Reviews answered today (first answers are not reviews)."""
    now = now or timezone.now()
    start = day_start(timezone.localdate(now))
    return ReviewLog.objects.filter(owner=user, is_first_answer=False, reviewed_at__gte=start).count()


def _limited(cards: QuerySet[ReviewCard], *, user, now: dt.datetime) -> QuerySet[ReviewCard]:
    """Past the daily review limit, only misses are served (a miss comes back the same day)."""
    if reviews_today(user=user, now=now) < settings.REVIEW_DAILY_LIMIT:
        return cards
    return cards.filter(_pending_miss())


def review_due_count(*, user, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    due = ReviewCard.objects.filter(_due_q(now), owner=user)
    return _limited(due, user=user, now=now).count()


def review_next(*, user, early: bool = False, now: dt.datetime | None = None) -> ReviewCard | None:
    """The next review (queue order), or with `early`, the first card in the queue even if not yet
    due."""
    now = now or timezone.now()
    cards = _queue(user, now)
    if not early:
        cards = _limited(cards.filter(_due_q(now)), user=user, now=now)
    return cards.first()


def review_forecast(*, user, days: int = 7, now: dt.datetime | None = None) -> list[tuple[dt.date, int]]:
    """Cards due on each of the next `days` days (today first, overdue ones counted today)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    end = day_start(today + dt.timedelta(days=days))
    each_day = [today + dt.timedelta(days=n) for n in range(days)]
    rows = (
        ReviewCard.objects.filter(owner=user, suspended=False, due_at__lt=end)
        .annotate(day=period_index("due_at", each_day))  # overdue cards fall in today's
        .values("day")
        .annotate(cards=Count("id"))
    )
    per_day = {row["day"]: row["cards"] for row in rows}
    return [(day, per_day.get(n, 0)) for n, day in enumerate(each_day)]


def review_leeches(*, user) -> list[ReviewCard]:
    """Cards missed LEECH_MISSES times or more, suspended ones included, most missed first."""
    return list(
        ReviewCard.objects.filter(owner=user, misses__gte=LEECH_MISSES)
        .select_related("challenge")
        .order_by("-misses", "challenge_id")
    )


# --- One card per piece of content ---------------------------------------------------------------


def review_card_of(*, user, challenge_id: int) -> ReviewCard:
    """The card of a challenge of the learner's: the card of its content, whichever serving of it
    `challenge_id` is. Raises ReviewNotFound."""
    source_key = (
        Challenge.objects.filter(pk=challenge_id, owner=user).values_list("source_key", flat=True).first()
    )
    card = None
    if source_key is not None:
        card = (
            ReviewCard.objects.filter(owner=user, source_key=source_key).select_related("challenge").first()
        )
    if card is None:
        raise ReviewNotFound(NOT_SCHEDULED)
    return card


def review_options(card: ReviewCard) -> list[str]:
    """The card's options in this review's order."""
    return [card.challenge.options[index] for index in card.option_order]


def _on_card(card_challenge: Challenge, challenge: Challenge, chosen_index: int) -> int:
    """The option `chosen_index` of `challenge` (another serving of the card's content, in its own
    shuffle) as an index into the card's challenge."""
    if challenge.pk == card_challenge.pk:
        return chosen_index
    forms = [option_form(option) for option in card_challenge.options]
    picked = option_form(challenge.options[chosen_index])
    return forms.index(picked) if picked in forms else chosen_index


def review_schedule_first_answer(
    *, attempt: Attempt, challenge: Challenge, confidence: str = ""
) -> ReviewCard:
    """Schedule an answered challenge (called in the transaction that stores the attempt): a new
    card for new content; for content the learner has a card for already, the answer is a review of
    that card (the attempt is marked a repeat)."""
    answered_at = _utc(attempt.answered_at) or timezone.now()
    existing = (
        ReviewCard.objects.select_for_update()
        .filter(owner_id=challenge.owner_id, source_key=challenge.source_key)
        .select_related("challenge")
        .first()
    )
    if existing is not None:
        Attempt.objects.filter(pk=attempt.pk).update(is_repeat=True)
        attempt.is_repeat = True
        chosen = _on_card(existing.challenge, challenge, attempt.chosen_index)
        _grade(
            existing,
            chosen_index=chosen,
            is_correct=attempt.is_correct,
            confidence=confidence,
            shown_order=None,
            now=answered_at,
        )
        return existing
    recalled = is_recalled(is_correct=attempt.is_correct, confidence=confidence)
    rating = review_rating(is_correct=attempt.is_correct, confidence=confidence)
    scheduled, _ = review_scheduler().review_card(Card(card_id=challenge.id), Rating(rating), answered_at)
    card = ReviewCard(
        challenge=challenge,
        owner_id=challenge.owner_id,
        source_key=challenge.source_key,
        option_order=_new_order(),
        recalled=recalled,
        misses=0 if recalled else 1,
        missed_at=None if recalled else answered_at,
    )
    copy_schedule(card, scheduled)
    card.save()
    ReviewLog.objects.create(
        card=card,
        owner_id=challenge.owner_id,
        is_first_answer=True,
        review_number=0,
        chosen_index=attempt.chosen_index,
        is_correct=attempt.is_correct,
        confidence=confidence,
        rating=rating,
        elapsed_seconds=0,
        reviewed_at=answered_at,
        due_after=card.due_at,
    )
    progress_count_add(
        owner_id=challenge.owner_id,
        topic=challenge.topic,
        difficulty=challenge.difficulty,
        cards=1,
        recalled=int(recalled),
    )
    activity_count(owner_id=challenge.owner_id, moment=answered_at)
    return card


# --- Answering a review --------------------------------------------------------------------------


def _grade(
    card: ReviewCard,
    *,
    chosen_index: int,
    is_correct: bool,
    confidence: str,
    shown_order: list[int] | None,
    now: dt.datetime,
) -> ReviewLog:
    """Grade one review of `card` (read in this transaction) and store it: a conditional UPDATE on
    the review count, and a log whose number is unique per card, so two submissions at once
    cannot both grade it (the second raises ReviewStale, the caller turns it into a replay)."""
    rating = review_rating(is_correct=is_correct, confidence=confidence)
    recalled = is_recalled(is_correct=is_correct, confidence=confidence)
    previous = _utc(card.last_review_at)
    scheduled, _ = review_scheduler().review_card(
        fsrs_card(card, card_id=card.challenge_id), Rating(rating), now
    )
    seen_reviews = card.reviews
    was_retained, was_recalled = card.retained, card.recalled
    copy_schedule(card, scheduled)
    card.reviews = seen_reviews + 1
    card.option_order = _new_order()
    card.recalled = recalled
    if not recalled:
        card.retained = False
        card.misses += 1
        card.missed_at = now
    elif previous is not None and now - previous >= RETENTION_GAP:
        card.retained = True
    fields = [
        *SCHEDULE_FIELDS,
        "reviews",
        "option_order",
        "recalled",
        "retained",
        "misses",
        "missed_at",
    ]
    updated = ReviewCard.objects.filter(pk=card.pk, reviews=seen_reviews).update(
        **{name: getattr(card, name) for name in fields}
    )
    if not updated:
        raise ReviewStale(ALREADY_ANSWERED)
    try:
        with transaction.atomic():
            log = ReviewLog.objects.create(
                card=card,
                owner_id=card.owner_id,
                is_first_answer=False,
                review_number=card.reviews,
                shown_order=shown_order,
                chosen_index=chosen_index,
                is_correct=is_correct,
                confidence=confidence,
                rating=rating,
                elapsed_seconds=max(int((now - previous).total_seconds()), 0) if previous else 0,
                reviewed_at=now,
                due_after=card.due_at,
            )
    except IntegrityError:
        raise ReviewStale(ALREADY_ANSWERED) from None
    challenge = card.challenge
    progress_count_add(
        owner_id=card.owner_id,
        topic=challenge.topic,
        difficulty=challenge.difficulty,
        recalled=int(card.recalled) - int(was_recalled),
        retained=int(card.retained) - int(was_retained),
    )
    activity_count(owner_id=card.owner_id, moment=now)
    return log


def _replay(card: ReviewCard, log: ReviewLog, *, position: int, confidence: str) -> ReviewOutcome:
    """A submission of an answer already stored: the first result when it is the same answer,
    ReviewStale when it is another."""
    order = log.shown_order or list(range(OPTION_COUNT))
    if order[position] != log.chosen_index or confidence != log.confidence:
        raise ReviewStale(ANSWERED_OTHERWISE)
    challenge = card.challenge
    return ReviewOutcome(
        card=card,
        log=log,
        shown_options=[challenge.options[index] for index in order],
        chosen_position=position,
        correct_position=order.index(challenge.correct_index),
        replayed=True,
    )


def _check_position(position: object) -> int:
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < OPTION_COUNT:
        raise InvalidReviewAnswer(INVALID_POSITION)
    return position


def review_answer(
    *,
    user,
    challenge_id: int,
    position: int,
    confidence: str = "",
    review_number: int | None = None,
    now: dt.datetime | None = None,
) -> ReviewOutcome:
    """Grade a review: `position` indexes the options as this review showed them.

    `review_number` is the number of the review answered (the card's reviews so far, plus one, when
    it was shown). A number already answered is a duplicate: the same answer gets the first result
    (`replayed`), another ReviewStale; the card does not change. Without a number, the same answer
    as the card's latest, within REPLAY_WINDOW of it, is taken for a duplicate too. Raises
    ReviewNotFound, ReviewSuspended, ReviewStale, InvalidReviewAnswer.
    """
    position = _check_position(position)
    confidence = _check_confidence(confidence)
    if review_number is not None and (
        isinstance(review_number, bool) or not isinstance(review_number, int) or review_number < 1
    ):
        raise ReviewStale(ALREADY_ANSWERED)
    now = now or timezone.now()
    card = review_card_of(user=user, challenge_id=challenge_id)
    for _ in range(2):
        try:
            return _answer_once(
                card, position=position, confidence=confidence, review_number=review_number, now=now
            )
        except _AnsweredMeanwhile as meanwhile:
            # Another submission was stored between our read and our write: judge this one
            # against it, as a duplicate.
            card = review_card_of(user=user, challenge_id=challenge_id)
            review_number = meanwhile.number
    raise ReviewStale(ALREADY_ANSWERED)


class _AnsweredMeanwhile(Exception):
    def __init__(self, number: int) -> None:
        self.number = number


def _answer_once(
    card: ReviewCard, *, position: int, confidence: str, review_number: int | None, now: dt.datetime
) -> ReviewOutcome:
    with transaction.atomic():
        # The challenge row first, as an operator's key correction locks it (content/reports.py):
        # in the same order, the two wait for each other instead of deadlocking, and the review is
        # graded against the key as stored when it is written.
        list(Challenge.objects.select_for_update().filter(pk=card.challenge_id).values_list("pk"))
        card = ReviewCard.objects.select_related("challenge").get(pk=card.pk)
        if card.suspended:
            raise ReviewSuspended()
        latest = card.reviews
        if review_number is not None and review_number <= latest:
            log = card.logs.filter(review_number=review_number).first()
            if log is None:
                raise ReviewStale(ALREADY_ANSWERED)
            return _replay(card, log, position=position, confidence=confidence)
        if review_number is not None and review_number > latest + 1:
            raise ReviewStale(ALREADY_ANSWERED)
        if review_number is None:
            log = card.logs.filter(review_number=latest).first()
            # Only while the card waits for the step its latest answer set: a review answered
            # again once it is due is a review of its own.
            if (
                log is not None
                and log.shown_order is not None
                and now < card.due_at
                and now - log.reviewed_at <= REPLAY_WINDOW
            ):
                try:
                    return _replay(card, log, position=position, confidence=confidence)
                except ReviewStale:
                    pass  # another answer: a review of its own
        challenge = card.challenge
        order = list(card.option_order)
        chosen_index = order[position]
        try:
            log = _grade(
                card,
                chosen_index=chosen_index,
                is_correct=chosen_index == challenge.correct_index,
                confidence=confidence,
                shown_order=order,
                now=now,
            )
        except ReviewStale:
            raise _AnsweredMeanwhile(latest + 1) from None
    return ReviewOutcome(
        card=card,
        log=log,
        shown_options=[challenge.options[index] for index in order],
        chosen_position=position,
        correct_position=order.index(challenge.correct_index),
    )


# --- Leeches: reset or suspend -------------------------------------------------------------------

RESET, SUSPEND, RESUME = "reset", "suspend", "resume"


def review_card_manage(*, user, challenge_id: int, action: str, now: dt.datetime | None = None) -> ReviewCard:
    """Reset a card (it starts again as new content, due now; its history stays in the log),
    suspend it (never served until resumed) or resume it. Raises ReviewNotFound,
    InvalidReviewAnswer for an unknown action."""
    if action not in (RESET, SUSPEND, RESUME):
        raise InvalidReviewAnswer(INVALID_ACTION)
    now = now or timezone.now()
    card = review_card_of(user=user, challenge_id=challenge_id)
    with transaction.atomic():
        card = ReviewCard.objects.select_for_update().select_related("challenge").get(pk=card.pk)
        if action == SUSPEND:
            card.suspended = True
            card.save(update_fields=["suspended"])
        elif action == RESUME:
            card.suspended = False
            card.save(update_fields=["suspended"])
        else:
            was_retained, was_recalled = card.retained, card.recalled
            fresh = Card(card_id=card.challenge_id, due=now)
            copy_schedule(card, fresh)
            card.step = fresh.step
            card.misses, card.missed_at = 0, None
            card.recalled = card.retained = card.suspended = False
            card.save()
            challenge = card.challenge
            progress_count_add(
                owner_id=card.owner_id,
                topic=challenge.topic,
                difficulty=challenge.difficulty,
                recalled=-int(was_recalled),
                retained=-int(was_retained),
            )
    return card


def review_card_rebuild(card: ReviewCard) -> ReviewCard:
    """Grade every answer of the card again against its challenge's current key and replay them
    through FSRS in order: after an operator corrects a key, the schedule (and whether the card
    counts as recalled or retained, and its misses) is what it would have been had the key been
    right all along."""
    challenge = card.challenge
    scheduled = Card(card_id=challenge.id)
    retained = recalled = False
    misses, missed_at = 0, None
    previous: dt.datetime | None = None
    logs = list(card.logs.order_by("review_number"))
    for log in logs:
        reviewed_at = _utc(log.reviewed_at)
        log.is_correct = log.chosen_index == challenge.correct_index
        log.rating = review_rating(is_correct=log.is_correct, confidence=log.confidence)
        scheduled, _ = review_scheduler().review_card(scheduled, Rating(log.rating), reviewed_at)
        log.due_after = scheduled.due
        recalled = is_recalled(is_correct=log.is_correct, confidence=log.confidence)
        if not recalled:
            retained = False
            misses, missed_at = misses + 1, reviewed_at
        elif not log.is_first_answer and previous is not None and reviewed_at - previous >= RETENTION_GAP:
            retained = True
        previous = reviewed_at
    ReviewLog.objects.bulk_update(logs, ["is_correct", "rating", "due_after"])
    copy_schedule(card, scheduled)
    was_retained, was_recalled = card.retained, card.recalled
    card.retained, card.recalled, card.misses, card.missed_at = retained, recalled, misses, missed_at
    card.save(
        update_fields=[
            *SCHEDULE_FIELDS,
            "retained",
            "recalled",
            "misses",
            "missed_at",
        ]
    )
    progress_count_add(
        owner_id=card.owner_id,
        topic=challenge.topic,
        difficulty=challenge.difficulty,
        recalled=int(card.recalled) - int(was_recalled),
        retained=int(card.retained) - int(was_retained),
    )
    return card
