"""Generation through the provider interface: quota taken, given back on failure, never corrupted."""

from __future__ import annotations

import threading

import pytest

from challengeapp.core.drafts import ChallengeDraft
from challengeapp.core.errors import GenerationError, QuotaExceeded
from challengeapp.generation.pipeline import GENERATION_BUSY, challenge_generate
from challengeapp.generation.providers import GeneratedChallenge, GenerationRequest
from challengeapp.models import Challenge, Provider
from challengeapp.quota import quota_status

pytestmark = pytest.mark.django_db

DRAFT = ChallengeDraft(
    title="Truthiness",
    question="Which value is falsy in Python?",
    code="",
    language="",
    options=("[]", "[0]", "'0'", "-1"),
    correct_index=0,
    explanation="An empty list is falsy; [0] is a non-empty list and therefore truthy.",
)


class ScriptedProvider:
    """A provider that answers from a script of drafts and errors, recording each request."""

    name = Provider.OPENAI

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> GeneratedChallenge:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def generated(draft=DRAFT, key="q:abc") -> GeneratedChallenge:
    return GeneratedChallenge(
        draft=draft,
        provider=Provider.OPENAI,
        source_key=key,
        model_name="gpt-test",
        prompt_tokens=10,
        completion_tokens=20,
        total_tokens=30,
    )


def test_a_generated_challenge_is_stored_with_provider_and_usage(learner):
    challenge = challenge_generate(
        user=learner, difficulty="easy", topic="python", provider=ScriptedProvider(generated())
    )
    challenge.refresh_from_db()
    assert challenge.owner == learner
    assert challenge.options[challenge.correct_index] == "[]"
    assert sorted(challenge.options) == sorted(DRAFT.options)
    assert (challenge.provider, challenge.model_name, challenge.total_tokens) == ("openai", "gpt-test", 30)
    assert quota_status(user=learner).used == 1


def test_a_failed_generation_costs_nothing_and_stores_nothing(learner, caplog):
    provider = ScriptedProvider(
        GenerationError("The model timed out.", cause="timeout", upstream_request_id="req_9")
    )
    with pytest.raises(GenerationError):
        challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)
    assert Challenge.objects.count() == 0
    assert quota_status(user=learner).used == 0
    failures = [r for r in caplog.records if r.name == "challengeapp.generation"]
    assert len(failures) == 1
    assert "cause=timeout" in failures[0].getMessage()
    assert "upstream_request_id=req_9" in failures[0].getMessage()


def test_an_unexpected_error_also_gives_the_unit_back(learner):
    with pytest.raises(RuntimeError):
        challenge_generate(
            user=learner, difficulty="easy", topic="python", provider=ScriptedProvider(RuntimeError("boom"))
        )
    assert quota_status(user=learner).used == 0


def test_an_exhausted_quota_never_calls_the_provider(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 0
    provider = ScriptedProvider(generated())
    with pytest.raises(QuotaExceeded):
        challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)
    assert provider.requests == []


def test_a_repeated_question_is_generated_again_once(learner):
    challenge_generate(
        user=learner, difficulty="easy", topic="python", provider=ScriptedProvider(generated(key="q:same"))
    )
    provider = ScriptedProvider(generated(key="q:same"), generated(key="q:new"))
    challenge = challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)
    assert challenge.source_key == "q:new"
    assert len(provider.requests) == 2


def test_the_request_names_recent_titles_and_seen_keys(learner):
    challenge_generate(
        user=learner, difficulty="easy", topic="python", provider=ScriptedProvider(generated(key="q:1"))
    )
    provider = ScriptedProvider(generated(key="q:2"))
    challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)
    request = provider.requests[0]
    assert (request.difficulty, request.topic) == ("easy", "python")
    assert request.recent_titles == ("Truthiness",)
    # Only the bank chooses among known entries; a model's repeats are caught after it answers.
    assert request.seen_source_keys == frozenset()
    bank = ScriptedProvider(generated(key="bank:x"))
    bank.name = Provider.BANK
    challenge_generate(user=learner, difficulty="easy", topic="python", provider=bank)
    assert bank.requests[0].seen_source_keys == frozenset({"q:1", "q:2"})


