"""The built-in bank: enough valid, original challenges, no repeats, an unbiased shuffle."""

from __future__ import annotations

import collections
import json
import random
import re

import pytest

from challengeapp.content.bank import procedural
from challengeapp.content.bank.loader import DATA_DIR, bank_entries, bank_entries_for
from challengeapp.core.drafts import challenge_draft_validate
from challengeapp.generation.bank_provider import BankProvider
from challengeapp.generation.pipeline import challenge_generate, options_shuffle
from challengeapp.generation.providers import GenerationRequest
from challengeapp.models import Challenge, Difficulty, Topic


def test_bank_has_at_least_150_valid_challenges_over_6_topics():
    entries = bank_entries()
    assert len(entries) >= 150
    per_difficulty = collections.Counter(entry.difficulty for entry in entries)
    assert all(per_difficulty[d] >= 50 for d in Difficulty.values), per_difficulty
    assert len({entry.topic for entry in entries}) >= 6
    assert {entry.topic for entry in entries} <= set(Topic.values)


def test_every_bank_file_entry_passes_the_model_output_validator():
    for path in sorted(DATA_DIR.glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            draft = challenge_draft_validate(raw)
            assert raw["difficulty"] in Difficulty.values
            assert raw["topic"] == path.stem
            assert (draft.code == "") == (draft.language == "")


def test_bank_explanations_never_point_at_a_position_that_the_shuffle_changes():
    position = re.compile(r"\b(option|answer|choice) [A-D1-4]\b|\b(all|none) of the above\b", re.I)
    for entry in bank_entries():
        texts = [entry.draft.explanation, entry.draft.question, *entry.draft.options]
        assert not any(position.search(text) for text in texts), entry.entry_id


def test_procedural_generators_cover_at_least_five_and_validate():
    assert len(procedural.GENERATORS) >= 5
    rng = random.Random(7)
    for generator in procedural.GENERATORS:
        for _ in range(20):
            snippet = generator.build(rng)
            draft = challenge_draft_validate({**snippet.__dict__, "options": list(snippet.options)})
            assert draft.correct_option == snippet.options[snippet.correct_index]


@pytest.mark.django_db
def test_a_learner_sees_no_repeat_while_unseen_challenges_remain(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1000
    for difficulty, topic in [("easy", "sql"), ("hard", "git"), ("medium", "web")]:
        size = len(bank_entries_for(difficulty, topic))
        assert not procedural.generators_for(difficulty=difficulty, topic=topic)
        keys = [
            challenge_generate(user=learner, difficulty=difficulty, topic=topic).source_key
            for _ in range(size)
        ]
        assert len(set(keys)) == size


@pytest.mark.django_db
def test_python_topic_mixes_bank_and_fresh_snippets_without_repeats(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1000
    keys = [challenge_generate(user=learner, difficulty="easy", topic="python").source_key for _ in range(30)]
    assert len(set(keys)) == 30
    assert any(key.startswith("proc:") for key in keys)
    assert any(key.startswith("bank:") for key in keys)


def test_bank_repeats_only_once_everything_is_seen():
    entries = bank_entries_for("hard", "sql")
    seen = frozenset(entry.source_key for entry in entries)
    generated = BankProvider(rng=random.Random(1)).generate(
        GenerationRequest(difficulty="hard", topic="sql", seen_source_keys=seen)
    )
    assert generated.source_key in seen


def test_shuffle_spreads_the_correct_index_evenly_and_keeps_the_right_text():
    entry = bank_entries()[0]
    counts = collections.Counter()
    draws = 8000
    for _ in range(draws):
        shuffled = options_shuffle(entry.draft)
        assert shuffled.correct_option == entry.draft.correct_option
        assert sorted(shuffled.options) == sorted(entry.draft.options)
        counts[shuffled.correct_index] += 1
    # Each position expects 2000; 5 standard deviations (~194) is far beyond chance.
    assert set(counts) == {0, 1, 2, 3}
    assert all(abs(count - draws / 4) < 200 for count in counts.values()), counts


@pytest.mark.django_db
def test_stored_challenges_spread_the_correct_index_evenly(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 10_000
    draws = 800
    for i in range(draws):
        topic = Topic.values[i % len(Topic.values)]
        challenge_generate(user=learner, difficulty=Difficulty.values[i % 3], topic=topic)
    counts = collections.Counter(Challenge.objects.values_list("correct_index", flat=True))
    # Expect 200 each; sd ≈ 12.2, so ±60 is ~5 sd.
    assert all(abs(counts[i] - draws / 4) < 60 for i in range(4)), counts
