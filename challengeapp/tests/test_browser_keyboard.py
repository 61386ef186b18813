"""Keyboard only: generate → answer → next → report → review, and where focus is after each step;
what the status region says; the 1-4 keys acting only inside the question, and turned off.

Focus is asserted, never waited for with a clock: each step's expectation is where focus lands.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from challengeapp.models import Attempt, Challenge, Report
from challengeapp.tests.fakes.a11y import make_due, seed_history
from challengeapp.tests.fakes.browser_fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# More Tab presses than any page here has stops: a walk that needs more is lost.
MAX_TABS = 40


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def tab_to(page, locator, *, backwards: bool = False) -> int:
    """Press Tab (or Shift+Tab) until `locator` has focus; how many presses it took."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if locator.evaluate("(element) => element === document.activeElement"):
            return presses
    raise AssertionError(f"{locator} not reached in {MAX_TABS} Tab presses")


def newest_challenge() -> Challenge:
    return Challenge.objects.order_by("-id").first()


def test_generate_answer_next_report_and_review_with_the_keyboard_alone(page_factory):
    page = page_factory(viewport={"width": 1280, "height": 900})
    sign_in(page, "Keys Only")
    status = page.locator("#status-message")
    card = page.locator("#challenge-card")

    # Generate: focus goes to the new question's heading, and the status names it.
    tab_to(page, page.get_by_role("button", name="Generate challenge"))
    page.keyboard.press("Enter")
    heading = card.locator("h2")
    expect(heading).to_be_focused()
    first = newest_challenge()
    expect(status).to_have_text(f"New challenge: {first.title}")

    # A digit pressed outside the question does nothing; inside it, it answers.
    wrong_key = (first.correct_index + 1) % 4
    page.get_by_role("link", name="CodeDrill").focus()
    page.keyboard.press(str((wrong_key + 1) % 4 + 1))  # another option's key: it must not answer
    heading.focus()
    page.keyboard.press(str(wrong_key + 1))
    result = card.locator("[data-result]")
    expect(result).to_be_focused()
    expect(result).to_contain_text("Not quite.")
    expect(status).to_have_text(f"Not quite: the correct answer is option {first.correct_index + 1}.")
    assert Attempt.objects.get(challenge=first).chosen_index == wrong_key

    # Report: open the box, pick a reason, write a note, send; focus goes to the thank-you.
    tab_to(page, page.locator("#report-problem summary"))
    page.keyboard.press("Enter")
    tab_to(page, page.locator("#report-problem input[name='reason']").first)
    page.keyboard.press("Space")
    tab_to(page, page.get_by_label("Note"))
    page.keyboard.type("The key looks wrong to me.")
    tab_to(page, page.get_by_role("button", name="Send report"))
    page.keyboard.press("Enter")
    thanks = page.locator("#report-problem .notice")
    expect(thanks).to_be_focused()
    expect(status).to_have_text("Report sent")
    assert Report.objects.get().note == "The key looks wrong to me."

    # Next: focus on the new heading, the options a few Tab presses away (not back at the top).
    tab_to(page, page.get_by_role("button", name=re.compile("^Next ")))
    page.keyboard.press("Enter")
    second_heading = card.locator("h2")
    expect(second_heading).to_be_focused()
    second = newest_challenge()
    assert second.id != first.id
    expect(second_heading).to_have_text(second.title)
    assert tab_to(page, card.locator("input[name='choice']").first) <= 2  # the code block, then the options

    # Pick with Space and the arrow keys, then Enter submits.
    page.keyboard.press("Space")
    for _ in range(second.correct_index):
        page.keyboard.press("ArrowDown")
    expect(card.locator("input[name='choice']").nth(second.correct_index)).to_be_checked()
    page.keyboard.press("Enter")
    expect(result).to_be_focused()
    expect(result).to_contain_text("Right!")
    expect(status).to_have_text("Right.")

    # Review: the missed one is due; answer it with a key from its heading, then the next review.
    make_due(first)
    tab_to(page, page.get_by_role("link", name=re.compile(r"^Review \(")), backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url("**/review/")
    review = page.locator("#review-card")
    expect(review.locator("h2")).to_have_text(first.title)
    tab_to(page, review.locator("input[name='position']").first)
    correct_position = (
        review.locator(".option-text").all_inner_texts().index(first.options[first.correct_index])
    )
    page.keyboard.press(str(correct_position + 1))
    review_result = review.locator("[data-result]")
    expect(review_result).to_be_focused()
    expect(review_result).to_contain_text("Right!")
    expect(status).to_have_text("Right. 0 more due.")
    expect(page.locator("#review-nav-link")).to_have_text("Review (0)")
    tab_to(page, page.get_by_role("link", name="Next review"))
    page.keyboard.press("Enter")
    nothing = review.locator("p", has_text="Nothing to review right now.")
    expect(nothing).to_be_focused()
    expect(status).to_have_text("Nothing to review right now.")


def test_load_more_puts_focus_on_the_first_new_row(page_factory):
    page = page_factory(viewport={"width": 1280, "height": 900})
    sign_in(page, "Long History")
    seed_history(get_user_model().objects.get(first_name="Long History"), 23)
    page.goto("/history/")
    expect(page.locator("[data-history-summary]")).to_have_text(
        re.compile(r"23 challenges: 16 answered, \d+ right")
    )
    rows = page.locator(".history-entry summary")
    expect(rows).to_have_count(20)
    tab_to(page, page.get_by_role("link", name="Load more"))
    page.keyboard.press("Enter")
    expect(rows).to_have_count(23)
    expect(rows.nth(20)).to_be_focused()
    expect(page.locator("#status-message")).to_have_text("3 more loaded")
    # The row opens with the keyboard to the whole card.
    page.keyboard.press("Enter")
    expect(page.locator(".history-entry").nth(20).locator(".question")).to_be_visible()


def test_single_key_shortcuts_are_listed_and_can_be_turned_off(page_factory):
    page = page_factory(viewport={"width": 1280, "height": 900})
    sign_in(page, "No Shortcuts")
    hint = page.get_by_text("Answer with the mouse or the keys")
    expect(hint).to_be_visible()

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("pick that option and submit it")
    toggle = help_dialog.get_by_label(re.compile("Single-key shortcuts"))
    expect(toggle).to_be_checked()
    tab_to(page, toggle)
    page.keyboard.press("Space")
    expect(toggle).not_to_be_checked()
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect(hint).to_be_hidden()

    # Remembered: after a reload the hints stay hidden, and 1-4 and ? do nothing.
    page.reload()
    expect(hint).to_be_hidden()
    page.get_by_role("button", name="Generate challenge").click()
    heading = page.locator("#challenge-card h2")
    expect(heading).to_be_focused()
    expect(page.locator("#challenge-card [data-shortcut-hint]")).to_be_hidden()
    page.keyboard.press("?")
    page.keyboard.press("3")
    # The options are still answered with Tab, the arrows and Enter.
    tab_to(page, page.locator("#challenge-card input[name='choice']").first)
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    expect(page.locator("#challenge-card [data-result]")).to_be_focused()
    expect(help_dialog).to_be_hidden()
    assert Attempt.objects.get().chosen_index == 0

    # The footer button lists the shortcuts too, and turns them back on.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    help_dialog.get_by_label(re.compile("Single-key shortcuts")).check()
    help_dialog.get_by_role("button", name="Close").click()
    expect(page.locator("html")).not_to_have_class(re.compile("shortcuts-off"))
