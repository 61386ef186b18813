"""The learning loop's rules (issue 18), as a learner on the pages and an API client see them:
idempotent review answers, the queue (misses first, due by the learner's day, a daily limit and
goal, a forecast), confidence on first answers, leeches, one card per piece of content, mastery
from current recall, and the retention chart."""

from __future__ import annotations

import datetime as dt
import json
import re
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from challengeapp.identity import dev_session_token_issue
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.progress import LEARNING, PROFICIENT, progress_topics
from challengeapp.learning.review import review_answer, review_next, review_options
from challengeapp.models import (
    Attempt,
    Challenge,
    ProgressCount,
    ReviewCard,
    ReviewLog,
    ReviewRating,
    ReviewState,
)

pytestmark = pytest.mark.django_db
_serial = iter(range(1_000_000))
OPTIONS = ["3", "4", "22", "an error"]


def bearer(user) -> dict[str, str]:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_loop")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(user, path: str, data) -> object:
    return Client().post(path, json.dumps(data), content_type="application/json", **bearer(user))


def get(user, path: str) -> object:
    return Client().get(path, **bearer(user))


def make_challenge(
    owner, *, source_key: str | None = None, options=None, correct_index=1, **fields
) -> Challenge:
    n = next(_serial)
    values = {
        "difficulty": "easy",
        "topic": "python",
        "title": f"Challenge {n}",
        "question": "What does this print?",
        "code": "print(2 + 2)",
        "code_language": "python",
        "options": options or OPTIONS,
        "correct_index": correct_index,
        "explanation": "2 + 2 is 4.",
        "provider": "bank",
        "source_key": source_key or f"bank:loop:{n}",
        **fields,
    }
    return Challenge.objects.create(owner=owner, **values)


def answered(owner, *, right: bool = True, confidence: str = "", **fields) -> Challenge:
    challenge = make_challenge(owner, **fields)
    attempt_record(
        challenge=challenge,
        chosen_index=challenge.correct_index if right else (challenge.correct_index + 1) % 4,
        confidence=confidence,
    )
    return challenge


def item_of(user, challenge_id: int) -> dict:
    items = get(user, "/api/review?limit=500").json()["items"]
    return next(item for item in items if item["challenge_id"] == challenge_id)


def position(item: dict, challenge: Challenge, *, right: bool) -> int:
    correct = item["options"].index(challenge.options[challenge.correct_index])
    return correct if right else (correct + 1) % 4


def card_row(challenge: Challenge) -> dict:
    return ReviewCard.objects.filter(challenge=challenge).values().get()


def make_due(challenge: Challenge) -> None:
    ReviewCard.objects.filter(challenge=challenge).update(due_at=timezone.now() - dt.timedelta(minutes=1))


# --- Idempotent review answers -------------------------------------------------------------------


def test_an_api_answer_sent_twice_gets_the_first_result_and_changes_nothing(learner):
    challenge = answered(learner)
    make_due(challenge)
    item = item_of(learner, challenge.id)
    body = {"answer_id": position(item, challenge, right=True), "review_number": item["review_number"]}

    first = post(learner, f"/api/review/{challenge.id}/answer", body)
    after_first = card_row(challenge)
    again = post(learner, f"/api/review/{challenge.id}/answer", body)

    assert first.status_code == again.status_code == 200
    assert first.json()["replayed"] is False and again.json()["replayed"] is True
    assert {k: v for k, v in again.json().items() if k != "replayed"} == {
        k: v for k, v in first.json().items() if k != "replayed"
    }
    assert again.json()["correct"] is True
    assert card_row(challenge) == after_first
    assert ReviewLog.objects.filter(card__challenge=challenge, is_first_answer=False).count() == 1


def test_a_retry_without_a_review_number_is_not_graded_again(learner):
    """A client that sends no review number, retrying a request: the same answer seconds later,
    while the card waits for its next step, is the same submission."""
    for _ in range(8):  # a wrong grade against a fresh order would show within a few of these
        challenge = answered(learner)
        make_due(challenge)
        item = item_of(learner, challenge.id)
        body = {"answer_id": position(item, challenge, right=True)}
        first = post(learner, f"/api/review/{challenge.id}/answer", body).json()
        after_first = card_row(challenge)
        again = post(learner, f"/api/review/{challenge.id}/answer", body).json()
        assert again["replayed"] is True and again["correct"] is True
        assert again["correct_answer_id"] == first["correct_answer_id"]
        assert card_row(challenge) == after_first


