"""The review page: due challenges one at a time (full page, htmx partial, no-JavaScript POST),
no key before the answer, a double submit refused, nobody else's reviews, no quota."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from challengeapp.generation.pipeline import challenge_generate
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.review import ALREADY_ANSWERED, review_options
from challengeapp.models import Challenge, ReviewCard, ReviewLog, ReviewRating
from challengeapp.quota import quota_status
from challengeapp.tests.conftest import signed_in
from challengeapp.views import humanised_until

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
OPTIONS = ["an empty list", "a list holding zero", "the string '0'", "minus one"]
EXPLANATION = "Only the empty list is falsy: bool([]) is False."


def answered_challenge(owner, *, right: bool, title: str = "Falsy values", **fields) -> Challenge:
    """A challenge the learner answered (so it is scheduled), right or wrong."""
    values = {
        "difficulty": "easy",
        "topic": "python",
        "title": title,
        "question": "Which value is falsy?",
        "code": "print(bool([]))",
        "code_language": "python",
        "options": OPTIONS,
        "correct_index": 0,
        "explanation": EXPLANATION,
        "provider": "bank",
        "source_key": f"bank:{title}",
        **fields,
    }
    challenge = Challenge.objects.create(owner=owner, **values)
    attempt_record(challenge=challenge, chosen_index=challenge.correct_index if right else 3)
    return challenge


def make_due(challenge: Challenge, *, minutes_ago: int = 1) -> ReviewCard:
    """Skip the wait for the learning step: the card is due now."""
    ReviewCard.objects.filter(challenge=challenge).update(
        due_at=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )
    return ReviewCard.objects.select_related("challenge").get(challenge=challenge)


def position_of(card: ReviewCard, text: str) -> int:
    return review_options(card).index(text)


def body(response) -> str:
    return response.content.decode()


def shown_option_texts(html: str) -> list[str]:
    return re.findall(r'<span class="option-text">([^<]*)</span>', html)


def answer(client: Client, challenge: Challenge, position: int, *, confidence: str = "", reviews=0, **extra):
    return client.post(
        f"/review/{challenge.id}/answer/",
        {"position": str(position), "confidence": confidence, "expected_reviews": str(reviews)},
        **extra,
    )


def review_logs(challenge: Challenge) -> list[ReviewLog]:
    return list(ReviewLog.objects.filter(card__challenge=challenge, is_first_answer=False).order_by("id"))


# --- The question -------------------------------------------------------------------------------


def test_the_due_challenge_is_shown_in_this_reviews_order_without_its_key(learner_client, learner):
    challenge = answered_challenge(learner, right=False)
    card = make_due(challenge)
    html = body(learner_client.get("/review/"))
    assert "Falsy values" in html and "Which value is falsy?" in html
    assert re.search(r'<pre[^>]*>.*<span class="[^"]+">', html, re.S)  # the code, highlighted
    assert shown_option_texts(html) == [t.replace("'", "&#x27;") for t in review_options(card)]
    assert f'action="/review/{challenge.id}/answer/"' in html
    assert f'hx-post="/review/{challenge.id}/answer/"' in html
    assert 'name="expected_reviews" value="0"' in html
    assert "data-answer-form" in html
    assert all(f'data-key="{key}"' in html for key in "1234")
    # The optional confidence, not said by default.
    assert re.search(r'value="" [^>]*checked><span>Not said', html)
    assert "I guessed" in html and "I knew it" in html
    # Nothing marks the right option before the answer, and the explanation stays hidden.
    assert "is-correct" not in html and "Correct answer" not in html
    assert "Only the empty list is falsy" not in html
    assert "data-result" not in html


def test_the_htmx_request_gets_only_the_card_and_the_due_count(learner_client, learner):
    make_due(answered_challenge(learner, right=False))
    html = body(learner_client.get("/review/", **HTMX))
    assert html.lstrip().startswith('<section id="review-card"')
    assert "<html" not in html
    assert re.search(r'<a id="review-nav-link"[^>]*hx-swap-oob="true"[^>]*>Review \(1\)</a>', html)


def test_the_navigation_counts_the_reviews_due(learner_client, learner, client):
    first = answered_challenge(learner, right=True, title="One")
    page = body(learner_client.get("/history/"))
    # Right: back after the ten-minute learning step, not due yet.
    assert ">Review (0)</a>" in page and 'href="/progress/"' in page
    # A miss comes back the same day: due at once.
    answered_challenge(learner, right=False, title="Two")
    assert ">Review (1)</a>" in body(learner_client.get("/history/"))
    make_due(first)
    assert ">Review (2)</a>" in body(learner_client.get("/history/"))
    # Nobody signed in: no navigation, no count.
    assert "Review (" not in body(client.get("/sign-in/"))


# --- Answering ----------------------------------------------------------------------------------


def test_a_review_answered_without_javascript_redirects_to_its_result(learner_client, learner):
    challenge = answered_challenge(learner, right=False)
    card = make_due(challenge)
    shown = review_options(card)
    question = body(learner_client.get("/review/"))
    assert shown_option_texts(question) == [t.replace("'", "&#x27;") for t in shown]

    response = answer(learner_client, challenge, position_of(card, OPTIONS[0]), confidence="knew")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/review/"
    assert parse_qs(location.query)["answered"] == [str(challenge.id)]
    html = body(learner_client.get(response["Location"]))
    assert "<strong>Right!</strong>" in html and "You said: I knew it." in html
    # The same order as the question, the right option marked and picked, the explanation.
    assert shown_option_texts(html) == [t.replace("'", "&#x27;") for t in shown]
    correct = re.search(r'<li class="option-result is-correct is-picked">\s*<span[^>]*>(\d)</span>', html)
    assert correct and int(correct.group(1)) == shown.index(OPTIONS[0]) + 1
    assert "bool([]) is False." in html
    # When it comes back: humanised, and the exact moment in a <time> element.
    log = review_logs(challenge)[0]
    assert log.rating == ReviewRating.EASY
    assert re.search(r"It comes back <strong>in \d+ (day|week)s?</strong>", html)
    assert f'<time datetime="{log.due_after.isoformat()}">' in html
    assert 'href="/review/"' in html and ">Next review</a>" in html


def test_a_review_answered_with_htmx_swaps_the_card_in_place(learner_client, learner):
    challenge = answered_challenge(learner, right=True)
    card = make_due(challenge)
    shown = review_options(card)
    wrong_position = position_of(card, OPTIONS[2])

    response = answer(learner_client, challenge, wrong_position, **HTMX)

    assert response.status_code == 200
    html = body(response)
    assert html.lstrip().startswith('<section id="review-card"') and "<html" not in html
    assert "<strong>Not quite.</strong>" in html
    assert shown_option_texts(html) == [t.replace("'", "&#x27;") for t in shown]
    assert re.search(r'class="option-result is-picked">\s*<span[^>]*>' + str(wrong_position + 1), html)
    assert "Correct answer" in html and "bool([]) is False." in html
    # Missed while still learning: back to the first learning step (review.LEARNING_STEPS, 1 minute).
    assert "It comes back <strong>in 1 minute</strong>" in html
    assert 'hx-get="/review/"' in html and ">Next review</a>" in html
    # The navigation's count follows (out of band): a miss of today is due again today.
    assert re.search(r'<a id="review-nav-link"[^>]*hx-swap-oob="true"[^>]*>Review \(1\)</a>', html)
    assert review_logs(challenge)[0].rating == ReviewRating.AGAIN


@pytest.mark.parametrize(
    ("confidence", "rating"),
    [("", ReviewRating.GOOD), ("guessed", ReviewRating.AGAIN), ("knew", ReviewRating.EASY)],
)
def test_how_sure_the_learner_was_grades_a_right_review(learner_client, learner, confidence, rating):
    challenge = answered_challenge(learner, right=True)
    card = make_due(challenge)
    answer(learner_client, challenge, position_of(card, OPTIONS[0]), confidence=confidence)
    assert [log.rating for log in review_logs(challenge)] == [rating]


def test_a_double_submit_gets_the_first_result_and_changes_nothing(learner_client, learner):
    first = answered_challenge(learner, right=True, title="First")
    answered_challenge(learner, right=True, title="Second")
    card = make_due(first, minutes_ago=5)
    position = position_of(card, OPTIONS[0])

    response = answer(learner_client, first, position)
    assert response.status_code == 302
    after_first = list(ReviewCard.objects.filter(challenge=first).values())
    again = answer(learner_client, first, position)

    # The same answer again: the first result, the card untouched.
    assert again.status_code == 302 and again["Location"] == response["Location"]
    assert "<strong>Right!</strong>" in body(learner_client.get(again["Location"]))
    htmx = body(answer(learner_client, first, position, **HTMX))
    assert "<strong>Right!</strong>" in htmx
    assert list(ReviewCard.objects.filter(challenge=first).values()) == after_first
    assert len(review_logs(first)) == 1


def test_another_answer_to_a_review_answered_already_is_refused(learner_client, learner):
    first = answered_challenge(learner, right=False, title="First")
    answered_challenge(learner, right=False, title="Second")
    card = make_due(first, minutes_ago=5)
    position = position_of(card, OPTIONS[0])
    assert answer(learner_client, first, position).status_code == 302
    after_first = list(ReviewCard.objects.filter(challenge=first).values())

    other = answer(learner_client, first, (position + 1) % 4)

    assert other.status_code == 302 and other["Location"] == "/review/?stale=1"
    html = body(learner_client.get(other["Location"]))
    assert ALREADY_ANSWERED in html and "data-answer-form" in html
    htmx = body(answer(learner_client, first, (position + 2) % 4, **HTMX))
    assert ALREADY_ANSWERED in htmx
    assert list(ReviewCard.objects.filter(challenge=first).values()) == after_first
    assert len(review_logs(first)) == 1


@pytest.mark.parametrize(
    "data",
    [
        {"confidence": "", "expected_reviews": "0"},
        {"position": "4", "expected_reviews": "0"},
        {"position": "²", "expected_reviews": "0"},
        {"position": "1", "confidence": "maybe", "expected_reviews": "0"},
        {"position": "1"},
        {"position": "1", "expected_reviews": "-1"},
        {"position": ["1", "2"], "expected_reviews": "0"},
    ],
)
def test_an_invalid_answer_shows_the_question_again_and_changes_nothing(learner_client, learner, data):
    challenge = answered_challenge(learner, right=False)
    make_due(challenge)
    before = list(ReviewCard.objects.values())

    response = learner_client.post(f"/review/{challenge.id}/answer/", data)

    assert response.status_code == 400
    html = body(response)
    assert 'class="form-errors" role="alert"' in html and "data-answer-form" in html
    assert "is-correct" not in html
    htmx = learner_client.post(f"/review/{challenge.id}/answer/", data, **HTMX)
    assert htmx.status_code == 200 and 'role="alert"' in body(htmx)
    assert list(ReviewCard.objects.values()) == before
    assert review_logs(challenge) == []


def test_answering_needs_the_csrf_token(csrf_client, learner):
    challenge = answered_challenge(learner, right=False)
    make_due(challenge)
    assert answer(csrf_client, challenge, 0).status_code == 403
    assert review_logs(challenge) == []


# --- Nothing due, reviewing early ---------------------------------------------------------------


def test_nothing_due_says_when_the_next_one_is_and_offers_reviewing_early(learner_client, learner):
    challenge = answered_challenge(learner, right=True)
    card = ReviewCard.objects.get(challenge=challenge)
    html = body(learner_client.get("/review/"))
    assert "Nothing to review right now." in html
    # A right first answer comes back after the second learning step (review.LEARNING_STEPS).
    assert "The next review is due <strong>in 10 minutes</strong>" in html
    assert f'<time datetime="{card.due_at.isoformat()}">' in html
    assert 'href="/review/?early=1"' in html and ">Review early</a>" in html

    early = body(learner_client.get("/review/?early=1"))
    assert "Reviewing early: this one is due in 10 minutes." in early
    assert "data-answer-form" in early and "Falsy values" in early
    # Reviewing early is allowed.
    response = answer(learner_client, challenge, position_of(card, OPTIONS[0]))
    assert response.status_code == 302
    assert len(review_logs(challenge)) == 1


def test_a_learner_with_nothing_answered_is_sent_to_practise(learner_client):
    html = body(learner_client.get("/review/"))
    assert "Nothing to review yet." in html and ">Practise</a>" in html
    assert "Review early" not in html


# --- Isolation and quota ------------------------------------------------------------------------


def test_one_learner_never_sees_anothers_reviews(learner_client, learner, other_learner):
    theirs = answered_challenge(other_learner, right=False, title="Grace's own")
    make_due(theirs)
    html = body(learner_client.get("/review/"))
    assert "Grace" not in html and "Nothing to review yet." in html
    assert "Grace" not in body(learner_client.get("/review/?early=1"))
    assert ">Review (0)</a>" in html
    assert learner_client.get(f"/review/?answered={theirs.id}").status_code == 404
    assert answer(learner_client, theirs, 0).status_code == 404
    assert answer(learner_client, theirs, 0, **HTMX).status_code == 404
    assert review_logs(theirs) == []


def test_a_challenge_never_answered_is_not_in_the_reviews(learner_client, learner):
    unanswered = Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="sql",
        title="Open",
        question="Q?",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation="E",
        provider="bank",
        source_key="bank:open",
    )
    assert answer(learner_client, unanswered, 0).status_code == 404
    assert learner_client.get(f"/review/?answered={unanswered.id}").status_code == 404
    assert learner_client.post("/review/999999999999999999/answer/", {"position": "0"}).status_code == 404


def test_reviews_cost_no_quota(learner_client, learner):
    challenge = challenge_generate(user=learner, difficulty="easy", topic="python")
    attempt_record(challenge=challenge, chosen_index=(challenge.correct_index + 1) % 4)
    used = quota_status(user=learner).used
    for reviews in range(3):
        make_due(challenge)
        assert answer(learner_client, challenge, 0, reviews=reviews).status_code == 302
        learner_client.get("/review/")
    assert len(review_logs(challenge)) == 3
    assert quota_status(user=learner).used == used == 1


@pytest.mark.parametrize(
    "query",
    [
        "answered=²",
        "answered=9" * 30,
        "answered=1&answered=2",
        "early=%00",
        "order=9999",
        "order=0000",
        "stale=x",
        "%FF=%FF",
    ],
)
def test_odd_query_strings_are_ignored_or_not_found(learner_client, learner, query):
    challenge = answered_challenge(learner, right=False)
    response = learner_client.get(f"/review/?{query}")
    assert response.status_code in (200, 404)
    # A result shown in an order that is not a permutation falls back to the stored order.
    response = learner_client.get(f"/review/?answered={challenge.id}&{query}")
    assert response.status_code == 200


# --- Humanised times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "now"),
        (20, "in under a minute"),
        (59.99, "in 1 minute"),
        (10 * 60 - 0.2, "in 10 minutes"),
        (3 * 3600, "in 3 hours"),
        (3 * 86400 + 600, "in 3 days"),
        (16 * 86400, "in 2 weeks"),
        (95 * 86400, "in 3 months"),
        (2 * 365 * 86400, "in 2 years"),
    ],
)
def test_when_a_review_comes_back_is_said_in_one_rounded_unit(seconds, text):
    now = timezone.now()
    assert humanised_until(now + dt.timedelta(seconds=seconds), now) == text
