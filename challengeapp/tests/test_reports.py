"""Reports and operators' decisions: report a problem, correct a key once, every learner regraded."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from challengeapp.content.reports import content_low_performers, content_reports
from challengeapp.identity import dev_session_token_issue
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.progress import progress_topics
from challengeapp.models import Attempt, Challenge, ContentDecision, Report, ReviewCard, ReviewLog
from challengeapp.tests.conftest import make_learner
from challengeapp.tests.fakes.openai_fixtures import fake_openai
from challengeapp.tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db

OPTIONS = ["1", "2", "3", "4"]  # the content's options; each learner sees them in their own order


def serve(owner, *, order: list[int], key_text: str = "2", source_key: str = "bank:py-easy-x") -> Challenge:
    options = [OPTIONS[i] for i in order]
    return Challenge.objects.create(
        owner=owner,
        difficulty="easy",
        topic="python",
        title="What does this print?",
        question="print(1 + 2)",
        options=options,
        correct_index=options.index(key_text),
        explanation="Addition.",
        provider="bank",
        source_key=source_key,
        verification="curated",
    )


def post_report(user, challenge_id: int, body) -> object:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_report")
    return Client().post(
        f"/api/challenges/{challenge_id}/report",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_learner_reports_and_changes_their_report(learner):
    challenge = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=challenge, chosen_index=2)

    first = post_report(learner, challenge.id, {"reason": "wrong_key", "note": "It prints 3."})
    again = post_report(learner, challenge.id, {"reason": "unclear"})

    assert first.status_code == 201 and again.status_code == 200
    report = Report.objects.get(challenge=challenge)
    assert (report.reason, report.note) == ("unclear", "")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": "boring"},
        {"reason": None},
        {"reason": ["wrong_key"]},
        {"reason": "wrong_key", "note": "x" * 1001},
        {"reason": "wrong_key", "note": 5},
        {"reason": "wrong_key", "note": "a\x00b"},
    ],
)
def test_invalid_reports_are_422_and_store_nothing(learner, body):
    challenge = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=challenge, chosen_index=2)
    response = post_report(learner, challenge.id, body)
    assert response.status_code == 422 and response.json()["detail"]
    assert Report.objects.count() == 0


def test_reports_need_an_answered_challenge_of_ones_own(learner, other_learner):
    mine, theirs = serve(learner, order=[0, 1, 2, 3]), serve(other_learner, order=[3, 2, 1, 0])
    attempt_record(challenge=theirs, chosen_index=0)

    assert post_report(learner, theirs.id, {"reason": "wrong_key"}).status_code == 404
    unanswered = post_report(learner, mine.id, {"reason": "wrong_key"})
    assert unanswered.status_code == 422
    assert Report.objects.count() == 0


def test_reports_are_grouped_by_content_with_their_statistics(learner, other_learner):
    for owner, order, choice in ((learner, [0, 1, 2, 3], 2), (other_learner, [3, 2, 1, 0], 1)):
        challenge = serve(owner, order=order)
        attempt_record(challenge=challenge, chosen_index=choice)  # both picked "3"
        post_report(owner, challenge.id, {"reason": "wrong_key", "note": f"{owner.username}: it prints 3"})

    (group,) = content_reports()

    assert group.source_key == "bank:py-easy-x" and group.reporters == 2
    assert group.reasons == {"wrong_key": 2} and len(group.notes) == 2
    assert (group.answered, group.right) == (2, 0) and group.key_text == "2"


def test_correcting_a_key_regrades_every_learner_and_their_schedules(learner, other_learner, admin_client):
    third = make_learner("user_third")
    answers = {}
    for owner, order, picked_text in (
        (learner, [0, 1, 2, 3], "3"),
        (other_learner, [3, 2, 1, 0], "3"),
        (third, [1, 0, 3, 2], "2"),
    ):
        challenge = serve(owner, order=order)
        attempt_record(challenge=challenge, chosen_index=challenge.options.index(picked_text))
        answers[owner.username] = challenge
    post_report(learner, answers[learner.username].id, {"reason": "wrong_key"})
    assert all(not Attempt.objects.get(challenge=c).is_correct or c.owner == third for c in answers.values())

    response = correct(admin_client, answers[learner.username], "3")

    assert response.status_code == 302
    for username, challenge in answers.items():
        challenge.refresh_from_db()
        attempt = Attempt.objects.get(challenge=challenge)
        assert challenge.options[challenge.correct_index] == "3"
        assert attempt.is_correct is (username != "user_third")
        assert attempt.regraded_at is not None
        first_log = ReviewLog.objects.get(card__challenge=challenge, is_first_answer=True)
        assert first_log.is_correct is attempt.is_correct
        assert first_log.rating == (3 if attempt.is_correct else 1)
    # Progress follows the new grades; the reports are closed by the decision.
    assert progress_topics(user=learner)[0].correct == 1
    assert progress_topics(user=third)[0].correct == 0
    assert ContentDecision.objects.get(source_key="bank:py-easy-x").outcome == "corrected"
    assert content_reports() == []


def test_the_api_history_shows_when_an_answer_was_regraded(learner, admin_client):
    challenge = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=challenge, chosen_index=2)
    correct(admin_client, challenge, "3")
    token = dev_session_token_issue(user_id=learner.username, session_id="sess_h")
    (item,) = Client().get("/api/history", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert item["is_correct"] is True and item["regraded_at"]


def test_a_correction_fixes_every_copy_with_the_option_and_names_those_without(
    learner, other_learner, admin_client
):
    mine = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=mine, chosen_index=2)
    # A copy served before the bank entry's options were edited: it has no "3".
    older = serve(other_learner, order=[0, 1, 2, 3])
    Challenge.objects.filter(pk=older.pk).update(options=["1", "2", "5", "4"])
    attempt_record(challenge=Challenge.objects.get(pk=older.pk), chosen_index=1)

    response = correct(admin_client, mine, "3")

    mine.refresh_from_db()
    older.refresh_from_db()
    assert mine.options[mine.correct_index] == "3" and Attempt.objects.get(challenge=mine).is_correct
    assert older.options[older.correct_index] == "2"
    assert Attempt.objects.get(challenge=older).regraded_at is None
    shown = admin_client.get(response["Location"]).content.decode()
    assert "1 challenge without that option was left as it is" in shown


def test_dismissing_closes_the_reports_until_a_new_one(learner, other_learner, admin_client):
    mine = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=mine, chosen_index=1)
    post_report(learner, mine.id, {"reason": "unclear"})
    decide(admin_client, source_key=mine.source_key, decision="dismiss", example=mine.id)
    assert content_reports() == []

    theirs = serve(other_learner, order=[0, 1, 2, 3])
    attempt_record(challenge=theirs, chosen_index=1)
    post_report(other_learner, theirs.id, {"reason": "unclear"})
    assert [group.reporters for group in content_reports()] == [1]


def test_the_reports_page_lists_content_and_low_performers(learner, admin_client):
    challenge = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=challenge, chosen_index=2)
    post_report(learner, challenge.id, {"reason": "wrong_key", "note": "<script>alert(1)</script>"})
    for n in range(10):
        owner = make_learner(f"user_low_{n}")
        other = serve(owner, order=[0, 1, 2, 3], source_key="bank:hard-one")
        attempt_record(challenge=other, chosen_index=0 if n else 1)  # 1 right of 10

    page = admin_client.get("/admin/challengeapp/report/").content.decode()

    assert "bank:py-easy-x" in page and "&lt;script&gt;" in page and "<script>alert" not in page
    assert [item.source_key for item in content_low_performers()] == ["bank:hard-one"]
    assert "bank:hard-one" in page


def test_learners_cannot_decide(learner):
    challenge = serve(learner, order=[0, 1, 2, 3])
    client = Client()
    client.force_login(get_user_model().objects.create_user("staffless", password="x"))
    response = client.post(
        "/admin/challengeapp/report/decide/", {"source_key": challenge.source_key, "decision": "retire"}
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not ContentDecision.objects.exists()
    assert ReviewCard.objects.count() == 0


# --- Content identity: what the learner sees ------------------------------------------------------

JS_QUESTION = "What does the following code print?"


def model_draft(code: str, options: list[str], correct: int, *, language: str = "javascript") -> str:
    return json.dumps(
        {
            "title": "Coercion",
            "question": JS_QUESTION,
            "code": code,
            "language": language,
            "options": options,
            "correct_index": correct,
            "explanation": "JavaScript coerces the operands of + and - differently.",
        }
    )


def api_generate(user) -> object:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_generate")
    return Client().post(
        "/api/generate-challenge",
        json.dumps({"difficulty": "easy", "topic": "javascript"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def decide(client, **fields) -> object:
    """An operator's decision, confirmed (the page asks first, with what it will touch)."""
    return client.post("/admin/challengeapp/report/decide/", {"confirm": "1", **fields})