def test_another_answer_to_a_review_answered_already_is_a_409_and_changes_nothing(learner):
    challenge = answered(learner)
    make_due(challenge)
    item = item_of(learner, challenge.id)
    right = position(item, challenge, right=True)
    post(
        learner,
        f"/api/review/{challenge.id}/answer",
        {"answer_id": right, "review_number": item["review_number"]},
    )
    after_first = card_row(challenge)

    for body in (
        {"answer_id": (right + 1) % 4, "review_number": item["review_number"]},
        {"answer_id": right, "review_number": item["review_number"], "confidence": "knew"},
        {"answer_id": right, "review_number": item["review_number"] + 5},  # a review not shown yet
    ):
        response = post(learner, f"/api/review/{challenge.id}/answer", body)
        assert response.status_code == 409 and response.json()["detail"]
    assert card_row(challenge) == after_first


@pytest.mark.parametrize("review_number", [0, -1, "1", 1.5, True, [1], 10**10])
def test_a_malformed_review_number_is_a_422_and_changes_nothing(learner, review_number):
    challenge = answered(learner)
    before = card_row(challenge)
    response = post(
        learner, f"/api/review/{challenge.id}/answer", {"answer_id": 1, "review_number": review_number}
    )
    assert response.status_code == 422 and "review_number" in response.json()["detail"]
    assert card_row(challenge) == before


