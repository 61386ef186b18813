"""The blind second check (quality/blind_check.py), end to end: the real openai SDK over HTTP to the
fake server on 127.0.0.1, through the JSON API a learner's client uses. What is asserted is what a
learner and an operator notice: served or refused, the key, the quota, what the checker was shown
(never the key), and the cost recorded per challenge."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from django.test import Client

from challengeapp.core.drafts import challenge_draft_validate
from challengeapp.models import Challenge, Verification
from challengeapp.quality.blind_check import check_answer_read, check_prompt_options
from challengeapp.quota import quota_status
from challengeapp.tests.fakes.openai_server import ErrorReply, FakeOpenAIServer, Reply, check_answer
from challengeapp.tests.test_api import bearer

pytestmark = pytest.mark.django_db

GENERATION_LOGGER = "challengeapp.generation"

# A question no sandbox run can settle: no code, options that are sentences.
CONCEPT: dict[str, Any] = {
    "title": "Idempotent HTTP methods",
    "question": "Which HTTP method is defined as **idempotent** but *not* safe by RFC 9110?",
    "code": "",
    "language": "",
    "options": ["PUT", "POST", "GET", "PATCH"],
    "correct_index": 0,
    "explanation": "`PUT` replaces the target's state, so repeating it changes nothing more. It's "
    "tempting to answer `GET`, but `GET` is safe as well as idempotent.",
    "answer_kind": "concept",
}
USAGE = {"prompt_tokens": 300, "completion_tokens": 200, "total_tokens": 500}
CHECK_USAGE = {"prompt_tokens": 150, "completion_tokens": 40, "total_tokens": 190}
GENERATE = {"difficulty": "medium", "topic": "web"}


def generate(learner) -> Any:
    return Client().post(
        "/api/generate-challenge",
        data=json.dumps(GENERATE),
        content_type="application/json",
        **bearer(learner),
    )


def shown_options(request) -> dict[str, str]:
    """The options a check request showed, by letter."""
    return check_prompt_options(request.prompt_text)


def letter_of(request, text: str) -> str:
    return next(letter for letter, shown in shown_options(request).items() if shown == text)


def checker_picking(*texts: str, usage=CHECK_USAGE):
    """A checker that names these option texts, under whatever letters it was shown them."""

    def behaviour(request):
        letters = [letter_of(request, text) for text in texts]
        return Reply(json.dumps({"reasoning": "Thought it through.", "answers": letters}), usage=usage)

    return behaviour


@pytest.fixture
def concept_model(fake_openai: FakeOpenAIServer, settings) -> FakeOpenAIServer:
    settings.BLIND_CHECK = True
    fake_openai.default = Reply(json.dumps(CONCEPT), usage=USAGE)
    return fake_openai


def test_a_key_the_checker_picks_is_served_as_checked_with_the_checks_cost(concept_model, learner, settings):
    settings.OPENAI_CHECK_MODEL = "gpt-4.1-nano"
    concept_model.enqueue_check(checker_picking("PUT"))

    response = generate(learner)

    assert response.status_code == 201
    challenge = Challenge.objects.get()
    assert challenge.options[challenge.correct_index] == "PUT"
    assert challenge.verification == Verification.CHECKED
    assert (challenge.check_prompt_tokens, challenge.check_completion_tokens) == (150, 40)
    assert challenge.total_tokens == 500  # the writer's own cost, kept apart
    assert quota_status(user=learner).used == 1
    [check] = concept_model.check_requests
    assert check.body["model"] == "gpt-4.1-nano"
    assert challenge.check_model_name  # the model that answered, as the server named it


def test_the_checker_is_shown_the_question_and_options_reordered_but_never_the_key(concept_model, learner):
    orders = set()
    for _ in range(12):
        concept_model.enqueue_check(checker_picking("PUT"))
        Challenge.objects.all().delete()  # the same question again is not a repeat once gone
        assert generate(learner).status_code == 201
    for check in concept_model.check_requests:
        prompt = check.prompt_text
        assert CONCEPT["question"] in prompt
        assert set(shown_options(check).values()) == set(CONCEPT["options"])
        # Neither the key's index nor the explanation (which argues for the key) reaches the checker.
        assert "correct_index" not in prompt and "tempting" not in prompt and "explanation" not in prompt
        order = tuple(shown_options(check).values())
        assert order != tuple(CONCEPT["options"])  # never the order the writer gave
        orders.add(order)
        assert "RFC 9110" in prompt  # the versions the writer was told
    assert len(orders) > 1  # shuffled, not one fixed permutation


@pytest.mark.parametrize(
    ("checker", "cause"),
    [
        (checker_picking("GET"), "check_disagrees"),
        (checker_picking("PUT", "PATCH"), "check_two_right"),
        (lambda request: check_answer(), "check_none_right"),
    ],
    ids=["another-option", "two-right", "none-right"],
)
def test_a_key_the_checker_does_not_confirm_is_refused_at_no_cost(
    concept_model, learner, caplog, checker, cause
):
    concept_model.check_default = checker  # the second writing is checked the same way

    with caplog.at_level(logging.WARNING, logger=GENERATION_LOGGER):
        response = generate(learner)

    assert response.status_code in (502, 503)
    assert "second check" in response.json()["detail"]
    assert Challenge.objects.count() == 0
    assert quota_status(user=learner).used == 0
    # The model argued for a wrong answer: it is asked once more, and that one is checked too.
    assert len(concept_model.chat_requests) == 2 and len(concept_model.check_requests) == 2
    assert f"cause={cause}" in caplog.text


def test_a_second_writing_the_checker_confirms_is_served(concept_model, learner):
    fixed = {**CONCEPT, "title": "Idempotent, not safe", "question": CONCEPT["question"] + " (Pick one.)"}
    concept_model.enqueue(Reply(json.dumps(CONCEPT), usage=USAGE), Reply(json.dumps(fixed), usage=USAGE))
    concept_model.enqueue_check(checker_picking("GET"), checker_picking("PUT"))

    response = generate(learner)

    assert response.status_code == 201
    assert Challenge.objects.get().title == "Idempotent, not safe"
    assert quota_status(user=learner).used == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply("I am not sure, it could be several things."),
        Reply(json.dumps({"reasoning": "Hmm.", "answers": ["E"]})),
        Reply(json.dumps({"verdict": "fine"})),
        ErrorReply(status=500, message="The check model is down."),
        ErrorReply(status=401, message="Incorrect API key provided."),
    ],
    ids=["prose", "no-such-letter", "no-answer-field", "server-error", "auth"],
)
def test_a_check_that_names_no_option_refuses_the_challenge_and_is_not_asked_again(
    concept_model, learner, caplog, reply
):
    concept_model.check_default = reply

    with caplog.at_level(logging.WARNING, logger=GENERATION_LOGGER):
        response = generate(learner)

    assert response.status_code in (502, 503)
    assert Challenge.objects.count() == 0 and quota_status(user=learner).used == 0
    assert len(concept_model.chat_requests) == 1
    assert re.search(r"cause=check_(unreadable|failed)", caplog.text)


def test_a_server_without_json_schema_gets_the_check_in_json_mode(concept_model, learner):
    def schema_refused(request):
        if request.response_format.get("type") == "json_schema":
            return ErrorReply(
                status=400, message="response_format json_schema is not supported", param="response_format"
            )
        return checker_picking("PUT")(request)

    concept_model.check_default = schema_refused

    assert generate(learner).status_code == 201
    assert [check.response_format["type"] for check in concept_model.check_requests] == [
        "json_schema",
        "json_object",
    ]
    assert Challenge.objects.get().verification == Verification.CHECKED


def test_turned_off_no_check_is_asked_and_the_key_is_served_unverified(concept_model, learner, settings):
    settings.BLIND_CHECK = False

    assert generate(learner).status_code == 201

    assert concept_model.check_requests == []
    assert Challenge.objects.get().verification == Verification.UNVERIFIED
    assert Challenge.objects.get().check_prompt_tokens is None


def test_a_key_settled_by_running_its_code_is_not_checked_again(sandbox, fake_openai, learner, settings):
    settings.BLIND_CHECK = True
    fake_openai.default = Reply(
        json.dumps(
            {
                "title": "Deque rotation",
                "question": "What does this program print?",
                "code": "from collections import deque\nd = deque([1, 2, 3, 4])\nd.rotate(1)\nprint(list(d))",
                "language": "python",
                "options": ["[4, 1, 2, 3]", "[2, 3, 4, 1]", "[1, 2, 3, 4]", "TypeError"],
                "correct_index": 0,
                "explanation": "rotate(1) moves the last item to the front.",
                "answer_kind": "output",
            }
        )
    )

    assert generate(learner).status_code == 201

    assert Challenge.objects.get().verification == Verification.EXECUTED
    assert fake_openai.check_requests == []


def test_the_bank_is_never_checked(learner, settings):
    settings.BLIND_CHECK = True
    settings.OPENAI_API_KEY = ""

    assert generate(learner).status_code == 201

    assert Challenge.objects.get().verification in (Verification.CURATED, Verification.EXECUTED)


# --- Reading what a checker answers: compatible servers and small models answer loosely ----------

DRAFT = challenge_draft_validate(CONCEPT)
ORDER = (2, 0, 3, 1)  # A shows GET, B shows PUT, C shows PATCH, D shows POST


@pytest.mark.parametrize(
    ("content", "picked"),
    [
        ('{"reasoning": "x", "answers": ["B"]}', {0}),
        ('{"answers": ["b", "C"]}', {0, 3}),
        ('{"answer": "Option B"}', {0}),
        ('{"answer": "(B)"}', {0}),
        ('{"answer": "PUT"}', {0}),
        ('{"answers": []}', set()),
        ("B", {0}),
        ("Answer: B", {0}),
        ("The answer is B.", {0}),
        ("PUT", {0}),
        # A small model that echoed the question's shape, marking an option correct by its index.
        (json.dumps({**CONCEPT, "options": ["GET", "PUT", "POST", "PATCH"], "correct_index": 1}), {0}),
    ],
)
def test_answers_naming_options_are_read(content, picked):
    assert check_answer_read(content, DRAFT, ORDER) == frozenset(picked)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "I think it is probably one of them",
        '{"answers": ["E"]}',
        '{"answers": [1]}',
        '{"answers": "B or C"}',
        '{"answer": null}',
        "[]",
        '{"options": ["x", "y"], "correct_index": 1}',
        None,
    ],
)
def test_answers_naming_no_option_are_unreadable(content):
    assert check_answer_read(content, DRAFT, ORDER) is None
