"""Every page and state a learner meets, checked by axe-core in light and dark, at 1280 and 375 px;
no page wider than a 320 px screen, and no code line cut off without a sign that it scrolls.

One browser context per theme and width walks the whole product once, running axe on each state on
the way, so the four walks cost about what four ordinary browser tests do.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from challengeapp.models import Challenge, Quota
from challengeapp.tests.fakes.a11y import (
    AxeAudit,
    bank_challenge,
    cut_code_blocks,
    horizontal_overflow,
    make_due,
    make_nothing_due,
    seed_history,
)
from challengeapp.tests.fakes.browser_fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pages answered with an error status on purpose (a sign-in refused, a page that does not exist):
# Chromium logs each as a console error.
EXPECTED_ERRORS = ("status of 400", "status of 403", "status of 404")

# A plain form sent as a page would send it, with or without its CSRF token.
POST_FORM = """([action, withToken]) => {
  const form = document.createElement('form');
  form.method = 'post';
  form.action = action;
  if (withToken) form.append(document.querySelector('input[name=csrfmiddlewaretoken]').cloneNode());
  document.body.append(form);
  form.submit();
}"""


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def learner_named(name: str):
    return get_user_model().objects.get(first_name=name)


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_and_state_passes_axe(page_factory, theme, width):
    page = page_factory(
        color_scheme=theme,
        viewport={"width": width, "height": 900 if width > 600 else 740},
        expected_console_errors=EXPECTED_ERRORS,
    )
    audit = AxeAudit(f"{theme} {width}px")
    name = f"Axe {theme} {width}"

    page.goto("/sign-in/")
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    audit.check(page, "sign-in")
    page.get_by_label("Display name").fill("   ")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-errors")).to_be_visible()
    audit.check(page, "sign-in refused")

    sign_in(page, name)
    audit.check(page, "practice, nothing generated yet")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_be_visible()
    audit.check(page, "keyboard shortcuts help")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts-help")).to_be_hidden()
    for path, state in [
        ("/history/", "history, empty"),
        ("/review/", "review, nothing yet"),
        ("/progress/", "progress, empty"),
    ]:
        page.goto(path)
        audit.check(page, state)

    learner = learner_named(name)
    seeded = seed_history(learner, 22)
    unanswered = bank_challenge(learner, 99, title="Still to answer", code="SELECT 1;", code_language="sql")

    page.goto("/")
    page.get_by_label("Topic").select_option("python")
    page.get_by_role("button", name="Generate challenge").click()
    card = page.locator("#challenge-card")
    expect(card.locator("h2")).to_be_focused()
    audit.check(page, "challenge shown")
    challenge = Challenge.objects.order_by("-id").first()
    page.keyboard.press(str((challenge.correct_index + 1) % 4 + 1))
    expect(card.locator("[data-result]")).to_contain_text("Not quite.")
    audit.check(page, "answered wrong")
    page.get_by_text("Report a problem").click()
    audit.check(page, "report form")
    page.locator("#report-problem input[name='reason']").first.check()
    page.get_by_role("button", name="Send report").click()
    expect(page.locator("#report-problem .notice")).to_be_visible()
    audit.check(page, "report sent")
    page.get_by_role("button", name=re.compile("^Next ")).click()
    expect(card.locator("h2")).to_be_focused()
    second = Challenge.objects.order_by("-id").first()
    page.keyboard.press(str(second.correct_index + 1))
    expect(card.locator("[data-result]")).to_contain_text("Right!")
    audit.check(page, "answered right")

    page.goto(f"/challenges/{unanswered.id}/")
    audit.check(page, "challenge page, unanswered")
    page.goto(f"/challenges/{seeded[-1].id}/")
    audit.check(page, "challenge page, answered, long code")
    page.get_by_role("button", name=re.compile("^Next ")).click()
    expect(card.locator("h2")).to_be_focused()
    audit.check(page, "challenge page, its next challenge")

    page.goto("/history/")
    page.locator(".history-entry summary").first.click()
    audit.check(page, "history, a row opened")
    page.get_by_label("Result").select_option("wrong")
    expect(page.locator("[data-history-summary]")).to_contain_text("match these filters")
    audit.check(page, "history, filtered")
    page.get_by_label("Topic").select_option("web")
    expect(page.locator(".empty-state")).to_contain_text("No challenges match these filters.")
    audit.check(page, "history, no match")
    page.goto("/history/")
    page.get_by_role("link", name="Load more").click()
    expect(page.locator(".history-entry")).to_have_count(26)
    audit.check(page, "history, more loaded")

    make_due(challenge)
    page.goto("/review/")
    expect(page.locator("#review-card input[name='position']")).to_have_count(4)
    audit.check(page, "review card")
    page.locator("#review-card h2").focus()
    page.keyboard.press("1")
    expect(page.locator("#review-card [data-result]")).to_be_visible()
    audit.check(page, "review answered")
    # The misses answered above are due again at once: clear them to reach "nothing due".
    make_nothing_due(challenge.owner)
    page.get_by_role("link", name="Next review").click()
    expect(page.locator("#review-card .empty-state")).to_be_visible()
    audit.check(page, "review, nothing due")

    page.goto("/progress/")
    audit.check(page, "progress")

    quota = Quota.objects.get(user=learner)
    Quota.objects.filter(pk=quota.pk).update(daily_limit=quota.used)
    page.goto("/")
    expect(page.locator("#generate-button")).to_have_text(re.compile("^Quota spent"))
    audit.check(page, "practice, quota spent")
    # The disabled button cannot send it; a form sent from elsewhere (an open tab) still can.
    page.evaluate("document.getElementById('generate-form').requestSubmit()")
    expect(page.locator("[data-quota-spent]")).to_be_visible()
    audit.check(page, "quota reached")

    page.goto("/challenges/987654321/")
    audit.check(page, "not found")
    page.goto("/")
    with page.expect_navigation():
        page.evaluate(POST_FORM, [f"/challenges/{unanswered.id}/report/", True])
    expect(page.get_by_role("heading", name="Answer it first")).to_be_visible()
    audit.check(page, "report refused: not answered")
    with page.expect_navigation():
        page.evaluate(POST_FORM, ["/challenges/generate/", False])
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    audit.check(page, "form expired")
    page.goto("/sign-out/")
    audit.check(page, "sign out")

    assert len(audit.states) == 29
    audit.assert_clean()


PAGES_AT_320 = [
    "/",
    "/history/",
    "/review/",
    "/progress/",
    "/sign-out/",
    "/challenges/987654321/",
]


def test_no_page_is_wider_than_a_320_px_screen_and_no_code_is_cut(page_factory):
    page = page_factory(viewport={"width": 320, "height": 640}, expected_console_errors=EXPECTED_ERRORS)
    page.goto("/sign-in/")
    assert horizontal_overflow(page) == 0
    sign_in(page, "Narrow")
    learner = learner_named("Narrow")
    seeded = seed_history(learner, 3)
    make_due(seeded[0])
    latest = seeded[-1]

    wide = {}
    for path in [*PAGES_AT_320, f"/challenges/{latest.id}/"]:
        page.goto(path)
        page.locator("details:not([open]) > summary").evaluate_all("(all) => all.forEach((s) => s.click())")
        wide[path] = horizontal_overflow(page)
    assert wide == dict.fromkeys(wide, 0)

    # Every header link is on screen, "History" included.
    for link in page.get_by_role("navigation", name="Main").get_by_role("link").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320

    # The activity calendar keeps one row per weekday, however narrow; the table scrolls and says so.
    page.goto("/progress/")
    expect(page.get_by_text("Scroll sideways to see every column").first).to_be_visible()
    rows = page.locator(".activity-grid li").evaluate_all(
        "(cells) => cells.map((c) => Math.round(c.getBoundingClientRect().top))"
    )
    assert len(set(rows)) == 7 and rows[:7] == sorted(rows[:7])

    # The long line scrolls inside its block, which says so and takes focus to scroll by keyboard.
    page.goto(f"/challenges/{latest.id}/")
    code = page.locator("pre.code")
    expect(code).to_have_attribute("data-overflowing", "")
    expect(page.locator(".code-cue")).to_be_visible()
    assert cut_code_blocks(page) == []
    code.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(pre) => pre.scrollLeft > 0", arg=code.element_handle())
    page.goto("/history/")
    page.locator(".history-entry summary").first.click()
    assert cut_code_blocks(page) == []


def test_without_javascript_no_control_is_shown_that_would_do_nothing_and_code_wraps(page_factory):
    page = page_factory(java_script_enabled=False, viewport={"width": 375, "height": 740})
    sign_in(page, "Plain")
    expect(page.locator("[data-theme-toggle]")).to_be_hidden()
    expect(page.get_by_role("button", name="Keyboard shortcuts")).to_be_hidden()
    expect(page.get_by_text("Answer with the mouse or the keys")).to_be_hidden()
    learner = learner_named("Plain")
    latest = seed_history(learner, 1)[-1]
    page.goto(f"/challenges/{latest.id}/")
    # Without the script that measures it, a long line wraps: all of it is on screen.
    code = page.locator("pre.code")
    assert code.evaluate("(pre) => pre.scrollWidth <= pre.clientWidth + 1")
    assert horizontal_overflow(page) == 0


def test_on_a_phone_a_new_challenge_fills_the_screen_and_the_setup_folds(page_factory):
    page = page_factory(viewport={"width": 375, "height": 740})
    sign_in(page, "Phone")
    choices = page.locator("[data-setup-choices]")
    expect(choices).to_have_attribute("open", "")
    page.get_by_role("radio", name="Hard").check()
    page.get_by_label("Topic").select_option("sql")
    page.get_by_role("button", name="Generate challenge").click()
    heading = page.locator("#challenge-card h2")
    expect(heading).to_be_focused()
    # The setup is one line that names what was chosen, and the question starts at the top.
    expect(choices).not_to_have_attribute("open", "")
    summary = choices.locator("summary")
    expect(summary).to_have_text("Hard · SQL (change)")
    assert summary.bounding_box()["height"] < 40
    card_top = page.locator("#challenge-card").bounding_box()["y"]
    assert 0 <= card_top < 20
    # Tapping the line opens the choices again.
    summary.click()
    expect(page.get_by_label("Topic")).to_be_visible()


def test_the_audit_fails_on_what_axe_finds(page_factory):
    # The check itself can fail: an image with no text alternative and a field with no label.
    page = page_factory()
    page.goto("/sign-in/")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<img src="/static/favicon.svg"><input type="text">\')'
    )
    audit = AxeAudit("self-check")
    audit.check(page, "broken on purpose")
    found = " ".join(audit.violations)
    assert "image-alt" in found and "label" in found
    with pytest.raises(AssertionError, match="axe-core violations"):
        audit.assert_clean()