def test_a_page_double_submit_and_the_api_agree_on_one_grade(learner, learner_client):
    challenge = answered(learner)
    make_due(challenge)
    card = ReviewCard.objects.select_related("challenge").get(challenge=challenge)
    right = review_options(card).index(challenge.options[challenge.correct_index])
    form = {"position": str(right), "confidence": "", "expected_reviews": str(card.reviews)}

    assert learner_client.post(f"/review/{challenge.id}/answer/", form).status_code == 302
    # The same review, answered again through the API with its number: the page's result.
    replay = post(
        learner, f"/api/review/{challenge.id}/answer", {"answer_id": right, "review_number": card.reviews + 1}
    ).json()
    assert replay["replayed"] is True and replay["correct"] is True
    assert ReviewLog.objects.filter(card__challenge=challenge, is_first_answer=False).count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_duplicates_grade_a_card_once(learner):
    """Two identical answers at once (two workers): one grade, and both get it."""
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        # The tests' shared in-memory SQLite database locks whole tables against a second
        # connection ("database table is locked") instead of waiting; CI runs this on PostgreSQL.
        pytest.skip("needs a database that lets two connections wait for each other")

    challenge = answered(learner)
    make_due(challenge)
    card = ReviewCard.objects.select_related("challenge").get(challenge=challenge)
    right = review_options(card).index(challenge.options[challenge.correct_index])
    results, barrier = [], threading.Barrier(2)

    def answer():
        try:
            barrier.wait()
            outcome = review_answer(
                user=learner, challenge_id=challenge.id, position=right, review_number=card.reviews + 1
            )
            results.append((outcome.is_correct, outcome.log.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2 and results[0] == results[1] and results[0][0] is True
    assert ReviewLog.objects.filter(card__challenge=challenge, is_first_answer=False).count() == 1
    assert ReviewCard.objects.get(challenge=challenge).reviews == 1


# --- The queue ------------------------------------------------------------------------------------


def test_todays_misses_come_first_then_the_oldest_due(learner):
    backlog = [answered(learner) for _ in range(3)]
    for days, challenge in zip((5, 3, 1), backlog, strict=True):
        ReviewCard.objects.filter(challenge=challenge).update(
            state=ReviewState.REVIEW, due_at=timezone.now() - dt.timedelta(days=days)
        )
    missed = answered(learner)
    make_due(missed)
    # Missed on a review a moment ago: past its step, it comes before the whole backlog.
    item = item_of(learner, missed.id)
    post(learner, f"/api/review/{missed.id}/answer", {"answer_id": position(item, missed, right=False)})
    ReviewCard.objects.filter(challenge=missed).update(due_at=timezone.now() - dt.timedelta(seconds=1))

    order = [item["challenge_id"] for item in get(learner, "/api/review").json()["items"]]
    assert order == [missed.id, *(challenge.id for challenge in backlog)]
    assert review_next(user=learner).challenge_id == missed.id


def test_a_miss_is_due_again_the_same_session_even_before_its_step(learner, learner_client):
    missed = answered(learner, right=False)
    card = ReviewCard.objects.get(challenge=missed)
    assert card.due_at > timezone.now()  # its learning step is a minute away
    assert item_of(learner, missed.id)["is_due"] is True
    assert get(learner, "/api/review").json()["due_now"] == 1
    assert "data-answer-form" in learner_client.get("/review/").content.decode()


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_a_review_is_due_all_day_in_the_learners_calendar_across_a_clock_change(learner, settings, zone):
    settings.TIME_ZONE = zone
    tz = ZoneInfo(zone)
    # The night the clocks go back (New York 1 November 2026, Berlin 25 October 2026).
    day = dt.date(2026, 11, 1) if zone == "America/New_York" else dt.date(2026, 10, 25)
    morning = dt.datetime.combine(day, dt.time(8), tzinfo=tz)
    late_evening = dt.datetime.combine(day, dt.time(23, 30), tzinfo=tz)
    before_midnight = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(23, 59), tzinfo=tz)
    challenge = answered(learner)
    ReviewCard.objects.filter(challenge=challenge).update(state=ReviewState.REVIEW, due_at=late_evening)

    with mock.patch("django.utils.timezone.now", return_value=morning):
        assert review_next(user=learner, now=morning).challenge_id == challenge.id
        assert item_of(learner, challenge.id)["is_due"] is True
    assert review_next(user=learner, now=before_midnight) is None
    assert review_next(user=learner, now=late_evening + dt.timedelta(minutes=29)).challenge_id == challenge.id


def test_past_the_daily_limit_only_misses_are_served(learner, settings, learner_client):
    settings.REVIEW_DAILY_LIMIT = 2
    cards = [answered(learner) for _ in range(4)]
    for challenge in cards:
        make_due(challenge)
    for challenge in cards[:2]:
        item = item_of(learner, challenge.id)
        post(
            learner,
            f"/api/review/{challenge.id}/answer",
            {"answer_id": position(item, challenge, right=challenge is cards[0]), "review_number": 1},
        )
    # Two reviews today: the limit. The miss (cards[1]) still comes back; cards[2:] wait.
    assert review_next(user=learner).challenge_id == cards[1].id
    assert get(learner, "/api/review").json()["due_now"] == 1
    html = learner_client.get("/review/").content.decode()
    assert "2 of 2 reviews: the daily limit is reached" in html


def test_the_daily_goal_and_the_forecast_are_on_the_pages_and_the_api(learner, learner_client, settings):
    settings.REVIEW_DAILY_GOAL = 3
    first = answered(learner)
    second = answered(learner)
    ReviewCard.objects.filter(challenge=first).update(
        state=ReviewState.REVIEW, due_at=timezone.now() + dt.timedelta(days=2)
    )
    # Due now, not at the end of its ten-minute step, which falls tomorrow late in the evening.
    ReviewCard.objects.filter(challenge=second).update(due_at=timezone.now())
    forecast = get(learner, "/api/review").json()["forecast"]
    assert len(forecast) == 7 and forecast[0]["date"] == timezone.localdate().isoformat()
    assert [day["due"] for day in forecast] == [1, 0, 1, 0, 0, 0, 0]
    progress = learner_client.get("/progress/").content.decode()
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="number">(\d+)</td></tr>', progress)
    assert [count for _, count in rows] == ["1", "0", "1", "0", "0", "0", "0"] and rows[0][0] == "Today"
    assert "Today: 2 of your daily goal of 3 answers and reviews." in progress
    assert "Today: 2 of your goal of 3 answers" in learner_client.get("/review/").content.decode()


# --- Confidence -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "right", "rating"),
    [
        ("knew", True, ReviewRating.EASY),
        ("guessed", True, ReviewRating.AGAIN),
        ("", True, ReviewRating.GOOD),
        ("knew", False, ReviewRating.AGAIN),
    ],
)
def test_a_first_answer_can_say_i_knew_it_or_i_guessed(learner, learner_client, confidence, right, rating):
    api_challenge, page_challenge = make_challenge(learner), make_challenge(learner)
    choice = 1 if right else 2
    response = post(
        learner, f"/api/challenges/{api_challenge.id}/answer", {"answer_id": choice, "confidence": confidence}
    )
    assert response.status_code == 200 and response.json()["correct"] is right
    page = learner_client.post(
        f"/challenges/{page_challenge.id}/answer/", {"choice": str(choice), "confidence": confidence}
    )
    assert page.status_code == 302
    for challenge in (api_challenge, page_challenge):
        assert ReviewLog.objects.get(card__challenge=challenge).rating == rating


