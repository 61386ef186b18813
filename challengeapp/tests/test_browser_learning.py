"""The learning loop in a real browser: a missed challenge comes back for review, answered with the
keyboard; progress and the streak after a day's answers; the same without JavaScript.

The learning step (a missed challenge is due a minute later) is skipped by moving the card's due
time into the past in the database, as a test may, rather than by waiting.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.review import review_options
from challengeapp.models import Challenge, ReviewCard, ReviewLog
from challengeapp.tests.fakes.browser_fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def make_due(challenge: Challenge) -> ReviewCard:
    ReviewCard.objects.filter(challenge=challenge).update(due_at=timezone.now() - dt.timedelta(seconds=5))
    return ReviewCard.objects.select_related("challenge").get(challenge=challenge)


def key_of(card: ReviewCard, option_index: int) -> str:
    """The key (1-4) of a challenge's option in this review's order."""
    return str(review_options(card).index(card.challenge.options[option_index]) + 1)


def generate_and_miss(page) -> Challenge:
    page.get_by_role("radio", name="Easy").check()
    page.get_by_label("Topic").select_option("python")
    page.get_by_role("button", name="Generate challenge").click()
    expect(page.locator("#challenge-card h2")).to_be_focused()
    challenge = Challenge.objects.order_by("-id").first()
    page.keyboard.press(str((challenge.correct_index + 1) % 4 + 1))
    expect(page.locator("#challenge-card [data-result]")).to_contain_text("Not quite.")
    return challenge


def test_a_missed_challenge_comes_back_and_is_answered_with_the_keyboard(page_factory):
    page = page_factory(viewport={"width": 1200, "height": 900})
    sign_in(page, "Reviewer")
    challenge = generate_and_miss(page)
    nav = page.locator("#review-nav-link")
    expect(nav).to_have_text("Review (1)")  # a miss comes back the same session, at once

    card = make_due(challenge)
    nav.click()
    page.wait_for_url("**/review/")
    expect(nav).to_have_text("Review (1)")
    review = page.locator("#review-card")
    expect(review.locator("h2")).to_have_text(challenge.title)
    expect(review.locator("input[name='position']")).to_have_count(4)
    # No trace of the key before the answer.
    assert review.locator(".is-correct, [data-result], .explanation").count() == 0

    page.get_by_label("I knew it").check()  # focus is now in the review's question: keys 1-4 answer it
    page.keyboard.press(key_of(card, challenge.correct_index))

    result = review.locator("[data-result]")
    expect(result).to_contain_text("Right!")
    expect(result).to_contain_text("You said: I knew it.")
    expect(result).to_be_focused()
    expect(review.locator(".is-correct")).to_have_count(1)
    expect(review.locator(".explanation")).to_contain_text(challenge.explanation[:40])
    log = ReviewLog.objects.get(card__challenge=challenge, is_first_answer=False)
    assert log.is_correct and log.confidence == "knew"
    expect(review.locator(".comes-back")).to_contain_text(re.compile(r"It comes back in \d+ (day|week)s?"))
    assert review.locator(".comes-back time").get_attribute("datetime") == log.due_after.isoformat()
    expect(nav).to_have_text("Review (0)")

    page.get_by_role("link", name="Next review").click()
    expect(review).to_contain_text("Nothing to review right now.")
    expect(review).to_contain_text("The next review is due in")
    page.get_by_role("link", name="Review early").click()
    expect(review.locator("h2")).to_have_text(challenge.title)
    expect(review.locator("input[name='position']")).to_have_count(4)


def test_progress_and_the_streak_after_a_days_answers(page_factory):
    page = page_factory()
    sign_in(page, "Streaker")
    learner = get_user_model().objects.get(first_name="Streaker")
    # Yesterday: one SQL challenge, answered right.
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - dt.timedelta(days=1)):
        yesterday = Challenge.objects.create(
            owner=learner,
            difficulty="medium",
            topic="sql",
            title="Yesterday's join",
            question="Which join keeps every left row?",
            options=["LEFT JOIN", "INNER JOIN", "CROSS JOIN", "SEMI JOIN"],
            correct_index=0,
            explanation="A left join keeps every row of the left table.",
            provider="bank",
            source_key="bank:yesterday",
        )
        attempt_record(challenge=yesterday, chosen_index=0)
    # Today: two Python challenges in the browser, the first missed, the second answered right.
    generate_and_miss(page)
    page.get_by_role("button", name=re.compile("Next easy Python challenge")).click()
    expect(page.locator("#challenge-card h2")).to_be_focused()
    second = Challenge.objects.order_by("-id").first()
    page.keyboard.press(str(second.correct_index + 1))
    expect(page.locator("#challenge-card [data-result]")).to_contain_text("Right!")

    page.get_by_role("link", name="Progress").click()
    page.wait_for_url("**/progress/")
    rows = page.locator(".progress-table tbody tr")
    expect(rows).to_have_count(2)
    python_row = page.locator("tr[data-topic='python'][data-difficulty='easy']")
    expect(python_row.locator("td")).to_have_text(
        ["Easy", "2", "1", "50 %", "1 of 2", "New", re.compile("Practise this")]
    )
    expect(page.locator("tr[data-topic='sql'] td").nth(3)).to_have_text("100 %")
    expect(page.locator("text=How mastery is judged")).to_be_visible()
    expect(page.locator("[data-streak-current]")).to_have_text("2 days")
    expect(page.locator("[data-streak-longest]")).to_have_text("2 days")
    today = timezone.localdate()
    cell = page.locator(".activity-grid .is-today")
    expect(cell).to_have_attribute("title", f"{today:%a} {today.day} {today:%b}: 2 answers")
    expect(page.locator(".activity-grid li")).to_have_count(16 * 7)
    expect(page.locator("[data-activity-summary]")).to_contain_text("3 answers and reviews on 2 days")

    page.locator("tr[data-topic='sql']").get_by_role("link", name=re.compile("Practise this")).click()
    page.wait_for_url(re.compile(r"/\?topic=sql&difficulty=medium$"))
    expect(page.get_by_role("radio", name="Medium")).to_be_checked()
    expect(page.get_by_label("Topic")).to_have_value("sql")


def test_the_learning_loop_works_without_javascript(page_factory, tmp_path):
    page = page_factory(java_script_enabled=False)
    sign_in(page, "No Script Reviewer")
    page.get_by_role("radio", name="Easy").check()
    page.get_by_label("Topic").select_option("python")
    page.get_by_role("button", name="Generate challenge").click()
    page.wait_for_url("**/challenges/*/")
    challenge = Challenge.objects.get()
    page.locator('input[name="choice"]').nth((challenge.correct_index + 1) % 4).check()
    page.get_by_role("button", name="Submit answer").click()
    page.wait_for_url("**/challenges/*/")
    expect(page.locator("[data-result]")).to_contain_text("Not quite.")

    card = make_due(challenge)
    page.reload()
    page.get_by_role("link", name="Review (1)").click()
    page.wait_for_url("**/review/")
    assert page.locator(".is-correct").count() == 0
    page.locator('input[name="position"]').nth(int(key_of(card, challenge.correct_index)) - 1).check()
    page.get_by_label("I guessed").check()
    page.get_by_role("button", name="Submit answer").click()
    page.wait_for_url(re.compile(r"/review/\?answered=\d+"))
    expect(page.locator("[data-result]")).to_contain_text("Right!")
    expect(page.locator("[data-result]")).to_contain_text("You said: I guessed.")
    expect(page.locator(".is-correct.is-picked")).to_have_count(1)
    expect(page.locator(".comes-back")).to_contain_text(re.compile(r"It comes back in \d+ minutes?"))
    # The page is reloadable: the result stays, nothing is answered twice.
    page.reload()
    expect(page.locator("[data-result]")).to_contain_text("Right!")
    assert ReviewLog.objects.filter(card__challenge=challenge, is_first_answer=False).count() == 1

    # Right by a guess is not recall: it comes back at once, like a miss.
    page.get_by_role("link", name="Next review").click()
    page.wait_for_url("**/review/")
    expect(page.locator("#review-card h2")).to_have_text(challenge.title)
    card.refresh_from_db()
    page.locator('input[name="position"]').nth(int(key_of(card, challenge.correct_index)) - 1).check()
    page.get_by_role("button", name="Submit answer").click()
    page.wait_for_url(re.compile(r"/review/\?answered=\d+"))
    page.get_by_role("link", name="Next review").click()
    page.wait_for_url("**/review/")
    expect(page.locator("#review-card")).to_contain_text("Nothing to review right now.")
    page.get_by_role("link", name="Review early").click()
    page.wait_for_url("**/review/?early=1")
    expect(page.locator("#review-card h2")).to_have_text(challenge.title)

    page.get_by_role("link", name="Progress").click()
    page.wait_for_url("**/progress/")
    expect(page.locator("[data-streak-current]")).to_have_text("1 day")
    expect(page.locator("tr[data-topic='python'] td").nth(1)).to_have_text("1")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "history.csv"
    download.value.save_as(path)
    with open(path, encoding="utf-8-sig", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert [row["title"].lstrip("'") for row in rows] == [challenge.title]
    assert rows[0]["result"] == "wrong"