def correct(client, challenge: Challenge, option_text: str, **extra) -> object:
    return decide(
        client,
        source_key=challenge.source_key,
        decision="correct",
        example=challenge.id,
        option_index=challenge.options.index(option_text),
        **extra,
    )


def test_content_identity_is_what_the_learner_sees():
    from challengeapp.content.identity import content_key

    base = {
        "question": JS_QUESTION,
        "code": "console.log(1 + '1')",
        "language": "javascript",
        "options": ["11", "2", "NaN", "TypeError"],
    }
    key = content_key(**base)
    # Spacing, case of the question, line endings, option order: the same content.
    assert content_key(**{**base, "question": "  what does the FOLLOWING code print? "}) == key
    assert content_key(**{**base, "code": "console.log(1 + '1')\r\n"}) == key
    assert content_key(**{**base, "options": ["NaN", "TypeError", "2", "11"]}) == key
    # What the learner reads differs: another content.
    assert content_key(**{**base, "code": "console.log(1 - '1')"}) != key
    assert content_key(**{**base, "language": "typescript"}) != key
    assert content_key(**{**base, "options": ["11", "2", "NaN", "undefined"]}) != key
    assert content_key(**{**base, "question": "What does this code log?"}) != key


def test_a_correction_reaches_only_the_snippet_it_was_taken_on(
    learner, other_learner, admin_client, fake_openai
):
    # TypeScript: not run by the sandbox, so no key here is one running the code established (a
    # correction never overrides those) and the operator's correction applies.
    fake_openai.enqueue(
        Reply(model_draft("console.log(1 + '1')", ["11", "2", "NaN", "TypeError"], 0, language="typescript")),
        Reply(model_draft("console.log(1 - '1')", ["0", "11", "NaN", "-1"], 0, language="typescript")),
    )
    assert api_generate(learner).status_code == 201 and api_generate(other_learner).status_code == 201
    mine, theirs = Challenge.objects.get(owner=learner), Challenge.objects.get(owner=other_learner)
    attempt_record(challenge=mine, chosen_index=mine.options.index("11"))
    attempt_record(challenge=theirs, chosen_index=theirs.options.index("0"))
    assert mine.source_key != theirs.source_key

    assert correct(admin_client, mine, "2").status_code == 302

    theirs.refresh_from_db()
    assert theirs.options[theirs.correct_index] == "0"
    answer = Attempt.objects.get(challenge=theirs)
    assert answer.is_correct and answer.regraded_at is None
    assert ReviewLog.objects.get(card__challenge=theirs).rating == 3
    mine.refresh_from_db()
    assert mine.options[mine.correct_index] == "2"