def test_knowing_it_on_a_first_answer_skips_the_learning_steps(learner):
    knew, plain = answered(learner, confidence="knew"), answered(learner)
    assert ReviewCard.objects.get(challenge=knew).due_at - timezone.now() > dt.timedelta(days=1)
    assert ReviewCard.objects.get(challenge=plain).due_at - timezone.now() < dt.timedelta(hours=1)


def test_a_guessed_right_answer_comes_back_like_a_miss_and_is_not_recalled(learner):
    guessed = answered(learner, confidence="guessed")
    assert item_of(learner, guessed.id)["is_due"] is True
    assert [(g.correct, g.recalled) for g in progress_topics(user=learner)] == [(1, 0)]


@pytest.mark.parametrize("confidence", ["sure", 1, ["knew"]])
def test_a_first_answer_with_an_unknown_confidence_is_refused_and_stores_nothing(
    learner, learner_client, confidence
):
    challenge = make_challenge(learner)
    response = post(
        learner, f"/api/challenges/{challenge.id}/answer", {"answer_id": 1, "confidence": confidence}
    )
    assert response.status_code == 422
    page = learner_client.post(
        f"/challenges/{challenge.id}/answer/", {"choice": "1", "confidence": str(confidence)}
    )
    assert page.status_code == 400
    assert not Attempt.objects.filter(challenge=challenge).exists()


# --- Leeches --------------------------------------------------------------------------------------


def miss(learner, challenge: Challenge) -> None:
    item = item_of(learner, challenge.id)
    response = post(
        learner,
        f"/api/review/{challenge.id}/answer",
        {"answer_id": position(item, challenge, right=False), "review_number": item["review_number"]},
    )
    assert response.status_code == 200


def test_a_card_missed_four_times_is_a_leech_that_can_be_suspended_resumed_and_reset(learner, learner_client):
    leech = answered(learner, right=False)  # one miss
    for _ in range(3):
        miss(learner, leech)
    assert item_of(learner, leech.id)["is_leech"] is True
    progress = learner_client.get("/progress/").content.decode()
    assert f'data-leech-card="{leech.id}"' in progress and "missed 4 times" in progress
    assert "A leech: missed 4 times." in learner_client.get("/review/").content.decode()

    # Suspend (the page's form, no JavaScript): not served, not due, answers refused.
    response = learner_client.post(f"/review/{leech.id}/leech/", {"action": "suspend"})
    assert response.status_code == 302 and response["Location"].endswith("#leeches")
    assert review_next(user=learner) is None
    assert all(item["challenge_id"] != leech.id for item in get(learner, "/api/review").json()["items"])
    refused = post(learner, f"/api/review/{leech.id}/answer", {"answer_id": 0})
    assert refused.status_code == 409
    assert "suspended" in learner_client.get(response["Location"]).content.decode()

    # Resume through the API, then reset: a new card, due now, its history kept.
    assert post(learner, f"/api/review/{leech.id}/leech", {"action": "resume"}).json()["suspended"] is False
    reset = post(learner, f"/api/review/{leech.id}/leech", {"action": "reset"})
    assert reset.status_code == 200 and reset.json()["misses"] == 0
    assert (
        item_of(learner, leech.id)["is_leech"] is False and review_next(user=learner).challenge_id == leech.id
    )
    assert ReviewLog.objects.filter(card__challenge=leech).count() == 4


@pytest.mark.parametrize("body", [{}, {"action": "delete"}, {"action": 1}, {"action": None}])
def test_a_bad_leech_action_is_refused_and_changes_nothing(learner, learner_client, body):
    challenge = answered(learner, right=False)
    before = card_row(challenge)
    assert post(learner, f"/api/review/{challenge.id}/leech", body).status_code == 422
    form = {name: value for name, value in body.items() if value is not None}
    assert learner_client.post(f"/review/{challenge.id}/leech/", form).status_code == 400
    assert card_row(challenge) == before


