"""Hostile model output in a real browser: a challenge whose every field is an XSS payload shows
as text, and no script of its runs (no dialog, the canary stays unset, no console error)."""

from __future__ import annotations

import pytest

from challengeapp.models import Attempt, Challenge
from challengeapp.tests.fakes.browser_fixtures import sign_in
from challengeapp.tests.fakes.openai_server import FakeOpenAIServer, Reply
from challengeapp.tests.test_openai_generation import (
    HOSTILE,
    HOSTILE_CONTENT,
    XSS_IMG,
    XSS_SCRIPT,
    XSS_SCRIPT_CANARY,
    XSS_SVG,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Elements the payload would create if it were parsed as HTML; the app's own markup in <main> has none.
INJECTED = "main script, main img, main svg, main iframe, main style, main b, main a[href^='javascript']"


def assert_no_script_ran(page, dialogs: list[str]) -> None:
    assert dialogs == [], f"the payload opened dialogs: {dialogs}"
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(INJECTED).count() == 0


# fake_openai comes first: the server is up and settings point at it before the live server
# (another thread of this process) handles the generate request.
def test_hostile_model_output_is_shown_as_text_and_never_runs(fake_openai: FakeOpenAIServer, page_factory):
    from playwright.sync_api import expect

    fake_openai.default = Reply(HOSTILE_CONTENT)
    page = page_factory()
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, "Mallory")

    page.get_by_label("Topic").select_option("web")
    page.get_by_role("button", name="Generate challenge").click()
    card = page.locator("#challenge-card")
    expect(card).to_be_visible()
    challenge = Challenge.objects.get()
    assert challenge.provider == "openai" and challenge.title == HOSTILE["title"]
    title = card.locator(".challenge-title")
    expect(title).to_have_text(HOSTILE["title"])
    assert XSS_SCRIPT in title.text_content()
    assert sorted(card.locator(".option-text").all_text_contents()) == sorted(HOSTILE["options"])
    assert XSS_SCRIPT_CANARY in card.locator("pre.code").text_content()
    question = card.locator(".question").text_content()
    assert XSS_IMG in question and XSS_SVG in question
    assert_no_script_ran(page, dialogs)

    card.locator('input[name="choice"]').first.check()
    card.get_by_role("button", name="Submit answer").click()
    expect(page.locator("#challenge-card [data-result]")).to_be_visible()
    expect(page.locator("#challenge-card .explanation")).to_contain_text(XSS_SCRIPT_CANARY)
    expect(page.locator("#challenge-card .is-correct .option-text")).to_have_text(XSS_IMG)
    assert Attempt.objects.get(challenge=challenge).chosen_index == 0
    assert_no_script_ran(page, dialogs)

    page.get_by_role("link", name="History").click()
    entry = page.locator(".history-entry")
    expect(entry).to_have_count(1)
    expect(entry.locator(".history-title")).to_have_text(HOSTILE["title"])
    entry.locator("summary").click()  # the compact row opens to the whole card
    expect(entry.locator(".explanation p")).to_contain_text(XSS_SCRIPT_CANARY)
    assert_no_script_ran(page, dialogs)

    page.goto(f"/challenges/{challenge.id}/")
    expect(page.locator(".challenge-title")).to_have_text(HOSTILE["title"])
    assert page.title() == f"{HOSTILE['title']} · CodeDrill"
    assert_no_script_ran(page, dialogs)