def test_a_different_snippet_phrased_alike_is_neither_a_repeat_nor_retired(
    learner, admin_client, fake_openai
):
    fake_openai.enqueue(
        Reply(model_draft("console.log(1 + '1')", ["11", "2", "NaN", "TypeError"], 0)),
        Reply(model_draft("console.log(1 - '1')", ["0", "11", "NaN", "-1"], 0)),
        Reply(model_draft("console.log('3' * '4')", ["12", "34", "NaN", "TypeError"], 0)),
    )
    assert api_generate(learner).status_code == 201
    first = Challenge.objects.get(owner=learner)
    decide(admin_client, source_key=first.source_key, decision="retire", example=first.id)
    assert ContentDecision.objects.filter(outcome="retired").count() == 1

    assert api_generate(learner).status_code == 201
    assert api_generate(learner).status_code == 201

    # One model call per challenge: neither snippet was taken for a repeat or for retired content.
    assert len(fake_openai.chat_requests) == 3
    assert Challenge.objects.filter(owner=learner).count() == 3


def migration_0008():
    import importlib

    return importlib.import_module("challengeapp.migrations.0008_content_identity_and_decision_record")


def test_the_migration_recomputes_model_content_keys_and_keeps_bank_keys(learner, other_learner):
    from django.apps import apps

    from challengeapp.content.identity import content_key

    old_key = "q:" + "0" * 40  # the old key: the question alone
    stored = []
    for owner, code, options in (
        (learner, "console.log(1 + '1')", ["11", "2", "NaN", "TypeError"]),
        (other_learner, "console.log(1 - '1')", ["0", "11", "NaN", "-1"]),
    ):
        stored.append(
            Challenge.objects.create(
                owner=owner,
                difficulty="easy",
                topic="javascript",
                title="Coercion",
                question=JS_QUESTION,
                code=code,
                code_language="javascript",
                options=options,
                correct_index=0,
                explanation="Coercion.",
                provider="openai",
                source_key=old_key,
            )
        )
    bank = serve(learner, order=[0, 1, 2, 3])
    ContentDecision.objects.create(
        source_key=old_key, outcome="retired", decided_at=stored[0].created_at, decided_by="ops"
    )

    migration_0008().recompute_content_keys(apps, None)

    for challenge in stored:
        challenge.refresh_from_db()
        assert challenge.source_key == content_key(
            question=challenge.question,
            code=challenge.code,
            language=challenge.code_language,
            options=challenge.options,
        )
    assert stored[0].source_key != stored[1].source_key
    bank.refresh_from_db()
    assert bank.source_key == "bank:py-easy-x"
    # The retirement taken on the old, coarse key still covers what it covered, under the new keys.
    assert set(ContentDecision.objects.values_list("source_key", flat=True)) == {
        stored[0].source_key,
        stored[1].source_key,
    }