def test_nobody_manages_another_learners_cards(learner, other_learner, learner_client):
    theirs = answered(other_learner, right=False)
    before = card_row(theirs)
    assert post(learner, f"/api/review/{theirs.id}/leech", {"action": "suspend"}).status_code == 404
    assert learner_client.post(f"/review/{theirs.id}/leech/", {"action": "reset"}).status_code == 404
    assert (
        post(learner, f"/api/review/{theirs.id}/answer", {"answer_id": 0, "review_number": 1}).status_code
        == 404
    )
    assert post(learner, "/api/review/999999/leech", {"action": "suspend"}).status_code == 404
    assert card_row(theirs) == before


# --- One card per piece of content ---------------------------------------------------------------


def test_a_repeat_of_content_joins_its_card_and_is_not_a_second_first_answer(learner, learner_client):
    first = answered(learner, right=False)
    # The same content served again (the bank's repeat), its options in another order.
    repeat = make_challenge(learner, source_key=first.source_key, options=[OPTIONS[i] for i in (3, 1, 0, 2)])
    ReviewCard.objects.filter(challenge=first).update(due_at=timezone.now() + dt.timedelta(days=3))
    response = post(learner, f"/api/challenges/{repeat.id}/answer", {"answer_id": 1})
    assert response.status_code == 200 and response.json()["correct"] is True

    assert ReviewCard.objects.filter(owner=learner).count() == 1
    card = ReviewCard.objects.get(owner=learner)
    logs = list(
        card.logs.order_by("review_number").values_list("review_number", "is_first_answer", "is_correct")
    )
    assert logs == [(0, True, False), (1, False, True)]
    # The option picked on the repeat is stored as the card's own option.
    assert first.options[card.logs.get(review_number=1).chosen_index] == "4"
    assert Attempt.objects.get(challenge=repeat).is_repeat
    group = progress_topics(user=learner)[0]
    assert (group.answered, group.correct, group.cards, group.recalled) == (1, 0, 1, 1)
    # Either serving's id reaches the one card.
    assert item_of(learner, first.id)["review_number"] == 2
    again = post(learner, f"/api/review/{repeat.id}/answer", {"answer_id": 0, "review_number": 2})
    assert again.status_code == 200
    assert ReviewCard.objects.get(owner=learner).reviews == 2


def test_a_repeat_through_the_bank_generator_joins_the_card(learner, learner_client, settings):
    """The built-in bank has eight challenges per level and topic: the ninth is a repeat."""
    for _ in range(10):
        response = learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "git"})
        challenge = Challenge.objects.filter(owner=learner).order_by("-id").first()
        learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": str(challenge.correct_index)})
        assert response.status_code == 302
    keys = set(Challenge.objects.filter(owner=learner).values_list("source_key", flat=True))
    assert ReviewCard.objects.filter(owner=learner).count() == len(keys) < 10
    assert ProgressCount.objects.get(owner=learner).answered == len(keys)


# --- Mastery from current recall -----------------------------------------------------------------


def test_mastery_reads_the_latest_answer_not_the_first(learner):
    challenges = [answered(learner, right=False) for _ in range(3)]
    assert progress_topics(user=learner)[0].mastery == LEARNING
    for challenge in challenges:
        item = item_of(learner, challenge.id)
        post(
            learner,
            f"/api/review/{challenge.id}/answer",
            {"answer_id": position(item, challenge, right=True), "review_number": item["review_number"]},
        )
    group = progress_topics(user=learner)[0]
    assert (group.answered, group.correct, group.recalled, group.mastery) == (3, 0, 3, PROFICIENT)
    assert get(learner, "/api/progress").json()["topics"][0]["recalled"] == 3


# --- Retention chart ------------------------------------------------------------------------------


