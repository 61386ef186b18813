""" "Auto" difficulty, per topic: the level a learner practises at, moved so that they answer
AUTO_DIFFICULTY_BAND (70-85 %) right, with hysteresis so it settles.

The rule (settings in config/settings.py, stated on the practice page):
- The level per topic is kept (AutoLevel) with the moment it last changed. It starts at the
  difficulty of the learner's latest challenge in the topic, easy if none, with every earlier
  first answer at that difficulty counting.
- Only first answers at the current level since that moment count: the answers that moved the
  level are never judged again, so a step down is not undone by the very answers that caused the
  step up. Repeats of content already answered are reviews, not first answers: they do not count.
- The level is judged once AUTO_DIFFICULTY_WINDOW (20) such answers exist, and then every
  AUTO_DIFFICULTY_RUN (10) answers after, on the last AUTO_DIFFICULTY_WINDOW: more right than the
  band's top by MOVE_MARGIN (above 90 %) steps up a level, fewer than its bottom by MOVE_MARGIN
  (under 65 %) steps down; otherwise it stays. The margin is the hysteresis: a learner whose level
  sits in the band (75 % right, say) gets 19 of 20 right by chance about once in 40 judgements,
  not once in 10, and so is not sent up to a level they cannot hold.
- Where the level's content runs out before a window is full (the built-in bank has eight
  challenges per level and topic; once they are used the learner is served repeats), the level is
  judged on the first answers there are, at least EXHAUSTED_MIN_ANSWERS of them, once: otherwise
  a bank-only topic would never leave its first level.
- At hard and above the band, or at easy and below it, the level stays and the page says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from challengeapp.models import Attempt, AutoLevel, Challenge, Difficulty, Topic

AUTO_DIFFICULTY = "auto"  # what a learner picks to let difficulty_auto choose
# A level's starting point when auto is first used in a topic: every earlier answer counts.
BEGINNING = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
DIFFICULTY_ORDER = [Difficulty.EASY, Difficulty.MEDIUM, Difficulty.HARD]
ABOVE_HARD, BELOW_EASY = "above_hard", "below_easy"
# How far past the band a window must be to move the level (see the module docstring).
MOVE_MARGIN = 0.05
EXHAUSTED_MIN_ANSWERS = 5
BEYOND_MESSAGES = {
    ABOVE_HARD: "You are above hard in {topic}: {right} of your last {answered} right. Auto cannot go higher.",
    BELOW_EASY: "You are below easy in {topic}: {right} of your last {answered} right. Auto cannot go lower.",
}


def auto_band() -> tuple[float, float]:
    low, high = settings.AUTO_DIFFICULTY_BAND
    return low / 100, high / 100


@dataclass(frozen=True)
class AutoDecision:
    topic: str
    difficulty: str
    answered: int  # first answers at this level in the window
    right: int
    changed: bool  # this call moved the level
    beyond: str  # ABOVE_HARD, BELOW_EASY or ""

    @property
    def message(self) -> str:
        if not self.beyond:
            return ""
        return BEYOND_MESSAGES[self.beyond].format(
            topic=Topic(self.topic).label, right=self.right, answered=self.answered
        )


def _level(*, user, topic: str) -> AutoLevel:
    level = AutoLevel.objects.filter(owner=user, topic=topic).first()
    if level is not None:
        return level
    latest = (
        Challenge.objects.filter(owner=user, topic=topic)
        .order_by("-id")
        .values_list("difficulty", flat=True)
        .first()
    )
    try:
        with transaction.atomic():
            return AutoLevel.objects.create(
                owner=user, topic=topic, difficulty=latest or Difficulty.EASY, since=BEGINNING
            )
    except IntegrityError:  # another request made it first
        return AutoLevel.objects.get(owner=user, topic=topic)


def _at_level(user, level: AutoLevel):
    return Attempt.objects.filter(
        challenge__owner=user,
        challenge__topic=level.topic,
        challenge__difficulty=level.difficulty,
        answered_at__gte=level.since,
    )


def _exhausted(user, level: AutoLevel) -> bool:
    """Repeats were served at this level since it was set: its new content ran out."""
    return _at_level(user, level).filter(is_repeat=True).exists()


def _answers(user, level: AutoLevel) -> tuple[int, list[bool]]:
    """How many first answers at the level since it was set, and the latest window of them."""
    answers = _at_level(user, level).filter(is_repeat=False)
    window = list(
        answers.order_by("-answered_at", "-id").values_list("is_correct", flat=True)[
            : settings.AUTO_DIFFICULTY_WINDOW
        ]
    )
    run = answers.count() if len(window) == settings.AUTO_DIFFICULTY_WINDOW else len(window)
    return run, window


def auto_decide(*, user, topic: str, now: dt.datetime | None = None) -> AutoDecision:
    """The difficulty to practise `topic` at next (the rule in the module docstring)."""
    now = now or timezone.now()
    level = _level(user=user, topic=topic)
    run, window = _answers(user, level)
    right = sum(window)
    low, high = auto_band()
    index = DIFFICULTY_ORDER.index(level.difficulty)
    share = right / len(window) if window else None
    beyond = ""
    if share is not None and len(window) == settings.AUTO_DIFFICULTY_WINDOW:
        if share > high and index == len(DIFFICULTY_ORDER) - 1:
            beyond = ABOVE_HARD
        elif share < low and index == 0:
            beyond = BELOW_EASY
    full = len(window) == settings.AUTO_DIFFICULTY_WINDOW
    due = full and run >= level.judged + settings.AUTO_DIFFICULTY_RUN
    if not full and run >= EXHAUSTED_MIN_ANSWERS and run > level.judged:
        due = _exhausted(user, level)
    if not due or share is None:
        return AutoDecision(topic, level.difficulty, len(window), right, False, beyond)
    move = 1 if share > high + MOVE_MARGIN else -1 if share < low - MOVE_MARGIN else 0
    target = min(max(index + move, 0), len(DIFFICULTY_ORDER) - 1)
    if target == index:
        # Judged: stays. The next judgement is a run later.
        AutoLevel.objects.filter(pk=level.pk, judged=level.judged).update(judged=run)
        return AutoDecision(topic, level.difficulty, len(window), right, False, beyond)
    # A conditional UPDATE: two requests judging at once move the level once.
    moved = AutoLevel.objects.filter(pk=level.pk, difficulty=level.difficulty, judged=level.judged).update(
        difficulty=DIFFICULTY_ORDER[target], since=now, judged=0
    )
    if not moved:
        level.refresh_from_db()
        return AutoDecision(topic, level.difficulty, 0, 0, False, "")
    return AutoDecision(topic, DIFFICULTY_ORDER[target], 0, 0, True, "")


def difficulty_auto(*, user, topic: str, now: dt.datetime | None = None) -> str:
    return auto_decide(user=user, topic=topic, now=now).difficulty


def auto_levels(*, user) -> list[AutoDecision]:
    """Where auto stands in each topic the learner has used it in, without judging."""
    low, high = auto_band()
    decisions = []
    for level in AutoLevel.objects.filter(owner=user).order_by("topic"):
        _, window = _answers(user, level)
        right = sum(window)
        beyond = ""
        if len(window) == settings.AUTO_DIFFICULTY_WINDOW:
            if level.difficulty == Difficulty.HARD and right / len(window) > high:
                beyond = ABOVE_HARD
            elif level.difficulty == Difficulty.EASY and right / len(window) < low:
                beyond = BELOW_EASY
        decisions.append(AutoDecision(level.topic, level.difficulty, len(window), right, False, beyond))
    return decisions