def executed_challenge(owner, *, key_text: str = "4") -> Challenge:
    options = ["4", "22", "11", "TypeError"]
    return Challenge.objects.create(
        owner=owner,
        difficulty="easy",
        topic="python",
        title="Addition",
        question="What does this print?",
        code="print(2 + 2)",
        code_language="python",
        options=options,
        correct_index=options.index(key_text),
        explanation="2 + 2 is 4.",
        provider="openai",
        source_key="model:executed",
        verification="executed",
    )


def test_a_correction_never_overrides_a_key_that_running_the_code_established(learner, admin_client):
    challenge = executed_challenge(learner)
    attempt_record(challenge=challenge, chosen_index=challenge.options.index("4"))

    asked = admin_client.post(
        "/admin/challengeapp/report/decide/",
        {
            "source_key": challenge.source_key,
            "decision": "correct",
            "example": challenge.id,
            "option_index": 2,
        },
    )
    page = asked.content.decode()
    assert asked.status_code == 200 and "CodeDrill ran this code" in page and "4" in page
    response = correct(admin_client, challenge, "11")

    challenge.refresh_from_db()
    assert challenge.options[challenge.correct_index] == "4"
    assert Attempt.objects.get(challenge=challenge).is_correct
    assert not ContentDecision.objects.filter(outcome="corrected").exists()
    shown = admin_client.get(response["Location"]).content.decode()
    assert "running its code" in shown


