"""Prepared selects (services/prepared.py) give exactly what the ORM gives, in one query."""

from __future__ import annotations

import pytest

from challengeapp.models import Attempt, Challenge
from challengeapp.services.history import challenge_history, history_slice
from challengeapp.services.prepared import PreparedSelect


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


@pytest.fixture
def history(learner, other_learner):
    made = []
    for number in range(7):
        challenge = Challenge.objects.create(
            owner=learner,
            difficulty="hard",
            topic="sql",
            title=f"Title {number} « ünïcode »",
            question='Which? {"json": [1, 2]}',
            code="SELECT 1;" if number % 2 else "",
            code_language="sql" if number % 2 else "",
            options=["a", "b", "c", f"d{number}"],
            correct_index=number % 4,
            explanation="Because.",
            provider="bank",
            source_key=f"k{number}",
            prompt_tokens=number or None,
        )
        if number % 3 == 0:
            Attempt.objects.create(challenge=challenge, chosen_index=1, is_correct=number == 3)
        made.append(challenge)
    Challenge.objects.create(
        owner=other_learner,
        difficulty="easy",
        topic="git",
        title="Not theirs",
        question="?",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation=".",
        provider="bank",
        source_key="x",
    )
    return made


@pytest.mark.parametrize(("limit", "offset"), [(50, 0), (3, 0), (3, 2), (10, 6), (5, 7), (1, 100)])
def test_a_history_slice_is_the_orm_slice(learner, history, limit, offset, django_assert_num_queries):
    expected = list(challenge_history(user=learner)[offset : offset + limit])
    with django_assert_num_queries(1):
        got = history_slice(user=learner, limit=limit, offset=offset)
        attempts = [getattr(challenge, "attempt", None) for challenge in got]  # loaded with them
    assert [fields(challenge) for challenge in got] == [fields(challenge) for challenge in expected]
    assert [attempt and fields(attempt) for attempt in attempts] == [
        getattr(challenge, "attempt", None) and fields(challenge.attempt) for challenge in expected
    ]
    assert all(challenge.created_at.tzinfo is not None for challenge in got)
    assert all(isinstance(challenge.options, list) for challenge in got)


def test_placeholders_must_be_what_the_sql_binds(db):
    with pytest.raises(ValueError):
        PreparedSelect(Challenge.objects.filter(owner_id=1, topic="sql"), placeholders=[1])
    with pytest.raises(ValueError):
        PreparedSelect(Challenge.objects.filter(owner_id=1)[:5], placeholders=[1])
    with pytest.raises(ValueError):
        PreparedSelect(Challenge.objects.filter(owner_id=1), placeholders=[1], paginated=True)(1)
