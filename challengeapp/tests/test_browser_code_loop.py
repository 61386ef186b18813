"""Coding problems in the learning loop, in Chromium: history and progress show how each problem
ended, a due problem is written again from the starter code with the solution withheld, with
JavaScript and without; every state checked by axe-core."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from challengeapp.models import CodeProblem, CodeReviewCard
from challengeapp.tests.fakes.a11y import AxeAudit, horizontal_overflow
from challengeapp.tests.fakes.browser_fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _make_due(problem: CodeProblem) -> None:
    CodeReviewCard.objects.filter(problem=problem).update(due_at=timezone.now() - dt.timedelta(minutes=1))


@pytest.mark.parametrize(
    ("javascript", "theme", "width"),
    [(True, "light", 1280), (True, "dark", 375), (False, "light", 1280)],
    ids=["js-light-desktop", "js-dark-phone", "no-js"],
)
def test_solve_see_it_in_history_and_progress_then_review_it(sandbox, page_factory, javascript, theme, width):
    page = page_factory(
        java_script_enabled=javascript, color_scheme=theme, viewport={"width": width, "height": 800}
    )
    # axe-core needs JavaScript in the page: the walk without it checks the flow alone.
    audit = AxeAudit(f"{theme} {width}px")

    def check(state: str) -> None:
        if javascript:
            audit.check(page, state)

    sign_in(page, f"Looper {theme}")
    page.goto("/code/")
    page.get_by_role("button", name="New coding problem").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Write the code")
    problem = CodeProblem.objects.get()
    editor = page.locator("#code-editor")
    editor.fill(problem.starter_code)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[data-result]")).to_contain_text("Not yet.")
    editor.fill(problem.reference_solution)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[data-result]")).to_contain_text("Solved!")

    page.goto("/history/")
    entry = page.locator(".code-history")
    expect(entry.get_by_role("heading", name="Coding problems")).to_be_visible()
    expect(entry.locator("[data-code-outcome]")).to_have_text("Solved after 2 tries")
    expect(entry).to_contain_text("0 runs, 2 submits")
    check("history with a coding problem")
    page.goto("/progress/")
    row = page.locator(f'[data-code-topic="{problem.topic}"]')
    expect(row.locator("td").nth(2)).to_have_text("1")  # solved after tries
    check("progress with a coding problem")

    _make_due(problem)
    page.goto("/review/")
    expect(page.get_by_role("link", name="Review (1)")).to_be_visible()
    expect(page.get_by_role("heading", name="Due for review")).to_be_visible()
    check("review page with a coding problem due")
    due = page.get_by_role("listitem").filter(has_text=problem.title)
    due.get_by_role("button", name="Write it again").click()
    expect(page.locator("[data-review-round]")).to_be_visible()
    expect(editor).to_have_value(problem.starter_code)
    expect(page.locator("#solution")).to_have_count(0)
    check("review round, nothing run yet")
    editor.fill(problem.reference_solution)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[data-result]")).to_contain_text("Solved!")
    expect(page.locator("#solution")).to_be_visible()
    card = CodeReviewCard.objects.get()
    assert card.reviews == 1 and card.last_outcome == "solved_first" and card.round_started_at is None
    assert card.due_at > timezone.now()
    check("review round solved")
    assert horizontal_overflow(page) == 0
    audit.assert_clean()