def test_the_retention_chart_shows_each_week_against_the_target_without_javascript(learner, learner_client):
    challenges = [answered(learner) for _ in range(5)]
    for n, challenge in enumerate(challenges):
        ReviewCard.objects.filter(challenge=challenge).update(
            last_review_at=timezone.now() - dt.timedelta(days=3), due_at=timezone.now()
        )
        item = item_of(learner, challenge.id)
        body = {"answer_id": position(item, challenge, right=n < 4), "review_number": item["review_number"]}
        if n == 3:
            body["confidence"] = "guessed"  # right, but not recalled
        post(learner, f"/api/review/{challenge.id}/answer", body)
    # A same-day review does not count: retention is over days.
    same_day = answered(learner)
    make_due(same_day)
    item = item_of(learner, same_day.id)
    post(learner, f"/api/review/{same_day.id}/answer", {"answer_id": position(item, same_day, right=True)})

    html = learner_client.get("/progress/").content.decode()
    this_week = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    row = re.search(
        r'<tr><th scope="row">' + this_week.strftime("%-d %b") + r'</th><td class="number">(\d+)</td>'
        r'<td class="number">(\d+)</td><td class="number">(\d+) %</td><td>([^<]+)</td></tr>',
        html,
    )
    assert row and row.groups() == ("5", "3", "60", "below target")
    assert '<svg class="retention-chart"' in html and "<title>Week of" in html
    assert "3 of 5 recalled (60 %)" in html and "against the 90 %" in html
    weeks = get(learner, "/api/progress").json()["retention"]
    assert weeks[-1] == {"week": this_week.isoformat(), "reviews": 5, "recalled": 3}


def test_the_forecast_and_the_retention_weeks_follow_the_calendar_across_a_clock_change(learner, settings):
    from challengeapp.learning.progress import progress_retention
    from challengeapp.learning.review import review_forecast

    settings.TIME_ZONE = "Europe/Berlin"  # clocks go forward at 02:00 on Sunday 29 March 2026
    zone = ZoneInfo("Europe/Berlin")

    def at(*parts) -> dt.datetime:
        return dt.datetime(*parts, tzinfo=zone)

    dues = [
        at(2026, 3, 20, 9, 0),  # overdue: counted today
        at(2026, 3, 29, 0, 30),  # Sunday, before the change
        at(2026, 3, 29, 3, 30),  # Sunday, after it
        at(2026, 3, 30, 0, 10),  # Monday, just after midnight
        at(2026, 4, 2, 23, 59),  # the seventh day's last minute
        at(2026, 4, 3, 0, 1),  # past the forecast
    ]
    for due in dues:
        ReviewCard.objects.filter(challenge=answered(learner)).update(due_at=due)
    forecast = review_forecast(user=learner, now=at(2026, 3, 27, 12, 0))
    assert forecast == [
        (dt.date(2026, 3, 27), 1),
        (dt.date(2026, 3, 28), 0),
        (dt.date(2026, 3, 29), 2),
        (dt.date(2026, 3, 30), 1),
        (dt.date(2026, 3, 31), 0),
        (dt.date(2026, 4, 1), 0),
        (dt.date(2026, 4, 2), 1),
    ]

    card = ReviewCard.objects.filter(owner=learner).first()
    for number, (moment, right) in enumerate(
        [
            (at(2026, 3, 23, 0, 0, 30), True),  # Monday of the week before
            (at(2026, 3, 29, 23, 50), False),  # its Sunday, after the clock change
            (at(2026, 3, 30, 0, 10), True),  # this week's Monday
        ],
        start=9,
    ):
        ReviewLog.objects.create(
            card=card,
            owner=learner,
            is_first_answer=False,
            review_number=number,
            chosen_index=0,
            is_correct=right,
            rating=ReviewRating.GOOD if right else ReviewRating.AGAIN,
            elapsed_seconds=2 * 86400,
            reviewed_at=moment,
            due_after=moment,
        )
    weeks = progress_retention(user=learner, today=dt.date(2026, 4, 1))
    assert [(w.start, w.reviews, w.recalled) for w in weeks[-2:]] == [
        (dt.date(2026, 3, 23), 2, 1),
        (dt.date(2026, 3, 30), 1, 1),
    ]
    assert all(w.reviews == 0 for w in weeks[:-2])


def test_the_anki_deck_has_one_note_per_piece_of_content(learner, learner_client):
    import io
    import sqlite3
    import tempfile
    import zipfile

    first = answered(learner)
    repeat = make_challenge(learner, source_key=first.source_key)
    attempt_record(challenge=repeat, chosen_index=1)
    answered(learner)

    response = learner_client.get("/progress/export.apkg")
    package = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    with tempfile.NamedTemporaryFile(suffix=".anki2") as collection:
        collection.write(package.read("collection.anki2"))
        collection.flush()
        notes = sqlite3.connect(collection.name).execute("select count(*) from notes").fetchone()[0]
    assert notes == 2
