"""Write the code in Chromium, with JavaScript (htmx swaps the result, focus lands on it) and
without; every state checked by axe-core."""

from __future__ import annotations

import pytest

from challengeapp.models import CodeProblem
from challengeapp.tests.fakes.a11y import AxeAudit, cut_code_blocks, horizontal_overflow
from challengeapp.tests.fakes.browser_fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.mark.parametrize(("theme", "width"), [("light", 1280), ("light", 375), ("dark", 1280), ("dark", 375)])
def test_get_a_problem_run_submit_and_give_up_with_javascript(sandbox, page_factory, theme, width):
    page = page_factory(color_scheme=theme, viewport={"width": width, "height": 800})
    audit = AxeAudit(f"{theme} {width}px")
    sign_in(page, f"Coder {theme}")
    page.get_by_role("link", name="Write code").click()
    audit.check(page, "write the code, no problems yet")
    page.get_by_label("Medium").check()
    page.get_by_label("Topic").select_option("algorithms")
    page.get_by_role("button", name="New coding problem").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Write the code")
    problem = CodeProblem.objects.get()
    audit.check(page, "problem, nothing run yet")

    editor = page.get_by_label("Your Python code")
    expect(editor).to_have_value(problem.starter_code)
    page.get_by_role("button", name="Run examples").click()
    result = page.locator("#code-result")
    expect(result.locator("[data-result]")).to_contain_text("Not yet.")
    expect(result.locator("[data-result]")).to_contain_text("examples passed")
    expect(result.locator("[data-hidden-tests]")).to_have_count(0)
    expect(result.get_by_role("heading", name="Result")).to_be_focused()
    audit.check(page, "examples run, failing")

    editor.fill("x")
    editor.press("Home")
    editor.press("Tab")
    expect(editor).to_have_value("    x")
    editor.press("Shift+Tab")
    expect(editor).to_have_value("x")
    editor.press("Escape")
    editor.press("Tab")
    expect(editor).not_to_be_focused()

    editor.fill(problem.reference_solution)
    editor.press("Control+Enter")
    expect(result.locator("[data-result]")).to_contain_text("Solved!")
    expect(result.locator("[data-hidden-tests]")).to_contain_text(
        f"{len(problem.hidden_tests)} of {len(problem.hidden_tests)} passed"
    )
    expect(result.get_by_role("heading", name="Result")).to_be_focused()
    expect(page.locator("#status-message")).to_contain_text("Passed")
    audit.check(page, "solved, solution shown")
    assert horizontal_overflow(page) == 0 and cut_code_blocks(page) == []

    page.get_by_role("link", name="← Write the code").click()
    expect(page.locator("[data-problem-status]")).to_contain_text("Solved")
    audit.check(page, "write the code, one problem solved")
    page.get_by_role("button", name="New coding problem").click()
    page.get_by_role("button", name="Give up and show the solution").click()
    expect(page.get_by_role("heading", name="The solution")).to_be_visible()
    audit.check(page, "gave up, solution shown")
    audit.assert_clean()


def test_the_same_flow_works_without_javascript(sandbox, page_factory):
    page = page_factory(java_script_enabled=False)
    sign_in(page, "No Script")
    page.goto("/code/")
    page.get_by_role("button", name="New coding problem").click()
    problem = CodeProblem.objects.get()
    page.get_by_label("Your Python code").fill("def nothing(:\n")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[data-result]")).to_contain_text("SyntaxError")
    assert page.url.endswith("#code-result")  # the page opens at the result
    expect(page.get_by_label("Your Python code")).to_have_value("def nothing(:\n")
    page.get_by_label("Your Python code").fill(problem.reference_solution)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[data-result]")).to_contain_text("Solved!")


def test_a_javascript_problem_run_submitted_and_solved(node_sandbox, page_factory):
    page = page_factory(viewport={"width": 1280, "height": 800})
    audit = AxeAudit("javascript")
    sign_in(page, "Script Writer")
    page.goto("/code/")
    page.get_by_label("Topic").select_option("javascript")
    page.get_by_role("radio", name="JavaScript").check()
    audit.check(page, "write the code, JavaScript chosen")
    page.get_by_role("button", name="New coding problem").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Write the code")
    problem = CodeProblem.objects.get()
    assert problem.language == "javascript"
    editor = page.get_by_label("Your JavaScript code")
    expect(editor).to_have_value(problem.starter_code)
    expect(editor).to_have_attribute("data-language", "javascript")

    page.get_by_role("button", name="Run examples").click()
    result = page.locator("#code-result")
    expect(result.locator("[data-result]")).to_contain_text("Not yet.")
    expect(result.get_by_role("heading", name="Result")).to_be_focused()
    example = problem.examples[0]
    expect(result.locator("table")).to_contain_text(f"{problem.function_name}({example['args']})")
    audit.check(page, "JavaScript examples run, failing")

    editor.fill(problem.reference_solution)
    page.get_by_role("button", name="Submit").click()
    expect(result.locator("[data-result]")).to_contain_text("Solved!")
    expect(result.get_by_role("heading", name="Result")).to_be_focused()
    expect(page.get_by_role("region", name="Code snippet (javascript)")).to_be_visible()
    audit.check(page, "JavaScript solved, solution shown")
    audit.assert_clean()
