"""Coding problems in the learning loop: how a problem ended, and its spaced-review schedule.

A problem ends once: on its first passing Submit (`solved_first` when that was the first Submit,
`solved_after` otherwise; Runs on the examples are practice and do not count as tries) or when the
learner gives up before solving it. Ending it records the outcome on the problem (history and
progress read it) and schedules a review card with the same FSRS scheduler as multiple-choice cards
(learning/review.py): for the first ending, solved first time is Easy, solved after several Submits
Good, given up Again; for a review round, Good, Hard and Again (FIRST_RATINGS, REVIEW_RATINGS).

A review is a round: the learner opens a due problem and writes the function again from the
starter code. The round's first passing Submit, or giving up in it, grades the card by the same
rule and closes the round. Practising a problem that has ended, outside a round, changes nothing.
A curated problem served again (every one of a topic and difficulty already seen) joins its card:
its end grades the card as a review.

Every step is a conditional UPDATE or a locked row in a transaction, so two Submits that pass at
the same moment end a problem or a round once.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from fsrs import Card, Rating

from challengeapp.core.errors import CodeDrillError
from challengeapp.learning.review import copy_schedule, fsrs_card, review_scheduler, tomorrow_start
from challengeapp.models import (
    CodeOutcome,
    CodeProblem,
    CodeReviewCard,
    ReviewRating,
    ReviewState,
    SubmissionKind,
)

NOT_FINISHED = "Solve this problem or give up on it first: it joins your reviews when it ends."
NOT_SCHEDULED = "That coding problem is not in your reviews."

# The FSRS grade for how a round ended. The first ending of a problem is graded a step higher when
# solved: writing a whole function that passes hidden tests is stronger evidence than picking an
# option, and the scheduler's minute-long learning steps (made for recognising an answer) would
# bring a function the learner just wrote back within ten minutes. Giving up is Again either way.
FIRST_RATINGS = {
    CodeOutcome.SOLVED_FIRST: ReviewRating.EASY,
    CodeOutcome.SOLVED_AFTER: ReviewRating.GOOD,
    CodeOutcome.GAVE_UP: ReviewRating.AGAIN,
}
REVIEW_RATINGS = {
    CodeOutcome.SOLVED_FIRST: ReviewRating.GOOD,
    CodeOutcome.SOLVED_AFTER: ReviewRating.HARD,
    CodeOutcome.GAVE_UP: ReviewRating.AGAIN,
}


class CodeReviewRefused(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _schedule(card: CodeReviewCard, outcome: str, now: dt.datetime, *, first: bool) -> None:
    """Grade `card` (not saved) for a round that ended with `outcome` at `now`."""
    current = Card(card_id=card.problem_id) if first else fsrs_card(card, card_id=card.problem_id)
    rating = (FIRST_RATINGS if first else REVIEW_RATINGS)[outcome]
    scheduled, _ = review_scheduler().review_card(current, Rating(rating), now)
    copy_schedule(card, scheduled)
    card.last_outcome = outcome


def _submits(problem: CodeProblem, *, since: dt.datetime | None = None) -> int:
    submits = problem.submissions.filter(kind=SubmissionKind.SUBMIT)
    if since is not None:
        submits = submits.filter(created_at__gte=since)
    return submits.count()


def _outcome(*, solved: bool, submits: int) -> str:
    if not solved:
        return CodeOutcome.GAVE_UP
    return CodeOutcome.SOLVED_FIRST if submits <= 1 else CodeOutcome.SOLVED_AFTER


def open_round(problem: CodeProblem) -> CodeReviewCard | None:
    """The problem's review card when a review round of it is open, else None."""
    return (
        CodeReviewCard.objects.filter(problem=problem, round_started_at__isnull=False)
        .only("id", "problem_id", "round_started_at")
        .first()
    )


