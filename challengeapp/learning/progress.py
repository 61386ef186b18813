"""Progress: per topic and difficulty, a streak, an activity calendar, and "auto" difficulty.

Everything is read from counts kept as answers happen (ProgressCount per topic and difficulty,
learning/progress_counts.py; ActivityDay per day, learning/activity.py), so the cost does not grow
with the number of answers.

Mastery, per topic and difficulty, reads current recall: one review card per piece of content,
and whether its latest answer (first answer or review) was right and not a guess.
- new: fewer than 3 cards, too few to judge;
- learning: at least 3 cards, under 70 % of them recalled;
- proficient: at least 3 cards, at least 70 % recalled;
- mastered: proficient, and at least 3 of its cards, and at least half of them, were answered right
  on a review that came at least 7 days after their previous answer, and have not been missed
  since. A run of right answers in one sitting is not enough: mastery needs retention over spaced
  reviews.
First answers (how many, how many right) are shown beside it; a repeat of content already answered
is a review, never a second first answer.

Streak: consecutive calendar days (in TIME_ZONE, as each answer was counted: learning/activity.py)
with at least one answer or review. Today counts
once it has one; until then the streak that ended yesterday is still current (it can be kept).

Retention: per week, reviews that came at least a day after the card's previous answer, and how
many of them were recalled (right, not guessed), against the schedule's target.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from challengeapp.learning.activity import activity_per_day, day_start, period_index
from challengeapp.learning.review import DESIRED_RETENTION
from challengeapp.models import Confidence, Difficulty, ProgressCount, ReviewLog, Topic

MIN_ANSWERS_TO_JUDGE = 3
PROFICIENT_ACCURACY = 0.70
SPACED_SUCCESSES_TO_MASTER = 3
ACTIVITY_WEEKS = 16

RETENTION_WEEKS = 12

NEW, LEARNING, PROFICIENT, MASTERED = "new", "learning", "proficient", "mastered"
# Weakest first: known weak (learning) before not yet judged (new), then proficient, mastered.
WEAKEST_FIRST = {LEARNING: 0, NEW: 1, PROFICIENT: 2, MASTERED: 3}
DIFFICULTY_ORDER = [Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD]


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    difficulty: str
    answered: int
    correct: int
    spaced_successes: int
    cards: int = 0
    recalled: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None

    @property
    def recall(self) -> float | None:
        return self.recalled / self.cards if self.cards else None

    @property
    def mastery(self) -> str:
        if self.cards < MIN_ANSWERS_TO_JUDGE:
            return NEW
        if self.recalled < PROFICIENT_ACCURACY * self.cards:
            return LEARNING
        if self.spaced_successes >= max(SPACED_SUCCESSES_TO_MASTER, self.cards / 2):
            return MASTERED
        return PROFICIENT

    @property
    def topic_label(self) -> str:
        return Topic(self.topic).label

    @property
    def difficulty_label(self) -> str:
        return Difficulty(self.difficulty).label


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int


@dataclass(frozen=True)
class ActivityDay:
    date: dt.date
    answers: int


def progress_topics(*, user) -> list[TopicProgress]:
    """Every topic and difficulty the learner has answered, weakest first: learning, then new (too
    few answers to judge), proficient, mastered; within a level by accuracy, then fewest answers."""
    # Counted as answers happen (learning/progress_counts.py): one row per group, however long the
    # history.
    groups = [
        TopicProgress(
            topic=row.topic,
            difficulty=row.difficulty,
            answered=row.answered,
            correct=row.correct,
            spaced_successes=row.retained,
            cards=row.cards,
            recalled=row.recalled,
        )
        for row in ProgressCount.objects.filter(owner=user).filter(Q(answered__gt=0) | Q(cards__gt=0))
    ]
    return sorted(
        groups,
        key=lambda g: (WEAKEST_FIRST[g.mastery], g.recall or 0.0, g.cards, g.topic, g.difficulty),
    )


def progress_streak(*, user, today: dt.date | None = None) -> Streak:
    today = today or timezone.localdate()
    days = sorted(activity_per_day(user=user))
    longest = run = 0
    previous: dt.date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == dt.timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    current = 0
    if previous is not None and today - previous <= dt.timedelta(days=1):
        current = run  # the run that ends on the last active day, today or yesterday
    return Streak(current=current, longest=longest)


def progress_activity(
    *, user, today: dt.date | None = None, weeks: int = ACTIVITY_WEEKS
) -> list[ActivityDay]:
    """Every day of the last `weeks` weeks, oldest first, ending today, with its answer count."""
    today = today or timezone.localdate()
    first = today - dt.timedelta(days=weeks * 7 - 1)
    counts = activity_per_day(user=user, since=first)
    return [
        ActivityDay(date=first + dt.timedelta(days=n), answers=counts.get(first + dt.timedelta(days=n), 0))
        for n in range(weeks * 7)
    ]


@dataclass(frozen=True)
class RetentionWeek:
    start: dt.date
    reviews: int
    recalled: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.recalled / self.reviews) if self.reviews else None


def progress_retention(
    *, user, today: dt.date | None = None, weeks: int = RETENTION_WEEKS
) -> list[RetentionWeek]:
    """The last `weeks` weeks (Monday first, oldest first, this week last): reviews at least a day
    after the card's previous answer, and how many were recalled (right, not guessed)."""
    today = today or timezone.localdate()
    this_week = today - dt.timedelta(days=today.weekday())
    first = this_week - dt.timedelta(weeks=weeks - 1)
    starts = [first + dt.timedelta(weeks=n) for n in range(weeks)]
    rows = (
        ReviewLog.objects.filter(
            owner=user,
            is_first_answer=False,
            elapsed_seconds__gte=86400,
            reviewed_at__gte=day_start(first),
        )
        .annotate(week=period_index("reviewed_at", starts))
        .values("week")
        .annotate(
            reviews=Count("id"),
            recalled=Count("id", filter=Q(is_correct=True) & ~Q(confidence=Confidence.GUESSED)),
        )
    )
    per_week = {row["week"]: (row["reviews"], row["recalled"]) for row in rows}
    return [RetentionWeek(start, *per_week.get(n, (0, 0))) for n, start in enumerate(starts)]


RETENTION_TARGET_PERCENT = round(DESIRED_RETENTION * 100)
