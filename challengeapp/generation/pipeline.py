"""Generating a challenge: take a quota unit → ask the provider → content gate → shuffle → save.

A failed generation costs the learner nothing: the unit goes back, nothing is stored, and the
operator gets one WARNING line with the cause and the upstream request id (and, when there is one,
the server's own message or the content gate's rule). It still cost a model request, so a
learner's failures are bounded per day (GENERATION_FAILURES_PER_DAY, quota.py). The whole generation runs within
GENERATION_BUDGET_SECONDS (generation/budget.py).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.db import connection

from challengeapp.content.identity import option_form
from challengeapp.content.reports import ContentDecisions, content_decisions
from challengeapp.core.drafts import OPTION_COUNT, ChallengeDraft
from challengeapp.core.errors import GenerationBusy, GenerationError, LearnerBusy
from challengeapp.core.slots import process_slots
from challengeapp.generation.bank_provider import BankProvider
from challengeapp.generation.budget import budget_check, generation_budget
from challengeapp.generation.providers import ChallengeProvider, GeneratedChallenge, GenerationRequest
from challengeapp.models import Challenge, Difficulty, Provider, Topic, Verification
from challengeapp.quality.blind_check import CheckRefused, check_decide
from challengeapp.quality.content_gate import ContentRefused, content_gate_check
from challengeapp.quality.verification import KeyRefused, draft_verify
from challengeapp.quota import GenerationEnd, generation_end, generation_start

logger = logging.getLogger("challengeapp.generation")

GENERATION_BUSY = "CodeDrill is busy generating other challenges. Try again in a few seconds."
UNKNOWN_DIFFICULTY = "Choose a difficulty: easy, medium or hard."
UNKNOWN_TOPIC = "Choose one of the listed topics."
RETIRED_CONTENT = "The challenge generator wrote a question that has been withdrawn. Please try again."

RECENT_TITLES_FOR_PROMPT = 20
# Refusals that say the model argued for a wrong answer: worth one more request. Others (an
# unreadable check, code that crashes, a server error) would most likely fail the same way again.
ASK_AGAIN_CAUSES = frozenset({"key_mismatch", "check_disagrees", "check_two_right", "check_none_right"})

# An unbiased shuffle (Fisher–Yates, as random.shuffle implements it) fed by the OS's randomness.
_shuffle_rng = random.SystemRandom()


def options_shuffle(draft: ChallengeDraft, *, rng: random.Random = _shuffle_rng) -> ChallengeDraft:
    """The same challenge with its options in a uniformly random order; the correct index follows
    the option text the provider marked correct."""
    order = list(range(OPTION_COUNT))
    rng.shuffle(order)
    options = tuple(draft.options[i] for i in order)
    return dataclasses.replace(draft, options=options, correct_index=order.index(draft.correct_index))


def provider_for_settings() -> ChallengeProvider:
    """OpenAI when a key is configured, the built-in bank otherwise."""
    if settings.OPENAI_API_KEY:
        # Imported here so that the bank-only product never loads the OpenAI SDK.
        from challengeapp.generation.openai_provider import OpenAIProvider

        return OpenAIProvider()
    return _bank_provider()


@cache
def _bank_provider() -> BankProvider:
    return BankProvider()


@contextmanager
def _generation_slot():
    """Bound the generations in flight in this process, so a slow model cannot tie up every
    worker thread: past the bound, answer "busy" at once instead of queueing."""
    slots = process_slots("generations", settings.GENERATION_MAX_IN_FLIGHT)
    if not slots.acquire(blocking=False):
        raise GenerationBusy(GENERATION_BUSY)
    try:
        yield
    finally:
        slots.release()


def _request_for(
    *, user, difficulty: str, topic: str, provider: ChallengeProvider, decisions: ContentDecisions
) -> GenerationRequest:
    mine = Challenge.objects.filter(owner=user)
    recent_titles = tuple(
        mine.filter(topic=topic).order_by("-id").values_list("title", flat=True)[:RECENT_TITLES_FOR_PROMPT]
    )
    # Only the bank picks among known entries; for a model, repeats are caught after the fact.
    seen: frozenset[str] = frozenset()
    if provider.name == Provider.BANK:
        seen = frozenset(mine.filter(difficulty=difficulty, topic=topic).values_list("source_key", flat=True))
    return GenerationRequest(
        difficulty=difficulty,
        topic=topic,
        recent_titles=recent_titles,
        seen_source_keys=seen,
        retired_source_keys=decisions.retired,
    )


def _release_pooled_connection() -> None:
    """Give the database connection back to the pool before waiting seconds on a model, so slow
    generations hold no connections. Only with a pool (PostgreSQL) and outside a transaction: a
    persistent SQLite connection is cheaper kept, and a transaction must keep its connection."""
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def _ask(provider: ChallengeProvider, request: GenerationRequest) -> GeneratedChallenge:
    if provider.name == Provider.BANK:
        # Curated: every entry and generator passes the content gate in the test suite.
        return provider.generate(request)
    budget_check()
    # A model takes seconds: hold no pooled database connection meanwhile.
    _release_pooled_connection()
    generated = provider.generate(request)
    content_gate_check(generated.draft)
    # A key its Python code can settle (what it prints, raises or evaluates to) is checked by
    # running it, whatever answer_kind says (quality/verification.py).
    verification = draft_verify(generated.draft, answer_kind=generated.draft.answer_kind)
    generated = dataclasses.replace(generated, verification=verification)
    if verification == Verification.UNVERIFIED and settings.BLIND_CHECK:
        generated = _blind_checked(provider, generated, topic=request.topic)
    return generated


def _blind_checked(
    provider: ChallengeProvider, generated: GeneratedChallenge, *, topic: str
) -> GeneratedChallenge:
    """A key nothing could run, confirmed by a second model answering blind, or CheckRefused
    (quality/blind_check.py). Only a provider that can ask a model offers the check."""
    blind_check = getattr(provider, "blind_check", None)
    if blind_check is None:
        return generated
    budget_check()
    outcome = blind_check(generated.draft, topic=topic)
    check_decide(outcome, generated.draft)
    return dataclasses.replace(
        generated,
        verification=Verification.CHECKED,
        check_model_name=outcome.model_name,
        check_prompt_tokens=outcome.prompt_tokens,
        check_completion_tokens=outcome.completion_tokens,
    )


def _generate_new(*, provider: ChallengeProvider, user, request: GenerationRequest) -> GeneratedChallenge:
    try:
        generated = _ask(provider, request)
    except (KeyRefused, CheckRefused) as error:
        if error.cause not in ASK_AGAIN_CAUSES:
            raise
        # Its code prints another option, or a second model answered otherwise: the draft argued
        # for a wrong answer. Ask once more.
        _log_failure(
            error, provider=provider.name, user=user, difficulty=request.difficulty, topic=request.topic
        )
        generated = _ask(provider, request)
    # A question the learner already has, or content an operator retired, is discarded and
    # generated again, once.
    if _unwanted(generated, user=user, request=request):
        generated = _ask(provider, request)
        if generated.source_key in request.retired_source_keys:
            raise GenerationError(RETIRED_CONTENT, cause="retired_content")
    return generated


def _unwanted(generated: GeneratedChallenge, *, user, request: GenerationRequest) -> bool:
    return (
        generated.source_key in request.retired_source_keys
        or Challenge.objects.filter(owner=user, source_key=generated.source_key).exists()
    )


def _log_failure(error: GenerationError, *, provider: str, user, difficulty: str, topic: str) -> None:
    details = ""
    if isinstance(error, ContentRefused):
        details += f" rule={error.rule}"
    # Set by the OpenAI provider's UpstreamError (not imported here: the bank-only product never
    # loads the SDK): the server's own message, already trimmed to one line. Last, and unquoted,
    # so that it reads as the server wrote it.
    upstream_message = getattr(error, "upstream_message", "")
    if upstream_message:
        details += f" upstream_message={upstream_message}"
    logger.warning(
        "generation failed cause=%s provider=%s upstream_request_id=%s learner=%s "
        "difficulty=%s topic=%s message=%r%s",
        error.cause,
        provider,
        error.upstream_request_id or "-",
        user.username,
        difficulty,
        topic,
        error.message,
        details,
    )


def _with_correction(generated: GeneratedChallenge, *, user, decisions: ContentDecisions) -> ChallengeDraft:
    """An operator corrected this content's key: new servings carry the corrected key, unless
    running the code established another one. That conflict is logged and the run's key kept;
    the operator sees it on the reported-content page (content/reports.py)."""
    draft = generated.draft
    corrected = decisions.corrected.get(generated.source_key)
    if corrected is None:
        return draft
    forms = [option_form(option) for option in draft.options]
    if option_form(corrected) not in forms:
        return draft
    index = forms.index(option_form(corrected))
    if index == draft.correct_index:
        return draft
    if generated.verification == Verification.EXECUTED:
        logger.warning(
            "generation kept its key cause=correction_conflict source_key=%s learner=%s "
            "ran=%r corrected=%r: running the code established the key; the correction is not applied",
            generated.source_key,
            user.username,
            draft.correct_option,
            corrected,
        )
        return draft
    return dataclasses.replace(draft, correct_index=index)


def _save(
    *,
    user,
    difficulty: str,
    topic: str,
    generated: GeneratedChallenge,
    is_fallback: bool,
    decisions: ContentDecisions,
) -> Challenge:
    draft = _with_correction(generated, user=user, decisions=decisions)
    draft = options_shuffle(draft)
    return Challenge.objects.create(
        owner=user,
        difficulty=difficulty,
        topic=topic,
        title=draft.title,
        question=draft.question,
        code=draft.code,
        code_language=draft.language,
        options=list(draft.options),
        correct_index=draft.correct_index,
        explanation=draft.explanation,
        provider=generated.provider,
        model_name=generated.model_name,
        source_key=generated.source_key,
        is_fallback=is_fallback,
        verification=generated.verification,
        prompt_tokens=generated.prompt_tokens,
        completion_tokens=generated.completion_tokens,
        total_tokens=generated.total_tokens,
        check_model_name=generated.check_model_name,
        check_prompt_tokens=generated.check_prompt_tokens,
        check_completion_tokens=generated.check_completion_tokens,
    )


def challenge_generate(
    *, user, difficulty: str, topic: str, provider: ChallengeProvider | None = None
) -> Challenge:
    """Generate, store and return a new challenge for the learner.

    Raises QuotaExceeded when today's quota is spent, TooManyFailures (a GenerationError, before
    any model is asked) when GENERATION_FAILURES_PER_DAY of the learner's generations failed today,
    GenerationError when the provider failed, the content gate refused its challenge or
    GENERATION_BUDGET_SECONDS ran out (the quota unit is given back first, the failure counted),
    ValueError for an unknown difficulty or topic.
    """
    if difficulty not in Difficulty.values:
        raise ValueError(UNKNOWN_DIFFICULTY)
    if topic not in Topic.values:
        raise ValueError(UNKNOWN_TOPIC)
    provider = provider or provider_for_settings()
    # A model bills every request, whether or not its answer is usable: a learner's failed
    # generations are bounded per day (GENERATION_FAILURES_PER_DAY). The bank costs nothing.
    counts_failure = provider.name != Provider.BANK
    day = generation_start(
        user=user, slot_limit=settings.GENERATION_MAX_IN_FLIGHT_PER_LEARNER, counts_failure=counts_failure
    )
    outcome = GenerationEnd.ABANDONED  # until a provider has answered one way or the other
    try:
        with generation_budget(settings.GENERATION_BUDGET_SECONDS):
            try:
                challenge = _generate(user=user, difficulty=difficulty, topic=topic, provider=provider)
            except GenerationError as error:
                _log_failure(error, provider=provider.name, user=user, difficulty=difficulty, topic=topic)
                if not isinstance(error, GenerationBusy):  # busy: no model was asked
                    outcome = GenerationEnd.FAILED
                if not _should_fall_back(error, provider=provider):
                    raise
                # The bank costs nothing, so the fallback keeps the unit given back.
                return _fallback(user=user, difficulty=difficulty, topic=topic)
            outcome = GenerationEnd.SERVED
            return challenge
    finally:
        generation_end(user=user, day=day, counts_failure=counts_failure, outcome=outcome)


def _generate(*, user, difficulty: str, topic: str, provider: ChallengeProvider) -> Challenge:
    with _generation_slot():
        decisions = content_decisions()
        request = _request_for(
            user=user, difficulty=difficulty, topic=topic, provider=provider, decisions=decisions
        )
        generated = _generate_new(provider=provider, user=user, request=request)
    return _save(
        user=user,
        difficulty=difficulty,
        topic=topic,
        generated=generated,
        is_fallback=False,
        decisions=decisions,
    )


def _fallback(*, user, difficulty: str, topic: str) -> Challenge:
    bank = _bank_provider()
    decisions = content_decisions()
    fallback = bank.generate(
        _request_for(user=user, difficulty=difficulty, topic=topic, provider=bank, decisions=decisions)
    )
    # The bank costs nothing, so the fallback keeps the unit given back above.
    return _save(
        user=user,
        difficulty=difficulty,
        topic=topic,
        generated=fallback,
        is_fallback=True,
        decisions=decisions,
    )


def _should_fall_back(error: GenerationError, *, provider: ChallengeProvider) -> bool:
    return (
        settings.GENERATION_FALLBACK_TO_BANK
        and provider.name != Provider.BANK
        and not isinstance(error, GenerationBusy | LearnerBusy)
    )