def test_the_operator_is_told_what_a_decision_touches_before_it_is_taken(
    learner, other_learner, admin_client
):
    challenges = []
    for owner, order, picked in ((learner, [0, 1, 2, 3], "3"), (other_learner, [3, 2, 1, 0], "2")):
        challenge = serve(owner, order=order)
        attempt_record(challenge=challenge, chosen_index=challenge.options.index(picked))
        challenges.append(challenge)
    serve(learner, order=[1, 0, 2, 3])  # a repeat, not answered yet
    post_report(learner, challenges[0].id, {"reason": "wrong_key"})

    listing = admin_client.get("/admin/challengeapp/report/").content.decode()
    assert "3 challenges of 2 learners" in listing

    asked = admin_client.post(
        "/admin/challengeapp/report/decide/",
        {
            "source_key": "bank:py-easy-x",
            "decision": "correct",
            "example": challenges[0].id,
            "option_index": challenges[0].options.index("3"),
        },
    )
    page = asked.content.decode()
    assert asked.status_code == 200
    assert "3 challenges of 2 learners" in page and "2 answers graded again" in page
    assert "2 answers change grade" in page
    # Nothing is decided until the operator confirms.
    assert not ContentDecision.objects.exists()
    assert all(not Attempt.objects.get(challenge=c).regraded_at for c in challenges)

    retire = admin_client.post(
        "/admin/challengeapp/report/decide/",
        {"source_key": "bank:py-easy-x", "decision": "retire", "example": challenges[0].id},
    )
    assert retire.status_code == 200 and "3 challenges of 2 learners" in retire.content.decode()
    dismiss = admin_client.post(
        "/admin/challengeapp/report/decide/",
        {"source_key": "bank:py-easy-x", "decision": "dismiss", "example": challenges[0].id},
    )
    assert (
        dismiss.status_code == 200 and "the open reports of 1 learner are closed" in dismiss.content.decode()
    )
    assert not ContentDecision.objects.exists()


# --- Decisions: a standing record ------------------------------------------------------------------


def test_a_dismissal_never_replaces_a_correction(learner, other_learner, admin_client):
    from challengeapp.content.reports import content_decisions

    mine = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=mine, chosen_index=2)
    correct(admin_client, mine, "3")
    theirs = serve(other_learner, order=[0, 1, 2, 3], key_text="3")
    attempt_record(challenge=theirs, chosen_index=1)
    post_report(other_learner, theirs.id, {"reason": "unclear"})

    decide(admin_client, source_key=mine.source_key, decision="dismiss", example=theirs.id)

    assert content_decisions().corrected == {"bank:py-easy-x": "3"}
    assert content_reports() == []
    record = list(ContentDecision.objects.order_by("id").values_list("outcome", "decided_by"))
    assert record == [("corrected", "admin"), ("dismissed", "admin")]
    correction = ContentDecision.objects.get(outcome="corrected")
    assert (correction.corrected_option, correction.answers_regraded) == ("3", 1)


def test_a_retirement_stands_until_an_operator_reverses_it(learner, admin_client):
    from challengeapp.content.reports import content_decisions

    challenge = serve(learner, order=[0, 1, 2, 3])
    decide(admin_client, source_key=challenge.source_key, decision="retire", example=challenge.id)
    decide(admin_client, source_key=challenge.source_key, decision="dismiss", example=challenge.id)
    assert content_decisions().retired == frozenset({"bank:py-easy-x"})

    retirement = ContentDecision.objects.get(outcome="retired")
    record = admin_client.get("/admin/challengeapp/contentdecision/").content.decode()
    assert f"/admin/challengeapp/contentdecision/{retirement.pk}/reverse/" in record
    asked = admin_client.get(f"/admin/challengeapp/contentdecision/{retirement.pk}/reverse/")
    assert asked.status_code == 200 and "1 challenge of 1 learner" in asked.content.decode()
    assert content_decisions().retired == frozenset({"bank:py-easy-x"})
    admin_client.post(f"/admin/challengeapp/contentdecision/{retirement.pk}/reverse/", {"confirm": "1"})

    assert content_decisions().retired == frozenset()
    assert ContentDecision.objects.count() == 3  # retired, dismissed, and the reversal: all kept
    assert ContentDecision.objects.get(outcome="reversed").reverses == retirement
    record = admin_client.get("/admin/challengeapp/contentdecision/").content.decode()
    assert f"/admin/challengeapp/contentdecision/{retirement.pk}/reverse/" not in record


