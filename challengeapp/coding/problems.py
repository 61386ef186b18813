"""Serving a new coding problem: it takes a unit of the daily quota exactly as a new challenge does
(generation_start/generation_end in quota.py: the learner's generations in flight, then the unit;
given back when nothing is served), and comes from the curated set, preferring problems of the
asked difficulty and topic the learner has not had yet."""

from __future__ import annotations

import random

from django.conf import settings
from django.utils import timezone

from challengeapp.coding.curated import CODE_TOPICS, curated_problems
from challengeapp.core.errors import CodeDrillError
from challengeapp.models import CodeProblem, Difficulty, Provider
from challengeapp.quota import GenerationEnd, generation_end, generation_start

UNKNOWN_DIFFICULTY = "Choose a difficulty: easy, medium or hard."
UNKNOWN_TOPIC = "Choose a topic: " + ", ".join(str(topic.label) for topic in CODE_TOPICS) + "."
NO_PROBLEM = "There is no coding problem for this difficulty and topic yet."

_rng = random.SystemRandom()


class ProblemRefused(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def code_problem_create(*, user, difficulty: str, topic: str) -> CodeProblem:
    """A new problem for the learner, charged one unit of today's quota. Raises ProblemRefused for
    an unknown difficulty or topic (nothing charged), and what generation_start raises
    (QuotaExceeded, LearnerBusy) when the learner may not have one now."""
    if difficulty not in Difficulty.values:
        raise ProblemRefused(UNKNOWN_DIFFICULTY)
    if topic not in CODE_TOPICS:
        raise ProblemRefused(UNKNOWN_TOPIC)
    candidates = [p for p in curated_problems() if p.difficulty == difficulty and p.topic == topic]
    if not candidates:
        raise ProblemRefused(NO_PROBLEM)
    day = generation_start(
        user=user, slot_limit=settings.GENERATION_MAX_IN_FLIGHT_PER_LEARNER, counts_failure=False
    )
    outcome = GenerationEnd.ABANDONED
    try:
        seen = set(CodeProblem.objects.filter(owner=user, topic=topic).values_list("source_key", flat=True))
        fresh = [p for p in candidates if p.source_key not in seen]
        chosen = _rng.choice(fresh or candidates)
        problem = CodeProblem.objects.create(
            owner=user,
            difficulty=difficulty,
            topic=topic,
            title=chosen.title,
            statement=chosen.statement,
            function_name=chosen.function_name,
            signature=chosen.signature,
            starter_code=chosen.starter_code,
            examples=list(chosen.examples),
            hidden_tests=list(chosen.hidden_tests),
            reference_solution=chosen.reference_solution,
            explanation=chosen.explanation,
            provider=Provider.BANK,
            source_key=chosen.source_key,
        )
        outcome = GenerationEnd.SERVED
        return problem
    finally:
        generation_end(user=user, day=day, counts_failure=False, outcome=outcome)


def code_problem_give_up(*, problem: CodeProblem) -> None:
    """The learner asks for the solution before solving the problem: recorded once."""
    CodeProblem.objects.filter(pk=problem.pk, gave_up_at__isnull=True).update(gave_up_at=timezone.now())
    problem.refresh_from_db(fields=["gave_up_at"])


def code_problem_solved(problem: CodeProblem) -> bool:
    return problem.submissions.filter(kind="submit", passed=True).exists()