def test_unknown_difficulty_or_topic_is_refused_before_any_cost(learner):
    for difficulty, topic in [("extreme", "python"), ("easy", "cobol"), ("", "")]:
        with pytest.raises(ValueError):
            challenge_generate(user=learner, difficulty=difficulty, topic=topic, provider=ScriptedProvider())
    assert quota_status(user=learner).used == 0


def test_fallback_serves_a_labelled_bank_challenge_at_no_cost(learner, settings):
    settings.GENERATION_FALLBACK_TO_BANK = True
    provider = ScriptedProvider(GenerationError("The model is down.", cause="upstream_5xx"))
    challenge = challenge_generate(user=learner, difficulty="easy", topic="sql", provider=provider)
    assert (challenge.provider, challenge.is_fallback) == ("bank", True)
    assert quota_status(user=learner).used == 0


@pytest.mark.django_db(transaction=True)
def test_generations_in_flight_are_bounded_per_process(learner, settings):
    settings.GENERATION_MAX_IN_FLIGHT = 1
    inside, release = threading.Event(), threading.Event()

    class SlowProvider(ScriptedProvider):
        def generate(self, request):
            inside.set()
            release.wait(5)
            return generated(key="q:slow")

    errors = []

    def first():
        from django.db import connection

        try:
            challenge_generate(user=learner, difficulty="easy", topic="python", provider=SlowProvider())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    try:
        with pytest.raises(GenerationError) as busy:
            challenge_generate(
                user=learner, difficulty="easy", topic="python", provider=ScriptedProvider(generated())
            )
        assert busy.value.message == GENERATION_BUSY
    finally:
        release.set()
        thread.join(5)
    assert errors == []


def test_a_stored_correction_never_overrides_a_key_the_sandbox_established(learner, caplog):
    from django.utils import timezone

    from challengeapp.models import ContentDecision, Verification

    ContentDecision.objects.create(
        source_key="model:sum", outcome="corrected", corrected_option="11", decided_at=timezone.now()
    )
    draft = ChallengeDraft(
        title="Addition",
        question="What does this print?",
        code="print(2 + 2)",
        language="python",
        options=("4", "22", "11", "TypeError"),
        correct_index=0,
        explanation="2 + 2 is 4.",
        answer_kind="output",
    )
    ran = GeneratedChallenge(
        draft=draft, provider=Provider.OPENAI, source_key="model:sum", verification=Verification.EXECUTED
    )

    # Served as the procedural generators serve theirs: a key computed by running the snippet.
    provider = ScriptedProvider(ran)
    provider.name = Provider.BANK
    challenge = challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)

    assert challenge.options[challenge.correct_index] == "4"
    assert challenge.verification == "executed"
    assert any("correction_conflict" in record.getMessage() for record in caplog.records)


# --- Failed generations are bounded per learner per day ----------------------------------------------


def failing(count: int) -> ScriptedProvider:
    return ScriptedProvider(*[GenerationError("The model wrote nonsense.", cause="invalid_output")] * count)


def test_failed_generations_are_bounded_per_learner_per_day(learner, other_learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    settings.GENERATION_FAILURES_PER_DAY = 3
    provider = failing(25)
    for _ in range(3):
        with pytest.raises(GenerationError) as failed:
            challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)
        assert failed.value.http_status == 502
    for _ in range(22):
        with pytest.raises(GenerationError) as refused:
            challenge_generate(user=learner, difficulty="easy", topic="python", provider=provider)
        assert refused.value.http_status == 429
    # Three billed requests, not twenty-five; the quota itself was never spent.
    assert len(provider.requests) == 3
    assert quota_status(user=learner).used == 0
    from challengeapp.quota import TOO_MANY_FAILURES

    assert refused.value.message == TOO_MANY_FAILURES.format(count=3)
    # Another learner is not affected.
    challenge_generate(
        user=other_learner, difficulty="easy", topic="python", provider=ScriptedProvider(generated())
    )


