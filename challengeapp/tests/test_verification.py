"""Keys checked by running the code: a model's "what does this print?" draft through the real SDK,
the fake OpenAI server and the real sandbox. Each outcome, what is stored and what it costs."""

from __future__ import annotations

import json
import logging

import pytest

from challengeapp.generation.pipeline import challenge_generate
from challengeapp.models import Challenge, ContentDecision
from challengeapp.quota import quota_status
from challengeapp.tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db

PRINTS_SIX = {
    "title": "Sum of a range",
    "question": "What does this program print?",
    "code": "print(sum(range(4)))",
    "language": "python",
    "options": ["6", "10", "4", "range(0, 4)"],
    "correct_index": 0,
    "explanation": "range(4) is 0, 1, 2 and 3, whose sum is 6; 10 would include 4.",
    "answer_kind": "output",
}


def draft(**changes) -> str:
    return json.dumps({**PRINTS_SIX, **changes})


def generate(learner):
    return challenge_generate(user=learner, difficulty="easy", topic="python")


def failure_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "challengeapp.generation"]


def test_a_right_key_is_served_as_executed(fake_openai, learner, sandbox):
    fake_openai.enqueue(Reply(draft()))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert challenge.options[challenge.correct_index] == "6"


def test_a_key_that_names_another_option_is_refused_and_the_model_asked_again(
    fake_openai, learner, sandbox, caplog
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(draft(correct_index=1)), Reply(draft()))

    challenge = generate(learner)

    assert len(fake_openai.chat_requests) == 2
    assert challenge.verification == "executed" and challenge.options[challenge.correct_index] == "6"
    assert Challenge.objects.count() == 1 and quota_status(user=learner).used == 1
    (line,) = failure_lines(caplog)
    assert "cause=key_mismatch" in line


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        ("print(sum(range(6)))", "output_matches_no_option"),
        ("print(1 / 0)", "code_crashed"),
        ("while True:\n    pass", "code_timed_out"),
        ("blob = bytearray(2 * 1024 ** 3)\nprint(len(blob))", "code_out_of_memory"),
        ("print('x' * 10_000_000)", "code_output_too_large"),
    ],
)
def test_code_that_does_not_print_an_option_is_refused_at_no_cost(
    fake_openai, learner, sandbox, caplog, code, cause
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(draft(code=code)))

    with pytest.raises(Exception) as raised:
        generate(learner)

    assert getattr(raised.value, "cause", None) == cause
    assert Challenge.objects.count() == 0 and quota_status(user=learner).used == 0
    (line,) = failure_lines(caplog)
    assert f"cause={cause}" in line


def test_code_that_tries_to_escape_achieves_nothing(fake_openai, learner, sandbox, tmp_path):
    target = tmp_path / "escaped"
    code = (
        "import socket\n"
        "try:\n"
        f"    open({str(target)!r}, 'w').write('x')\n"
        "except OSError:\n"
        "    pass\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 80), timeout=1)\n"
        "except OSError:\n"
        "    pass\n"
        "print(6)"
    )
    fake_openai.enqueue(Reply(draft(code=code)))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert not target.exists()


def test_no_sandbox_means_served_unverified_and_never_run(fake_openai, learner, settings, tmp_path):
    settings.SANDBOX_BWRAP = str(tmp_path / "no-bwrap-here")
    marker = tmp_path / "ran"
    fake_openai.enqueue(Reply(draft(code=f"open({str(marker)!r}, 'w').write('x')\nprint(6)")))

    challenge = generate(learner)

    assert challenge.verification == "unverified"
    assert not marker.exists()


def test_concept_questions_and_an_absent_kind_are_unverified(fake_openai, learner):
    fake_openai.enqueue(Reply(draft(answer_kind="concept")), Reply(draft(answer_kind="poetry")))
    assert generate(learner).verification == "unverified"
    fake_openai.enqueue(Reply(json.dumps({k: v for k, v in PRINTS_SIX.items() if k != "answer_kind"})))
    assert generate(learner).verification == "unverified"


def test_bank_challenges_are_curated_or_executed_and_retired_content_never_comes_back(learner):
    served = [challenge_generate(user=learner, difficulty="easy", topic="git") for _ in range(3)]
    assert {challenge.verification for challenge in served} <= {"curated", "executed"}
    retired = served[0].source_key
    ContentDecision.objects.create(source_key=retired, outcome="retired", decided_at=served[0].created_at)
    for _ in range(10):
        assert challenge_generate(user=learner, difficulty="easy", topic="git").source_key != retired
