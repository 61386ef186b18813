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
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from challengeapp.coding.curated import CODE_TOPICS, curated_problems
from challengeapp.coding.languages import problem_language
from challengeapp.coding.review import code_problem_ended
from challengeapp.core.errors import CodeDrillError, GenerationBusy, GenerationError
from challengeapp.core.slots import process_slots
from challengeapp.generation.budget import generation_budget
from challengeapp.models import (
    CodeOutcome,
    CodeProblem,
    CodeReviewCard,
    CodeSubmission,
    Difficulty,
    Provider,
    SubmissionKind,
)
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
        problem = _problem_store(
            user=user,
            difficulty=difficulty,
            topic=topic,
            language=language,
            source=chosen,
            provider=Provider.BANK,
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
        problem = _problem_store(
            user=user,
            difficulty=difficulty,
            topic=topic,
            language=language,
            source=draft,
            provider=Provider.OPENAI,
            model_name=draft.model_name,
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


def _problem_store(
    *, user, difficulty: str, topic: str, language: str, source, provider: str, model_name: str = ""
) -> CodeProblem:
    """Store what the learner is served: `source` is a curated problem or a verified draft (the same
    fields under the same names)."""
    return CodeProblem.objects.create(
        owner=user,
        difficulty=difficulty,
        topic=topic,
        language=language,
        title=source.title,
        statement=source.statement,
        function_name=source.function_name,
        signature=source.signature,
        starter_code=source.starter_code,
        examples=list(source.examples),
        hidden_tests=list(source.hidden_tests),
        reference_solution=source.reference_solution,
        explanation=source.explanation,
        provider=provider,
        model_name=model_name,
        source_key=source.source_key,
    )


def code_problem_give_up(*, problem: CodeProblem) -> None:
    """The learner asks for the solution before solving the problem (or the open review round):
    the first give-up is recorded, and the problem or the round ends (coding/review.py)."""
    if not code_problem_standing(problem).solved:
        CodeProblem.objects.filter(pk=problem.pk, gave_up_at__isnull=True).update(gave_up_at=timezone.now())
        code_problem_ended(problem=problem, solved=False)
    problem.refresh_from_db(fields=["gave_up_at", "outcome", "outcome_submits", "finished_at"])


@dataclass(frozen=True)
class ProblemStanding:
    """Where the learner stands with a problem, read with one lookup of its review card: the card
    (once the problem has ended), whether a review round is open, whether it is solved (in the
    open round: never, a solve ends the round; else ever), whether the solution may be shown (it
    has ended and no round is open: in a round the learner writes it again without it), and the
    submissions the page and the API show (the open round's, else all)."""

    card: CodeReviewCard | None
    in_round: bool
    solved: bool
    revealed: bool
    submissions: QuerySet[CodeSubmission]


def code_problem_standing(problem: CodeProblem) -> ProblemStanding:
    card = CodeReviewCard.objects.filter(problem=problem).first()
    in_round = card is not None and card.round_started_at is not None
    submissions = problem.submissions.all()
    if in_round:
        submissions = submissions.filter(created_at__gte=card.round_started_at)
    return ProblemStanding(
        card=card,
        in_round=in_round,
        solved=not in_round and submissions.filter(kind=SubmissionKind.SUBMIT, passed=True).exists(),
        revealed=not in_round and problem.outcome != CodeOutcome.UNDER_WAY,
        submissions=submissions,
    )
