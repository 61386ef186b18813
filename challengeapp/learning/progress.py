"""Progress: per topic and difficulty, a streak, an activity calendar, and "auto" difficulty.

Everything is read from counts kept as answers happen (ProgressCount per topic and difficulty,
learning/progress_counts.py; ActivityDay per day, learning/activity.py), so the cost does not grow
with the number of answers.

Mastery, per topic and difficulty (the rule the progress page states):
- new: fewer than 3 first answers, too few to judge;
- learning: at least 3 first answers, under 70 % of them right;
- proficient: at least 3 first answers, at least 70 % right;
- mastered: proficient, and at least 3 of its challenges were answered right on a review that came
  at least 7 days after their previous answer, and have not been missed since. A run of right
  answers in one sitting is not enough: mastery needs retention over spaced reviews.

Streak: consecutive calendar days (in TIME_ZONE, as each answer was counted: learning/activity.py)
with at least one answer or review. Today counts
once it has one; until then the streak that ended yesterday is still current (it can be kept).

Auto difficulty, per topic, aiming at 70-85 % right: start from the difficulty of the learner's
latest challenge in the topic (easy if none); look at their last 10 first answers at that
difficulty in the topic; with at least 5 of them, above 85 % right steps up a level, under 70 %
steps down; otherwise it stays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from challengeapp.learning.activity import activity_per_day
from challengeapp.models import Attempt, Challenge, Difficulty, ProgressCount, Topic

MIN_ANSWERS_TO_JUDGE = 3
PROFICIENT_ACCURACY = 0.70
SPACED_SUCCESSES_TO_MASTER = 3
ACTIVITY_WEEKS = 16

AUTO_DIFFICULTY = "auto"  # what a learner picks to let difficulty_auto choose
AUTO_WINDOW = 10
AUTO_MIN_ANSWERS = 5
AUTO_LOW, AUTO_HIGH = 0.70, 0.85

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

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None

    @property
    def mastery(self) -> str:
        if self.answered < MIN_ANSWERS_TO_JUDGE:
            return NEW
        if self.correct < PROFICIENT_ACCURACY * self.answered:
            return LEARNING
        if self.spaced_successes >= SPACED_SUCCESSES_TO_MASTER:
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
        )
        for row in ProgressCount.objects.filter(owner=user, answered__gt=0)
    ]
    return sorted(
        groups,
        key=lambda g: (WEAKEST_FIRST[g.mastery], g.accuracy or 0.0, g.answered, g.topic, g.difficulty),
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


def difficulty_auto(*, user, topic: str) -> str:
    """The difficulty to practise `topic` at next (the rule in the module docstring)."""
    latest = (
        Challenge.objects.filter(owner=user, topic=topic).order_by("-id").values_list("difficulty", flat=True)
    )
    current = latest.first() or Difficulty.EASY
    recent = list(
        Attempt.objects.filter(challenge__owner=user, challenge__topic=topic, challenge__difficulty=current)
        .order_by("-answered_at", "-id")
        .values_list("is_correct", flat=True)[:AUTO_WINDOW]
    )
    if len(recent) < AUTO_MIN_ANSWERS:
        return current
    accuracy = sum(recent) / len(recent)
    level = DIFFICULTY_ORDER.index(current)
    if accuracy > AUTO_HIGH and level < len(DIFFICULTY_ORDER) - 1:
        return DIFFICULTY_ORDER[level + 1]
    if accuracy < AUTO_LOW and level > 0:
        return DIFFICULTY_ORDER[level - 1]
    return current