def test_reversing_a_correction_restores_the_key_before_it_and_regrades(learner, admin_client):
    from challengeapp.content.reports import content_decisions

    challenge = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=challenge, chosen_index=1)  # "2", the original key: right
    correct(admin_client, challenge, "3")
    assert not Attempt.objects.get(challenge=challenge).is_correct
    correction = ContentDecision.objects.get(outcome="corrected")

    admin_client.post(f"/admin/challengeapp/contentdecision/{correction.pk}/reverse/", {"confirm": "1"})

    challenge.refresh_from_db()
    assert challenge.options[challenge.correct_index] == "2"
    assert Attempt.objects.get(challenge=challenge).is_correct
    assert content_decisions().corrected == {}
    reversal = ContentDecision.objects.get(outcome="reversed")
    assert (reversal.reverses, reversal.answers_regraded) == (correction, 1)


# --- The correction tool: by option index ----------------------------------------------------------


def test_options_that_span_lines_are_corrected_by_their_index(learner, admin_client):
    import re

    options = ["1\n2", "2\n1", "1", "2"]
    challenge = Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="python",
        title="Two prints",
        question="What does this print?",
        code="print(1)\nprint(2)",
        code_language="python",
        options=options,
        correct_index=1,
        explanation="One line each, in order.",
        provider="bank",
        source_key="bank:two-prints",
        verification="curated",
    )
    attempt_record(challenge=challenge, chosen_index=0)
    post_report(learner, challenge.id, {"reason": "wrong_key"})
    page = admin_client.get("/admin/challengeapp/report/").content.decode()
    form = page[page.index('data-source-key="bank:two-prints"') :]
    fields = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form[: form.index("</form>")])
    )
    select = form[form.index("<select") : form.index("</select>")]
    # What a browser sends for the first option: its value, with line breaks as CRLF.
    value = re.findall(r'<option value="([^"]*)"', select)[0].replace("\n", "\r\n")

    response = admin_client.post(
        "/admin/challengeapp/report/decide/",
        {**fields, "option_index": value, "decision": "correct", "confirm": "1"},
    )

    assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.options[challenge.correct_index] == "1\n2"
    assert Attempt.objects.get(challenge=challenge).is_correct


@pytest.mark.parametrize(
    "fields",
    [
        {"decision": "correct", "option_index": "7"},
        {"decision": "correct", "option_index": "-1"},
        {"decision": "correct", "option_index": "x"},
        {"decision": "correct"},
        {"decision": "correct", "option_index": "1", "example": "999999"},
        {"decision": "correct", "option_index": "1", "example": "abc"},
        {"decision": "correct", "option_index": "1", "source_key": "bank:other"},
        {"decision": "explode", "option_index": "1"},
    ],
)
def test_a_malformed_decision_changes_nothing(learner, admin_client, fields):
    challenge = serve(learner, order=[0, 1, 2, 3])
    serve(learner, order=[0, 1, 2, 3], source_key="bank:other")
    attempt_record(challenge=challenge, chosen_index=2)
    body = {"source_key": challenge.source_key, "example": challenge.id, "confirm": "1", **fields}
    response = admin_client.post("/admin/challengeapp/report/decide/", body)
    assert response.status_code in (200, 302)
    challenge.refresh_from_db()
    assert challenge.options[challenge.correct_index] == "2"
    assert not ContentDecision.objects.exists()
    assert Attempt.objects.get(challenge=challenge).regraded_at is None


def test_reversing_an_unknown_or_reversed_decision_changes_nothing(learner, admin_client):
    challenge = serve(learner, order=[0, 1, 2, 3])
    decide(admin_client, source_key=challenge.source_key, decision="retire", example=challenge.id)
    retirement = ContentDecision.objects.get()
    url = f"/admin/challengeapp/contentdecision/{retirement.pk}/reverse/"
    admin_client.post(url, {"confirm": "1"})
    again = admin_client.post(url, {"confirm": "1"})
    assert again.status_code in (200, 302)
    assert admin_client.get("/admin/challengeapp/contentdecision/999999/reverse/").status_code in (302, 404)
    assert ContentDecision.objects.filter(outcome="reversed").count() == 1


