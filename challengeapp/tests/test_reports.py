"""Reports and operators' decisions: report a problem, correct a key once, every learner regraded."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from challengeapp.models import Attempt, Challenge, ContentDecision, Report, ReviewCard, ReviewLog
from challengeapp.services.attempts import attempt_record
from challengeapp.services.identity import dev_session_token_issue
from challengeapp.services.progress import progress_topics
from challengeapp.services.reports import content_low_performers, content_reports
from challengeapp.tests.conftest import make_learner

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

    assert group.source_key == "bank:py-easy-x" and group.reports == 2
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

    response = admin_client.post(
        "/admin/challengeapp/report/decide/",
        {"source_key": "bank:py-easy-x", "decision": "correct", "option": "3"},
    )

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
    admin_client.post(
        "/admin/challengeapp/report/decide/",
        {"source_key": challenge.source_key, "decision": "correct", "option": "3"},
    )
    token = dev_session_token_issue(user_id=learner.username, session_id="sess_h")
    (item,) = Client().get("/api/history", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert item["is_correct"] is True and item["regraded_at"]


def test_a_correction_to_an_option_the_content_lacks_changes_nothing(learner, admin_client):
    challenge = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=challenge, chosen_index=2)
    admin_client.post(
        "/admin/challengeapp/report/decide/",
        {"source_key": challenge.source_key, "decision": "correct", "option": "42"},
    )
    challenge.refresh_from_db()
    assert challenge.options[challenge.correct_index] == "2"
    assert not ContentDecision.objects.exists()
    assert Attempt.objects.get(challenge=challenge).regraded_at is None


def test_dismissing_closes_the_reports_until_a_new_one(learner, other_learner, admin_client):
    mine = serve(learner, order=[0, 1, 2, 3])
    attempt_record(challenge=mine, chosen_index=1)
    post_report(learner, mine.id, {"reason": "unclear"})
    admin_client.post(
        "/admin/challengeapp/report/decide/", {"source_key": mine.source_key, "decision": "dismiss"}
    )
    assert content_reports() == []

    theirs = serve(other_learner, order=[0, 1, 2, 3])
    attempt_record(challenge=theirs, chosen_index=1)
    post_report(other_learner, theirs.id, {"reason": "unclear"})
    assert [group.reports for group in content_reports()] == [1]


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
