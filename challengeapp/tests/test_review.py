"""Spaced review: the FSRS grades, the order options are shown in, what a review costs, and who
sees which reviews. Through the JSON API, as an API client would."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from django.test import Client
from django.utils import timezone

from challengeapp.identity import dev_session_token_issue
from challengeapp.learning.review import review_rating
from challengeapp.models import Challenge, ReviewCard, ReviewLog, ReviewRating
from challengeapp.quota import quota_status

pytestmark = pytest.mark.django_db


def bearer(user) -> dict[str, str]:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_review")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(user, path: str, data) -> object:
    return Client().post(path, json.dumps(data), content_type="application/json", **bearer(user))


def get(user, path: str) -> object:
    return Client().get(path, **bearer(user))


def make_challenge(owner, n: int = 0) -> Challenge:
    return Challenge.objects.create(
        owner=owner,
        difficulty="easy",
        topic="python",
        title=f"Challenge {n}",
        question="What does this print?",
        code="print(2 + 2)",
        code_language="python",
        options=["3", "4", "22", "an error"],
        correct_index=1,
        explanation="2 + 2 is 4.",
        provider="bank",
        source_key=f"bank:review:{n}",
    )


def answer_first(user, challenge: Challenge, choice: int) -> None:
    response = post(user, f"/api/challenges/{challenge.id}/answer", {"answer_id": choice})
    assert response.status_code == 200


def review_item(user, challenge_id: int) -> dict:
    items = get(user, "/api/review").json()["items"]
    return next(item for item in items if item["challenge_id"] == challenge_id)


def review(user, challenge: Challenge, *, right: bool, confidence: str | None = None) -> dict:
    item = review_item(user, challenge.id)
    correct_option = challenge.options[challenge.correct_index]
    position = item["options"].index(correct_option)
    if not right:
        position = (position + 1) % 4
    body = {"answer_id": position, "review_number": item["review_number"]}
    if confidence is not None:
        body["confidence"] = confidence
    response = post(user, f"/api/review/{challenge.id}/answer", body)
    assert response.status_code == 200, response.content
    return response.json()


def test_first_answers_grade_again_or_good(learner):
    missed, known = make_challenge(learner, 1), make_challenge(learner, 2)
    answer_first(learner, missed, 0)
    answer_first(learner, known, 1)

    assert ReviewLog.objects.get(card__challenge=missed).rating == ReviewRating.AGAIN
    assert ReviewLog.objects.get(card__challenge=known).rating == ReviewRating.GOOD
    # Missed challenges come back first.
    items = get(learner, "/api/review").json()["items"]
    assert [item["challenge_id"] for item in items] == [missed.id, known.id]
    assert ReviewCard.objects.get(challenge=missed).due_at < ReviewCard.objects.get(challenge=known).due_at


@pytest.mark.parametrize(
    ("right", "confidence", "rating"),
    [
        (False, None, ReviewRating.AGAIN),
        (False, "knew", ReviewRating.AGAIN),
        (False, "guessed", ReviewRating.AGAIN),
        (True, None, ReviewRating.GOOD),
        # Right by a guess is not recall: a multiple-choice answer is right one time in four.
        (True, "guessed", ReviewRating.AGAIN),
        (True, "knew", ReviewRating.EASY),
    ],
)
def test_a_review_grades_from_right_wrong_and_confidence(learner, right, confidence, rating):
    challenge = make_challenge(learner)
    answer_first(learner, challenge, 1)

    result = review(learner, challenge, right=right, confidence=confidence)

    assert result["correct"] is right
    last = ReviewLog.objects.filter(card__challenge=challenge).latest("id")
    assert (last.rating, last.is_first_answer, last.is_correct) == (rating, False, right)
    assert ReviewCard.objects.get(challenge=challenge).due_at.isoformat() == result["next_due_at"]


def test_the_grade_mapping_is_the_same_for_first_answers_and_reviews():
    for first in (True, False):
        assert review_rating(is_correct=False, is_first_answer=first, confidence="knew") == ReviewRating.AGAIN
        assert (
            review_rating(is_correct=True, is_first_answer=first, confidence="guessed") == ReviewRating.AGAIN
        )
        assert review_rating(is_correct=True, is_first_answer=first) == ReviewRating.GOOD
        assert review_rating(is_correct=True, is_first_answer=first, confidence="knew") == ReviewRating.EASY


def test_knowing_it_schedules_later_than_guessing(learner):
    knew, guessed = make_challenge(learner, 1), make_challenge(learner, 2)
    for challenge in (knew, guessed):
        answer_first(learner, challenge, 1)
        ReviewCard.objects.filter(challenge=challenge).update(due_at=timezone.now())
    later = review(learner, knew, right=True, confidence="knew")["next_due_at"]
    sooner = review(learner, guessed, right=True, confidence="guessed")["next_due_at"]
    assert dt.datetime.fromisoformat(later) > dt.datetime.fromisoformat(sooner)


def test_each_review_reshuffles_and_positions_are_uniform(learner):
    challenge = make_challenge(learner)
    answer_first(learner, challenge, 1)
    positions = Counter()
    orders = set()
    for _ in range(200):
        item = review_item(learner, challenge.id)
        orders.add(tuple(item["options"]))
        positions[item["options"].index("4")] += 1
        result = review(learner, challenge, right=True)
        assert result["correct_answer_id"] == item["options"].index("4")  # in the order shown
    # Chi-square against uniform (50 each): 30.7 is the 1-in-a-million tail with 3 degrees of freedom.
    chi_square = sum((positions[p] - 50) ** 2 / 50 for p in range(4))
    assert chi_square < 30.7, positions
    assert len(orders) > 12  # many of the 24 orders, not a rotation of one


def test_review_items_never_carry_the_key_before_the_answer(learner):
    challenge = make_challenge(learner)
    answer_first(learner, challenge, 0)

    item = review_item(learner, challenge.id)

    assert set(item) == {
        "challenge_id",
        "due_at",
        "is_due",
        "title",
        "prompt",
        "code",
        "code_language",
        "options",
        "review_number",
        "misses",
        "is_leech",
    }
    assert sorted(item["options"]) == sorted(challenge.options)
    assert challenge.explanation not in json.dumps(item)


def test_reviews_cost_no_quota(learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    challenge = make_challenge(learner)
    answer_first(learner, challenge, 1)
    Client().post(
        "/api/generate-challenge",
        json.dumps({"difficulty": "easy"}),
        content_type="application/json",
        **bearer(learner),
    )
    assert quota_status(user=learner).remaining == 0

    for _ in range(5):
        review(learner, challenge, right=True)

    assert quota_status(user=learner).remaining == 0
    assert ReviewLog.objects.filter(card__challenge=challenge, is_first_answer=False).count() == 5


def test_early_review_is_allowed(learner):
    challenge = make_challenge(learner)
    answer_first(learner, challenge, 1)
    item = review_item(learner, challenge.id)
    assert item["is_due"] is False
    assert review(learner, challenge, right=True)["correct"] is True


def test_one_learner_never_sees_anothers_reviews(learner, other_learner):
    mine, theirs = make_challenge(learner, 1), make_challenge(other_learner, 2)
    answer_first(learner, mine, 1)
    answer_first(other_learner, theirs, 1)

    assert [item["challenge_id"] for item in get(learner, "/api/review").json()["items"]] == [mine.id]
    response = post(learner, f"/api/review/{theirs.id}/answer", {"answer_id": 0})
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert ReviewLog.objects.filter(card__challenge=theirs).count() == 1


def test_a_challenge_never_answered_is_not_in_review(learner):
    unanswered = make_challenge(learner)
    body = get(learner, "/api/review").json()
    assert (body["items"], body["next_cursor"], body["due_now"]) == ([], None, 0)
    response = post(learner, f"/api/review/{unanswered.id}/answer", {"answer_id": 0})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"answer_id": 4},
        {"answer_id": "1"},
        {"answer_id": True},
        {"answer_id": 1, "confidence": "sure"},
        {"answer_id": 1, "confidence": 3},
    ],
)
def test_invalid_review_answers_are_422_and_change_nothing(learner, body):
    challenge = make_challenge(learner)
    answer_first(learner, challenge, 1)
    before = list(ReviewCard.objects.values_list("due_at", "option_order", "reviews"))

    response = post(learner, f"/api/review/{challenge.id}/answer", body)

    assert response.status_code == 422 and response.json()["detail"]
    assert list(ReviewCard.objects.values_list("due_at", "option_order", "reviews")) == before


def test_review_paging(learner):
    challenges = [make_challenge(learner, n) for n in range(5)]
    for challenge in challenges:
        answer_first(learner, challenge, 1)
    everything = [item["challenge_id"] for item in get(learner, "/api/review").json()["items"]]
    page = [item["challenge_id"] for item in get(learner, "/api/review?limit=2&offset=1").json()["items"]]
    assert page == everything[1:3]
    assert get(learner, "/api/review?limit=²").status_code == 422


def scheduled_cards(learner, count: int) -> list[int]:
    """`count` scheduled reviews, several due at the same moment (ties are where paging slips)."""
    challenges = [make_challenge(learner, 1000 + n) for n in range(count)]
    start = timezone.now() - dt.timedelta(days=1)
    ReviewCard.objects.bulk_create(
        [
            ReviewCard(
                owner=learner,
                challenge=challenge,
                due_at=start + dt.timedelta(minutes=n // 3),
                option_order=[0, 1, 2, 3],
                state=1,
                source_key=challenge.source_key,
            )
            for n, challenge in enumerate(challenges)
        ]
    )
    return [challenge.id for challenge in challenges]


def test_a_long_review_queue_comes_in_pages_that_cover_it_once(learner):
    ids = scheduled_cards(learner, 130)

    first = get(learner, "/api/review").json()
    assert len(first["items"]) == 50  # the default page size, not the whole queue
    seen, body, pages = [], first, 0
    while True:
        pages += 1
        seen += [item["challenge_id"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        body = get(learner, f"/api/review?cursor={body['next_cursor']}").json()
    assert pages == 3 and sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    due = [item["due_at"] for item in get(learner, "/api/review?limit=500").json()["items"]]
    assert due == sorted(due)


def test_the_page_size_is_bounded_and_a_cursor_holds_while_cards_move(learner):
    scheduled_cards(learner, 12)
    assert get(learner, "/api/review?limit=501").status_code == 422
    first = get(learner, "/api/review?limit=5").json()
    # A card of the first page is reviewed and moves to the end of the queue: the next page
    # starts after the boundary it was given, skipping nothing and repeating nothing.
    moved = first["items"][0]["challenge_id"]
    ReviewCard.objects.filter(challenge_id=moved).update(due_at=timezone.now() + dt.timedelta(days=3))
    second = get(learner, f"/api/review?limit=5&cursor={first['next_cursor']}").json()
    first_ids = [item["challenge_id"] for item in first["items"]]
    second_ids = [item["challenge_id"] for item in second["items"]]
    everything = [item["challenge_id"] for item in get(learner, "/api/review?limit=500").json()["items"]]
    assert second_ids == everything[everything.index(first_ids[-1]) + 1 :][:5]
    assert not set(first_ids) & set(second_ids)


@pytest.mark.parametrize(
    "cursor",
    ["x", "%00", "MjAyNi0xMi0wN1QwMDowMDowMHwx" + "A" * 100, "bm90IGEgY3Vyc29y", "MjAyNi0xMi0wN3wxMg", "==="],
)
def test_a_cursor_the_api_never_gave_is_refused(learner, cursor):
    scheduled_cards(learner, 3)

    response = get(learner, f"/api/review?cursor={cursor}")

    assert response.status_code == 422 and response.json()["detail"]
