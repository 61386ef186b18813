"""Coding problems in history and progress: what a learner did with each problem (runs, Submits,
how it ended) and, per topic, how many were solved first time, solved after several Submits, given
up or are under way."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from challengeapp.coding.review import code_review_due_count
from challengeapp.models import CodeOutcome, CodeProblem, SubmissionKind, Topic

# History's result filter, read for coding problems: right is solved, wrong is given up,
# unanswered is under way.
RESULT_OUTCOMES = {
    "right": (CodeOutcome.SOLVED_FIRST, CodeOutcome.SOLVED_AFTER),
    "wrong": (CodeOutcome.GAVE_UP,),
    "unanswered": (CodeOutcome.UNDER_WAY,),
}


def code_history(*, user, difficulty: str = "", topic: str = "", result: str = "") -> QuerySet[CodeProblem]:
    """The learner's coding problems, newest first, each with `runs` and `submits` counted."""
    problems = CodeProblem.objects.filter(owner=user)
    if difficulty:
        problems = problems.filter(difficulty=difficulty)
    if topic:
        problems = problems.filter(topic=topic)
    if result in RESULT_OUTCOMES:
        problems = problems.filter(outcome__in=RESULT_OUTCOMES[result])
    return problems.annotate(
        runs=Count("submissions", filter=Q(submissions__kind=SubmissionKind.RUN)),
        submits=Count("submissions", filter=Q(submissions__kind=SubmissionKind.SUBMIT)),
    ).order_by("-id")


@dataclass(frozen=True)
class CodeTopicProgress:
    topic: str
    problems: int
    solved_first: int
    solved_after: int
    gave_up: int
    under_way: int

    @property
    def topic_label(self) -> str:
        return str(Topic(self.topic).label)

    @property
    def solved(self) -> int:
        return self.solved_first + self.solved_after


@dataclass(frozen=True)
class CodeProgress:
    topics: list[CodeTopicProgress]
    due_now: int

    @property
    def problems(self) -> int:
        return sum(topic.problems for topic in self.topics)

    def total(self, name: str) -> int:
        return sum(getattr(topic, name) for topic in self.topics)

    def as_json(self) -> dict:
        fields = ("problems", "solved_first", "solved_after", "gave_up", "under_way")
        return {
            "topics": [
                {"topic": t.topic, **{name: getattr(t, name) for name in fields}} for t in self.topics
            ],
            "due_now": self.due_now,
        }


def code_progress(*, user) -> CodeProgress:
    """Per topic the learner has had coding problems in (one query), and the reviews due now."""
    rows = (
        CodeProblem.objects.filter(owner=user)
        .values("topic")
        .annotate(
            problems=Count("id"),
            solved_first=Count("id", filter=Q(outcome=CodeOutcome.SOLVED_FIRST)),
            solved_after=Count("id", filter=Q(outcome=CodeOutcome.SOLVED_AFTER)),
            gave_up=Count("id", filter=Q(outcome=CodeOutcome.GAVE_UP)),
            under_way=Count("id", filter=Q(outcome=CodeOutcome.UNDER_WAY)),
        )
        .order_by("topic")
    )
    topics = [CodeTopicProgress(**row) for row in rows]
    return CodeProgress(topics=topics, due_now=code_review_due_count(user=user) if topics else 0)