def test_the_bank_fallback_hands_out_nothing_past_the_failure_bound(learner, settings):
    settings.GENERATION_FALLBACK_TO_BANK = True
    settings.GENERATION_FAILURES_PER_DAY = 2
    provider = failing(5)
    fallbacks = [
        challenge_generate(user=learner, difficulty="easy", topic="sql", provider=provider) for _ in range(2)
    ]
    assert all(challenge.is_fallback for challenge in fallbacks)
    with pytest.raises(GenerationError) as refused:
        challenge_generate(user=learner, difficulty="easy", topic="sql", provider=provider)
    assert refused.value.http_status == 429
    assert len(provider.requests) == 2 and Challenge.objects.count() == 2


def test_successes_busy_answers_and_the_free_bank_do_not_count_as_failures(learner, settings):
    settings.GENERATION_FAILURES_PER_DAY = 1
    for _ in range(3):
        challenge_generate(
            user=learner,
            difficulty="easy",
            topic="python",
            provider=ScriptedProvider(generated(key=f"q:{_}")),
        )
    bank = ScriptedProvider(*[GenerationError("The bank is empty.", cause="bank_empty")] * 3)
    bank.name = Provider.BANK
    for _ in range(3):
        with pytest.raises(GenerationError) as bank_failed:
            challenge_generate(user=learner, difficulty="easy", topic="python", provider=bank)
        assert bank_failed.value.http_status == 502
    # The one failure allowed today is still there.
    with pytest.raises(GenerationError) as failed:
        challenge_generate(user=learner, difficulty="easy", topic="python", provider=failing(1))
    assert failed.value.http_status == 502


def test_the_failure_bound_starts_again_the_next_day(learner, settings, monkeypatch):
    import datetime as dt

    from challengeapp import quota

    settings.GENERATION_FAILURES_PER_DAY = 1
    with pytest.raises(GenerationError):
        challenge_generate(user=learner, difficulty="easy", topic="python", provider=failing(1))
    with pytest.raises(GenerationError) as refused:
        challenge_generate(user=learner, difficulty="easy", topic="python", provider=failing(1))
    assert refused.value.http_status == 429
    tomorrow = quota.quota_today() + dt.timedelta(days=1)
    monkeypatch.setattr(quota, "quota_today", lambda: tomorrow)
    challenge = challenge_generate(
        user=learner, difficulty="easy", topic="python", provider=ScriptedProvider(generated())
    )
    assert challenge.pk is not None


@pytest.mark.django_db(transaction=True)
def test_generations_running_at_once_cannot_pass_the_failure_bound_between_them(learner, settings):
    settings.GENERATION_FAILURES_PER_DAY = 1
    inside, release = threading.Event(), threading.Event()

    class SlowFailingProvider(ScriptedProvider):
        def generate(self, request):
            inside.set()
            release.wait(5)
            raise GenerationError("The model wrote nonsense.", cause="invalid_output")

    outcomes = []

    def first():
        from django.db import connection

        try:
            challenge_generate(
                user=learner, difficulty="easy", topic="python", provider=SlowFailingProvider()
            )
        except GenerationError as error:
            outcomes.append(error.http_status)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    try:
        # The one failure allowed today is held by the generation under way.
        second = ScriptedProvider(GenerationError("The model wrote nonsense.", cause="invalid_output"))
        with pytest.raises(GenerationError) as refused:
            challenge_generate(user=learner, difficulty="easy", topic="python", provider=second)
        assert refused.value.http_status == 429 and second.requests == []
    finally:
        release.set()
        thread.join(5)
    assert outcomes == [502]