def code_problem_ended(*, problem: CodeProblem, solved: bool, now: dt.datetime | None = None) -> str:
    """Called after a passing Submit (`solved`) or a give-up: ends the open review round, else the
    problem itself if it is still under way, and schedules its card. Returns the outcome recorded,
    or "" when this changed nothing (the problem had ended and no round was open)."""
    now = now or timezone.now()
    round_card = open_round(problem)
    if round_card is not None:
        return _round_end(card_id=round_card.id, problem=problem, solved=solved, now=now)
    submits = _submits(problem)
    outcome = _outcome(solved=solved, submits=submits)
    with transaction.atomic():
        ended = CodeProblem.objects.filter(pk=problem.pk, outcome=CodeOutcome.UNDER_WAY).update(
            outcome=outcome, outcome_submits=submits, finished_at=now
        )
        if not ended:
            return ""
        _card_grade(problem=problem, outcome=outcome, now=now)
    problem.outcome, problem.outcome_submits, problem.finished_at = outcome, submits, now
    return outcome


def _card_grade(*, problem: CodeProblem, outcome: str, now: dt.datetime) -> None:
    """Schedule the learner's card for this content: a new one for a first ending, a review of the
    existing one for a problem served again."""
    card = (
        CodeReviewCard.objects.select_for_update()
        .filter(owner_id=problem.owner_id, source_key=problem.source_key)
        .first()
    )
    if card is not None:
        _schedule(card, outcome, now, first=False)
        card.reviews += 1
        card.round_started_at = None
        card.save()
        return
    card = CodeReviewCard(problem=problem, owner_id=problem.owner_id, source_key=problem.source_key)
    _schedule(card, outcome, now, first=True)
    try:
        with transaction.atomic():
            card.save()
    except IntegrityError:
        # Another serving of the same content ended at the same moment and made the card: this
        # ending is then a review of it.
        card = CodeReviewCard.objects.select_for_update().get(
            owner_id=problem.owner_id, source_key=problem.source_key
        )
        _schedule(card, outcome, now, first=False)
        card.reviews += 1
        card.save()


def _round_end(*, card_id: int, problem: CodeProblem, solved: bool, now: dt.datetime) -> str:
    with transaction.atomic():
        card = CodeReviewCard.objects.select_for_update().filter(pk=card_id).first()
        if card is None or card.round_started_at is None:
            return ""  # another request ended the round first
        submits = _submits(problem, since=card.round_started_at)
        outcome = _outcome(solved=solved, submits=submits)
        _schedule(card, outcome, now, first=False)
        card.reviews += 1
        card.round_started_at = None
        card.save()
    return outcome


def code_review_start(*, user, problem_id: int, now: dt.datetime | None = None) -> CodeReviewCard:
    """Open a review round of the learner's problem (early is allowed, as for other reviews); a
    round already open stays as it is."""
    now = now or timezone.now()
    card = CodeReviewCard.objects.filter(owner=user, problem_id=problem_id).first()
    if card is None:
        if CodeProblem.objects.filter(owner=user, pk=problem_id, outcome=CodeOutcome.UNDER_WAY).exists():
            raise CodeReviewRefused(NOT_FINISHED)
        raise CodeReviewRefused(NOT_SCHEDULED)
    CodeReviewCard.objects.filter(pk=card.pk, round_started_at__isnull=True).update(round_started_at=now)
    card.refresh_from_db(fields=["round_started_at"])
    return card


def _due_q(now: dt.datetime) -> Q:
    """Due now, in the learner's calendar as multiple-choice cards are (learning/review.py)."""
    return Q(state=ReviewState.REVIEW, due_at__lt=tomorrow_start(now)) | Q(due_at__lte=now)


def code_review_is_due(card: CodeReviewCard, *, now: dt.datetime | None = None) -> bool:
    """`_due_q` for one card already loaded."""
    now = now or timezone.now()
    return (card.state == ReviewState.REVIEW and card.due_at < tomorrow_start(now)) or card.due_at <= now


def code_reviews_due(*, user, now: dt.datetime | None = None) -> QuerySet[CodeReviewCard]:
    """The learner's coding problems due for review, oldest due first (with their problem)."""
    now = now or timezone.now()
    return (
        CodeReviewCard.objects.filter(_due_q(now), owner=user)
        .select_related("problem")
        .order_by("due_at", "id")
    )


def code_review_due_count(*, user, now: dt.datetime | None = None) -> int:
    return CodeReviewCard.objects.filter(_due_q(now or timezone.now()), owner=user).count()