def test_an_answer_racing_a_correction_is_graded_against_the_key_stored_when_it_is_written(
    learner, admin_client
):
    challenge = serve(learner, order=[0, 1, 2, 3])
    seen_by_the_answer = Challenge.objects.get(pk=challenge.pk)  # loaded before the correction
    correct(admin_client, challenge, "3")

    attempt, _ = attempt_record(
        challenge=seen_by_the_answer, chosen_index=seen_by_the_answer.options.index("3")
    )

    assert attempt.is_correct
    assert ReviewLog.objects.get(card__challenge=challenge).is_correct
    assert seen_by_the_answer.options[seen_by_the_answer.correct_index] == "3"


# --- Reports count learners; one open report per learner per content; a daily cap ------------------


def test_reports_count_learners_not_rows(learner, other_learner):
    for _ in range(9):  # nine servings of one bank entry, each answered and reported
        repeat = serve(learner, order=[0, 1, 2, 3])
        attempt_record(challenge=repeat, chosen_index=2)
        post_report(learner, repeat.id, {"reason": "wrong_key", "note": "It prints 3."})

    (group,) = content_reports()
    assert group.reporters == 1 and Report.objects.count() == 1
    assert group.reasons == {"wrong_key": 1}

    theirs = serve(other_learner, order=[0, 1, 2, 3])
    attempt_record(challenge=theirs, chosen_index=2)
    post_report(other_learner, theirs.id, {"reason": "unclear"})
    (group,) = content_reports()
    assert group.reporters == 2 and group.reasons == {"wrong_key": 1, "unclear": 1}


def test_one_open_report_per_learner_per_content_changed_by_reporting_again(learner, admin_client):
    first = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=first, chosen_index=2)
    assert post_report(learner, first.id, {"reason": "wrong_key"}).status_code == 201
    second = serve(learner, order=[3, 2, 1, 0])
    attempt_record(challenge=second, chosen_index=0)

    again = post_report(learner, second.id, {"reason": "unclear", "note": "Still odd."})

    assert again.status_code == 200
    report = Report.objects.get()
    assert (report.reason, report.note) == ("unclear", "Still odd.")
    # Once the operator has decided, a new report on the content is a new report.
    decide(admin_client, source_key=first.source_key, decision="dismiss", example=first.id)
    assert post_report(learner, second.id, {"reason": "other"}).status_code == 201
    assert Report.objects.count() == 2


def test_reports_have_a_daily_cap_per_learner(learner, learner_client, settings):
    settings.REPORTS_PER_LEARNER_PER_DAY = 2
    challenges = []
    for n in range(3):
        challenge = serve(learner, order=[0, 1, 2, 3], source_key=f"bank:cap-{n}")
        attempt_record(challenge=challenge, chosen_index=2)
        challenges.append(challenge)
    assert post_report(learner, challenges[0].id, {"reason": "wrong_key"}).status_code == 201
    assert post_report(learner, challenges[1].id, {"reason": "wrong_key"}).status_code == 201
    # Changing a report already sent is not a new one.
    assert post_report(learner, challenges[0].id, {"reason": "unclear"}).status_code == 200

    refused = post_report(learner, challenges[2].id, {"reason": "wrong_key"})

    assert refused.status_code == 429
    assert refused.json()["detail"] == "You can send at most 2 reports a day. Thank you: try again tomorrow."
    assert Report.objects.count() == 2
    url = f"/challenges/{challenges[2].id}/report/"
    plain = learner_client.post(url, {"reason": "wrong_key"})
    assert plain.status_code == 429 and "at most 2 reports a day" in plain.content.decode()
    swapped = learner_client.post(url, {"reason": "wrong_key"}, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200 and "at most 2 reports a day" in swapped.content.decode()
    assert 'id="report-problem"' in swapped.content.decode()
    assert Report.objects.count() == 2
