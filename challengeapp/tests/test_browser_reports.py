"""Answer keys you can trust, in a real browser: a learner reports a wrong key, an operator corrects
it in the admin, and the learner's answer is regraded (fixtures in fakes/browser_fixtures.py).

The challenge is written into the database, as a bank challenge with a known wrong key, so that
which option the learner picks and which one the operator marks right never depend on chance.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.template.defaultfilters import date as date_filter
from django.utils import timezone

from challengeapp.models import Attempt, Challenge, Verification
from challengeapp.tests.fakes.browser_fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE_KEY = "bank:browser-test"
# What the code prints: 1, True and 1.0 are one dict key; the first key stays, the last value wins.
PRINTED = "1 float"
STORED_KEY = "1 int"
NOTE = "Ran it myself: it prints 1 float, because the last value wins."
OPERATOR_PASSWORD = "a-long-operator-passphrase"


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def wrongly_keyed_challenge(owner) -> Challenge:
    return Challenge.objects.create(
        owner=owner,
        difficulty="medium",
        topic="python",
        title="Keys that compare equal",
        question="What does this print?",
        code='seen = {1: "int", True: "bool", 1.0: "float"}\nprint(len(seen), seen[1])',
        code_language="python",
        options=["3 int", PRINTED, STORED_KEY, "3 float"],
        correct_index=2,
        explanation="1, True and 1.0 are equal and hash alike, so they are one key.",
        provider="bank",
        source_key=SOURCE_KEY,
        verification=Verification.CURATED,
    )


def operator_signs_in(page) -> None:
    # Django's admin pages name no icon, so the browser asks for /favicon.ico, which this site
    # does not serve: a 404 in the console that has nothing to do with reports. Answered here.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    get_user_model().objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)
    page.goto("/admin/login/?next=/admin/challengeapp/report/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/challengeapp/report/")


def test_a_reported_wrong_key_is_corrected_by_an_operator_and_the_answer_regraded(page_factory):
    learner_page = page_factory(viewport={"width": 1200, "height": 900})
    sign_in(learner_page, "Reporter")
    challenge = wrongly_keyed_challenge(get_user_model().objects.get(first_name="Reporter"))

    # The learner answers what the code really prints, which the stored key marks wrong.
    learner_page.goto(f"/challenges/{challenge.id}/")
    card = learner_page.locator("#challenge-card")
    expect(card.locator(".badge", has_text="Curated")).to_be_visible()
    card.locator("label.option", has_text=PRINTED).locator("input").check()
    card.get_by_role("button", name="Submit answer").click()
    expect(card.locator("[data-result]")).to_contain_text("Not quite.")
    expect(card.locator(".is-correct .option-text")).to_have_text(STORED_KEY)
    expect(card.locator(".is-picked .option-text")).to_have_text(PRINTED)

    report = learner_page.locator("#report-problem")
    report.get_by_text("Report a problem").click()
    report.get_by_label("The marked answer is wrong").check()
    report.get_by_label("Note").fill(NOTE)
    report.get_by_role("button", name="Send report").click()
    thanks = learner_page.locator("#report-problem .notice")
    expect(thanks).to_contain_text("Thank you: your report was saved.")
    expect(thanks).to_be_focused()
    expect(learner_page.locator("#status-message")).to_have_text("Report sent")

    # An operator, in a browser of their own, corrects the key to the learner's option.
    operator_page = page_factory(viewport={"width": 1200, "height": 900})
    operator_signs_in(operator_page)
    content = operator_page.locator(f"fieldset.reported-content[data-source-key='{SOURCE_KEY}']")
    expect(content.locator("h2")).to_contain_text("Keys that compare equal")
    expect(content.locator(".content-key")).to_have_text(STORED_KEY)
    expect(content).to_contain_text("1 learner reported:")
    expect(content.locator(".content-reach")).to_contain_text("1 challenge of 1 learner")
    expect(content).to_contain_text("The marked answer is wrong (1)")
    expect(content.locator("li", has_text=NOTE)).to_be_visible()
    content.get_by_label("Right option").select_option(label=PRINTED)
    content.get_by_role("button", name="Correct the key").click()
    # Before anything changes, the operator is told what the correction touches.
    operator_page.wait_for_url("**/admin/challengeapp/report/decide/")
    expect(operator_page.locator(".decision-reach")).to_have_text("1 challenge of 1 learner")
    expect(operator_page.locator("#content-main")).to_contain_text(
        "1 answer graded again, of which 1 answer changes grade"
    )
    assert Attempt.objects.get(challenge=challenge).regraded_at is None
    operator_page.get_by_role("button", name="Confirm").click()
    operator_page.wait_for_url("**/admin/challengeapp/report/")
    expect(operator_page.locator(".messagelist")).to_contain_text(
        f"Corrected the key of {SOURCE_KEY}; 1 answer(s) changed grade."
    )
    expect(operator_page.locator("#content-main")).to_contain_text("No open reports.")

    # The learner's history shows the answer regraded, and the challenge the corrected key.
    regraded_on = date_filter(
        timezone.localtime(Attempt.objects.get(challenge=challenge).regraded_at), "j M Y"
    )
    learner_page.get_by_role("link", name="History").click()
    learner_page.wait_for_url("**/history/")
    entry = learner_page.locator(".history-entry", has_text="Keys that compare equal")
    expect(entry.locator(".badge-right")).to_have_text("Right")
    entry.locator("summary").click()
    expect(entry.locator(".badge-wrong")).to_have_count(0)
    expect(entry.locator(".regraded")).to_have_text(f"regraded on {regraded_on}")
    expect(entry.locator(".is-correct .option-text")).to_have_text(PRINTED)

    entry.get_by_role("link", name="Keys that compare equal").click()
    learner_page.wait_for_url(f"**/challenges/{challenge.id}/")
    expect(card.locator("[data-result]")).to_contain_text("Right!")
    expect(card.locator("[data-result] .regraded")).to_have_text(
        f"The key was corrected after you answered: regraded on {regraded_on}."
    )
    expect(card.locator(".is-correct .option-text")).to_have_text(PRINTED)
    expect(card.locator(".is-correct .tag-correct")).to_have_text("Correct answer")
    expect(card.locator(".is-correct.is-picked")).to_have_count(1)
    expect(card.locator(".option-result", has_text=STORED_KEY).locator(".tag-correct")).to_have_count(0)


def test_an_option_that_spans_lines_is_corrected_in_the_browser(page_factory):
    from challengeapp.content.reports import report_submit
    from challengeapp.learning.attempts import attempt_record
    from challengeapp.tests.conftest import make_learner

    learner = make_learner("user_two_prints")
    challenge = Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="python",
        title="Two prints",
        question="What does this print?",
        code="print(1)\nprint(2)",
        code_language="python",
        options=["2\n1", "1\n2", "1", "2"],
        correct_index=0,
        explanation="One line per call, in order.",
        provider="bank",
        source_key="bank:browser-two-prints",
        verification=Verification.CURATED,
    )
    attempt_record(challenge=challenge, chosen_index=1)
    report_submit(user=learner, challenge_id=challenge.id, reason="wrong_key")

    operator_page = page_factory(viewport={"width": 1200, "height": 900})
    operator_signs_in(operator_page)
    content = operator_page.locator("fieldset.reported-content[data-source-key='bank:browser-two-prints']")
    # The browser posts a multi-line option's text with CRLF line breaks; the form sends its index.
    content.get_by_label("Right option").select_option(index=1)
    content.get_by_role("button", name="Correct the key").click()
    operator_page.wait_for_url("**/admin/challengeapp/report/decide/")
    operator_page.get_by_role("button", name="Confirm").click()
    operator_page.wait_for_url("**/admin/challengeapp/report/")

    expect(operator_page.locator(".messagelist")).to_contain_text(
        "Corrected the key of bank:browser-two-prints; 1 answer(s) changed grade."
    )
    challenge.refresh_from_db()
    assert challenge.options[challenge.correct_index] == "1\n2"
    assert Attempt.objects.get(challenge=challenge).is_correct
