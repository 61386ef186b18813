"""Serving a new coding problem: it takes a unit of the daily quota exactly as a new challenge does
(generation_start/generation_end in quota.py: the learner's generations in flight, for a model one
of the day's failures, then the unit; given back when nothing is served). With OPENAI_API_KEY the
model writes it and it is served only once verified in the sandbox (coding/model_problems.py); a
refusal costs the learner nothing and logs one WARNING line. Without a key it comes from the
curated set, preferring problems of the asked difficulty, topic and language the learner has not
had yet. A topic that names a language (python, javascript) is written in it; algorithms and data
structures in the language the learner chooses (coding/languages.py)."""

from __future__ import annotations

import logging
import random

from django.conf import settings
from django.utils import timezone

from challengeapp.coding.curated import CODE_TOPICS, curated_problems
from challengeapp.coding.languages import problem_language
from challengeapp.coding.review import code_problem_ended, open_round, problem_round_submissions
from challengeapp.core.errors import CodeDrillError, GenerationBusy, GenerationError
from challengeapp.core.slots import process_slots
from challengeapp.generation.budget import generation_budget
from challengeapp.models import CodeOutcome, CodeProblem, Difficulty, Provider, SubmissionKind
from challengeapp.quota import GenerationEnd, generation_end, generation_start

UNKNOWN_DIFFICULTY = "Choose a difficulty: easy, medium or hard."
UNKNOWN_TOPIC = "Choose a topic: " + ", ".join(str(topic.label) for topic in CODE_TOPICS) + "."
NO_PROBLEM = "There is no coding problem for this difficulty, topic and language yet."

GENERATION_BUSY = "CodeDrill is busy generating other problems. Try again in a few seconds."
RECENT_TITLES = 20

logger = logging.getLogger("challengeapp.generation")
_rng = random.SystemRandom()


class ProblemRefused(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def code_problem_create(*, user, difficulty: str, topic: str, language: str | None = None) -> CodeProblem:
    """A new problem for the learner, charged one unit of today's quota, in `language` (None: the
    topic's own, else Python). Raises ProblemRefused for an unknown difficulty, topic or language,
    or a language the topic is not written in (nothing charged), and what generation_start raises
    (QuotaExceeded, LearnerBusy) when the learner may not have one now."""
    if difficulty not in Difficulty.values:
        raise ProblemRefused(UNKNOWN_DIFFICULTY)
    if topic not in CODE_TOPICS:
        raise ProblemRefused(UNKNOWN_TOPIC)
    try:
        language = problem_language(topic=topic, language=language)
    except ValueError as error:
        raise ProblemRefused(str(error)) from None
    if settings.OPENAI_API_KEY:
        return _from_model(user=user, difficulty=difficulty, topic=topic, language=language)
    candidates = [
        p
        for p in curated_problems()
        if p.difficulty == difficulty and p.topic == topic and p.language == language
    ]
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
            language=language,
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


def _from_model(*, user, difficulty: str, topic: str, language: str) -> CodeProblem:
    # Imported here so that the curated-only product never loads the OpenAI SDK.
    from challengeapp.coding.model_problems import problem_generate

    day = generation_start(
        user=user, slot_limit=settings.GENERATION_MAX_IN_FLIGHT_PER_LEARNER, counts_failure=True
    )
    outcome = GenerationEnd.ABANDONED
    slots = process_slots("generations", settings.GENERATION_MAX_IN_FLIGHT)
    try:
        if not slots.acquire(blocking=False):
            raise GenerationBusy(GENERATION_BUSY)
        try:
            recent = list(
                CodeProblem.objects.filter(owner=user, topic=topic)
                .order_by("-id")
                .values_list("title", flat=True)[:RECENT_TITLES]
            )
            with generation_budget(settings.GENERATION_BUDGET_SECONDS):
                draft = problem_generate(
                    difficulty=difficulty, topic=topic, language=language, recent_titles=recent
                )
        except GenerationError as error:
            if not isinstance(error, GenerationBusy):
                outcome = GenerationEnd.FAILED
            raise
        finally:
            slots.release()
        problem = CodeProblem.objects.create(
            owner=user,
            difficulty=difficulty,
            topic=topic,
            language=language,
            title=draft.title,
            statement=draft.statement,
            function_name=draft.function_name,
            signature=draft.signature,
            starter_code=draft.starter_code,
            examples=draft.examples,
            hidden_tests=draft.hidden_tests,
            reference_solution=draft.reference_solution,
            explanation=draft.explanation,
            provider=Provider.OPENAI,
            model_name=draft.model_name,
            source_key=draft.source_key,
        )
        outcome = GenerationEnd.SERVED
        return problem
    except GenerationError as error:
        # The content gate's rule, as the challenges' log line gives it (generation/pipeline.py).
        rule = getattr(error, "rule", "")
        logger.warning(
            "code problem refused cause=%s provider=openai upstream_request_id=%s learner=%s "
            "difficulty=%s topic=%s language=%s message=%r%s",
            error.cause,
            error.upstream_request_id or "-",
            user.username,
            difficulty,
            topic,
            language,
            error.message,
            f" rule={rule}" if rule else "",
        )
        raise
    finally:
        generation_end(user=user, day=day, counts_failure=True, outcome=outcome)


def code_problem_give_up(*, problem: CodeProblem) -> None:
    """The learner asks for the solution before solving the problem (or the open review round):
    the first give-up is recorded, and the problem or the round ends (coding/review.py)."""
    if not code_problem_solved(problem):
        CodeProblem.objects.filter(pk=problem.pk, gave_up_at__isnull=True).update(gave_up_at=timezone.now())
        code_problem_ended(problem=problem, solved=False)
    problem.refresh_from_db(fields=["gave_up_at", "outcome", "outcome_submits", "finished_at"])


def code_problem_solved(problem: CodeProblem) -> bool:
    """Solved: in the open review round if there is one (never: a solve ends the round), else
    ever."""
    return problem_round_submissions(problem).filter(kind=SubmissionKind.SUBMIT, passed=True).exists()


def code_problem_revealed(problem: CodeProblem) -> bool:
    """The solution may be shown: the problem has ended (solved or given up) and no review round
    of it is open (in a round the learner writes it again without it)."""
    return problem.outcome != CodeOutcome.UNDER_WAY and open_round(problem) is None
