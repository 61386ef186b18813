"""The "Write the code" editor in Chromium: the highlighted layer behind the textarea (it follows
typing and scrolling, its colours are readable in both themes), the editing keys, leaving it with
the keyboard, axe-core in light and dark; without JavaScript, or without Prism, a plain textarea.
And, without a browser: only the problem page loads the editor (deferred, before Prism), the
vendored files carry their licence, and nothing loads a script or a stylesheet from elsewhere."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from challengeapp.models import CodeProblem
from challengeapp.tests.fakes.a11y import AxeAudit
from challengeapp.tests.fakes.browser_fixtures import sign_in
from challengeapp.tests.test_accessible_pages import contrast

ROOT = Path(__file__).resolve().parents[2]
LABEL = "Your Python code"


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_problem(page, name: str, *, scripted: bool = True) -> CodeProblem:
    sign_in(page, name)
    page.goto("/code/")
    page.get_by_role("button", name="New coding problem").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Write the code")
    if scripted:
        # The editor script is deferred: keys pressed before it has taken the textarea are a
        # plain textarea's (Tab leaves it), so wait until it says it is ready.
        expect(page.locator("textarea[data-editor-ready]")).to_have_count(1)
    return CodeProblem.objects.get()


def hex_colour(css_colour: str) -> str:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_colour)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


def selection(editor) -> list[int]:
    return editor.evaluate("(editor) => [editor.selectionStart, editor.selectionEnd]")


def select(editor, start: int, end: int) -> None:
    editor.evaluate("(editor, [start, end]) => editor.setSelectionRange(start, end)", [start, end])


# How far apart two screenshots are: the pixels that differ clearly, against the dark (text)
# pixels of the first. Decoded in the page (Playwright's Python has no image library).
PIXELS_APART = """async ([first, second]) => {
  const decode = async (data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    return canvas.getContext("2d").getImageData(0, 0, bitmap.width, bitmap.height).data;
  };
  const [one, two] = await Promise.all([decode(first), decode(second)]);
  let differing = 0, dark = 0;
  for (let i = 0; i < one.length; i += 4) {
    const delta = Math.max(...[0, 1, 2].map((c) => Math.abs(one[i + c] - two[i + c])));
    if (delta > 64) differing++;
    if (one[i] < 128) dark++;
  }
  return [differing, dark];
}"""

# The textarea's own text, drawn in black with the layer hidden; then the layer's, all in black,
# with the textarea's text transparent again. Inline styles set from a script pass the CSP.
TEXTAREA_TEXT = """(editor) => {
  editor.blur();
  editor.style.color = "rgb(0, 0, 0)";
  editor.parentElement.querySelector("pre").style.visibility = "hidden";
}"""
LAYER_TEXT = """(editor) => {
  editor.style.color = "";
  const layer = editor.parentElement.querySelector("pre");
  layer.style.visibility = "";
  for (const element of [layer, ...layer.querySelectorAll(".token")]) element.style.color = "rgb(0, 0, 0)";
}"""


# Anti-aliasing differs a little between a textarea's text and a <pre>'s (a few per cent of the
# pixels); a layer one pixel off differs in a fifth or more.
DRIFT = 0.05


def text_drift(page, editor) -> float:
    """The share of the textarea's text pixels that the highlighted layer does not draw in the
    same place (0 when every character of the layer sits exactly under the textarea's)."""
    editor.evaluate(TEXTAREA_TEXT)
    textarea_shot = editor.screenshot()
    editor.evaluate(LAYER_TEXT)
    layer_shot = editor.screenshot()
    shots = [base64.b64encode(shot).decode() for shot in (textarea_shot, layer_shot)]
    differing, dark = page.evaluate(PIXELS_APART, shots)
    assert dark > 1000  # there was text to compare
    return differing / dark


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_starter_code_is_highlighted_readably_and_the_highlight_follows_typing(
    sandbox, page_factory, theme
):
    page = page_factory(color_scheme=theme, viewport={"width": 1280, "height": 900})
    audit = AxeAudit(f"editor {theme}")
    problem = open_problem(page, f"Highlight {theme}")
    editor = page.get_by_role("textbox", name=LABEL)
    expect(editor).to_have_value(problem.starter_code)
    layer = page.locator("pre.code-editor-layer")
    expect(layer).to_have_attribute("aria-hidden", "true")
    expect(layer.locator(".token.keyword", has_text=re.compile(r"^def$"))).to_have_count(1)
    expect(layer.locator(".token.comment")).to_have_text(["# Your code here"])
    assert layer.inner_text().rstrip() == problem.starter_code.rstrip()
    # The learner reads the layer; the textarea's own text is transparent, its caret is not.
    colours = editor.evaluate("(e) => [getComputedStyle(e).color, getComputedStyle(e).caretColor]")
    assert colours[0] == "rgba(0, 0, 0, 0)" and colours[1] != colours[0]
    audit.check(page, "starter code highlighted")

    editor.fill('class Tree:\n    """A tree."""\n    size = 3 + len("ab")  # grows\n')
    expect(layer.locator(".token.class-name")).to_have_text(["Tree"])
    expect(layer.locator(".token.keyword")).to_have_text(["class"])
    expect(layer.locator(".token.builtin")).to_have_text(["len"])
    expect(layer.locator(".token.number")).to_have_text(["3"])
    expect(layer.locator(".token.comment")).to_have_text(["# grows"])
    assert layer.inner_text().rstrip() == editor.input_value().rstrip()
    background = hex_colour(
        page.locator(".code-editor-wrap").evaluate("(w) => getComputedStyle(w).backgroundColor")
    )
    unreadable = {}
    for token in layer.locator(".token").all():
        ratio = contrast(hex_colour(token.evaluate("(t) => getComputedStyle(t).color")), background)
        if ratio < 4.5:
            unreadable[token.inner_text()] = round(ratio, 2)
    assert unreadable == {}
    audit.check(page, "typed code highlighted")

    # What the learner types is text in the layer, never markup.
    editor.fill('s = "<img src=x onerror=alert(1)>"  # <b>bold</b>')
    expect(layer.locator(".token.comment")).to_have_text(["# <b>bold</b>"])
    expect(layer.locator("img, b")).to_have_count(0)
    audit.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_layer_stays_under_the_text_as_the_textarea_scrolls_and_resizes(sandbox, page_factory):
    page = page_factory(viewport={"width": 1280, "height": 900})
    open_problem(page, "Scroller")
    editor = page.get_by_role("textbox", name=LABEL)
    layer = page.locator("pre.code-editor-layer")
    code = "\n".join(f"line_{n} = {n} + len('ab')  # note {'x' * n}\tend" for n in range(80))
    editor.fill(code)
    expect(layer.locator(".token.comment")).to_have_count(80)
    assert text_drift(page, editor) < DRIFT

    # Scrolled down and sideways, the textarea made taller, then the window narrowed to a phone's.
    editor.evaluate("(e) => { e.scrollTop = 333; e.scrollLeft = 77; }")
    assert text_drift(page, editor) < DRIFT
    editor.evaluate("(e) => { e.style.height = '30rem'; }")
    page.set_viewport_size({"width": 375, "height": 800})
    editor.evaluate("(e) => { e.scrollTop = 1000; e.scrollLeft = 200; }")
    assert text_drift(page, editor) < DRIFT
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0

    # The measure sees a layer one pixel off.
    layer.evaluate("(layer) => { layer.style.marginTop = '1px'; }")
    assert text_drift(page, editor) > 0.2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_tab_and_shift_tab_indent_one_line_or_every_selected_line_and_undo_restores(sandbox, page_factory):
    page = page_factory()
    open_problem(page, "Indenter")
    editor = page.get_by_role("textbox", name=LABEL)

    editor.fill("x = 1")
    editor.press("Home")
    editor.press("Tab")
    expect(editor).to_have_value("    x = 1")
    assert selection(editor) == [4, 4]
    editor.press("Shift+Tab")
    expect(editor).to_have_value("x = 1")
    editor.press("Tab")
    editor.press("Control+z")
    expect(editor).to_have_value("x = 1")

    # Several lines: from inside the first to inside the last; the blank line stays blank.
    editor.fill("if a:\n    b()\n\nc()")
    select(editor, 2, 17)
    editor.press("Tab")
    expect(editor).to_have_value("    if a:\n        b()\n\n    c()")
    assert selection(editor) == [6, 29]
    editor.press("Shift+Tab")
    expect(editor).to_have_value("if a:\n    b()\n\nc()")
    assert selection(editor) == [2, 17]
    editor.press("Shift+Tab")
    expect(editor).to_have_value("if a:\nb()\n\nc()")
    editor.press("Control+z")
    expect(editor).to_have_value("if a:\n    b()\n\nc()")

    # A selection that ends at the start of a line leaves that line alone; a line with two
    # spaces loses two.
    editor.fill("  a\n      b\nc")
    select(editor, 0, 12)
    editor.press("Shift+Tab")
    expect(editor).to_have_value("a\n  b\nc")
    assert selection(editor) == [0, 6]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_enter_keeps_the_indentation_and_opens_a_block_after_a_colon(sandbox, page_factory):
    page = page_factory()
    open_problem(page, "Enterer")
    editor = page.get_by_role("textbox", name=LABEL)
    editor.fill("")
    editor.press_sequentially("def f(x):")
    editor.press("Enter")
    editor.press_sequentially("total = x")
    editor.press("Enter")
    editor.press_sequentially("for i in x:")
    editor.press("Enter")
    editor.press_sequentially("total += i")
    editor.press("Enter")
    editor.press("Shift+Tab")
    editor.press_sequentially("return total")
    editor.press("Enter")
    editor.press("Control+z")  # one step takes back the line break and its indentation
    expect(editor).to_have_value(
        "def f(x):\n    total = x\n    for i in x:\n        total += i\n    return total"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_javascript_problem_is_highlighted_as_javascript_and_a_brace_opens_a_block(sandbox, page_factory):
    page = page_factory()
    open_problem(page, "Scripter")
    # Problems are all Python so far: the page is served as a JavaScript problem's would be.

    def as_javascript(route):
        response = route.fetch()
        body = response.text().replace('data-language="python"', 'data-language="javascript"')
        route.fulfill(response=response, body=body)

    page.route(re.compile(r"/code/\d+/$"), as_javascript)
    page.reload()
    editor = page.get_by_role("textbox", name=LABEL)
    expect(page.locator("pre.code-editor-layer code")).to_have_class("language-javascript")
    editor.fill("")
    editor.press_sequentially("function twice(n) {")
    editor.press("Enter")
    editor.press_sequentially("return `${n}` + n; // twice")
    expect(editor).to_have_value("function twice(n) {\n    return `${n}` + n; // twice")
    layer = page.locator("pre.code-editor-layer")
    expect(layer.locator(".token.keyword")).to_have_text(["function", "return"])
    expect(layer.locator(".token.template-string")).to_have_count(1)
    expect(layer.locator(".token.comment")).to_have_text(["// twice"])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ctrl_enter_submits_and_escape_then_tab_leaves_the_editor(sandbox, page_factory):
    page = page_factory(viewport={"width": 1280, "height": 900})
    problem = open_problem(page, "Submitter")
    editor = page.get_by_role("textbox", name=LABEL)
    expect(editor).to_have_accessible_name(LABEL)
    expect(editor).to_have_accessible_description(
        re.compile(r"Tab indents, Shift-Tab dedents, Ctrl-Enter submits")
    )

    editor.focus()
    editor.press("Escape")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Run examples")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(editor).to_be_focused()
    page.keyboard.press("Tab")  # not released any more: it indents
    expect(editor).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Tab")
    expect(editor).not_to_be_focused()

    editor.fill(problem.reference_solution)
    editor.press("Control+Enter")
    result = page.locator("#code-result")
    expect(result.locator("[data-result]")).to_contain_text("Solved!")
    expect(result.get_by_role("heading", name="Result")).to_be_focused()
    expect(editor).to_have_value(problem.reference_solution)
    expect(page.locator("pre.code-editor-layer")).to_have_count(1)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_editor_is_a_plain_textarea_that_submits(sandbox, page_factory):
    page = page_factory(java_script_enabled=False)
    problem = open_problem(page, "Plain", scripted=False)
    editor = page.get_by_label(LABEL)
    expect(editor).to_have_value(problem.starter_code)
    expect(page.locator("pre.code-editor-layer")).to_have_count(0)
    assert editor.evaluate("(e) => getComputedStyle(e).color") != "rgba(0, 0, 0, 0)"
    editor.fill(problem.reference_solution)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[data-result]")).to_contain_text("Solved!")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_prism_the_textarea_stays_plain_and_the_keys_still_work(sandbox, page_factory):
    page = page_factory(expected_console_errors=("Failed to load resource",))
    page.route("**/vendor/prism/**", lambda route: route.abort())
    audit = AxeAudit("no Prism")
    open_problem(page, "No Prism")
    editor = page.get_by_label(LABEL)
    expect(editor).to_have_attribute("data-editor-ready", "")
    expect(page.locator("pre.code-editor-layer")).to_have_count(0)
    audit.check(page, "plain textarea, keys on")
    audit.assert_clean()
    assert editor.evaluate("(e) => getComputedStyle(e).color") != "rgba(0, 0, 0, 0)"
    editor.fill("x")
    editor.press("Home")
    editor.press("Tab")
    expect(editor).to_have_value("    x")


# --- Without a browser ------------------------------------------------------------------------------


EDITOR_SCRIPTS = [
    "js/code-editor.js",  # first: it tells Prism not to highlight the page by itself
    "vendor/prism/prism-core.min.js",
    "vendor/prism/prism-clike.min.js",
    "vendor/prism/prism-python.min.js",
    "vendor/prism/prism-javascript.min.js",
]


@pytest.mark.django_db
def test_only_the_problem_page_loads_the_editor_and_its_scripts_are_deferred(learner_client):
    response = learner_client.post("/code/new/", {"difficulty": "easy", "topic": "python"})
    problem_page = learner_client.get(response["Location"]).content.decode()
    scripts = re.findall(r'<script src="/static/([^"]+)"( defer)?></script>', problem_page)
    editor_scripts = [(path, defer) for path, defer in scripts if path in EDITOR_SCRIPTS]
    assert editor_scripts == [(path, " defer") for path in EDITOR_SCRIPTS]
    assert 'data-code-editor data-language="python"' in problem_page
    for other_page in ["/", "/code/", "/history/"]:
        html = learner_client.get(other_page).content.decode()
        assert "code-editor.js" not in html and "vendor/prism" not in html


def test_every_vendored_file_has_a_licence_beside_it():
    vendored = [path for path in (ROOT / "static" / "vendor").rglob("*") if path.is_file()]
    assert vendored, "nothing vendored"
    unlicensed = [str(path.relative_to(ROOT)) for path in vendored if not (path.parent / "LICENSE").is_file()]
    assert unlicensed == []


# A URL on another site: with a scheme, or scheme-relative ("//host/...").
EXTERNAL = r"""(?:https?:)?//"""
EXTERNAL_SCRIPT = re.compile(rf"""<script\b[^>]*?\bsrc\s*=\s*["']?({EXTERNAL}[^"'>]*)""", re.IGNORECASE)
EXTERNAL_STYLESHEET = re.compile(rf"""<link\b[^>]*?\bhref\s*=\s*["']?({EXTERNAL}[^"'>]*)""", re.IGNORECASE)
EXTERNAL_CSS = re.compile(rf"""(?:@import\s+|url\(\s*)["']?\s*({EXTERNAL}[^"')\s]*)""", re.IGNORECASE)
EXTERNAL_JS = re.compile(rf"""(?:\.src\s*=|import\s*\(?|importScripts\()\s*["'`]({EXTERNAL}[^"'`]*)""")
# Clerk's own scripts come from the deployment's Clerk Frontend API host (its sign-in UI), only
# when Clerk is configured; the Content-Security-Policy names that host and no other.
CLERK_SCRIPTS = {
    "https://{{ clerk_frontend_api_host }}/npm/@clerk/ui@1/dist/ui.browser.js",
    "https://{{ clerk_frontend_api_host }}/npm/@clerk/clerk-js@6/dist/clerk.browser.js",
}


def test_no_page_loads_a_script_or_a_stylesheet_from_another_site():
    found: dict[str, set[str]] = {}
    for path in [*(ROOT / "templates").rglob("*.html"), *(ROOT / "static").rglob("*")]:
        patterns = {
            ".html": [EXTERNAL_SCRIPT, EXTERNAL_STYLESHEET],
            ".css": [EXTERNAL_CSS],
            ".js": [EXTERNAL_JS],
        }.get(path.suffix, [])
        text = path.read_text(encoding="utf-8") if patterns else ""
        for pattern in patterns:
            for url in pattern.findall(text):
                found.setdefault(url, set()).add(str(path.relative_to(ROOT)))
    assert set(found) == CLERK_SCRIPTS, found
    assert found[next(iter(CLERK_SCRIPTS))] == {"templates/_base.html"}


def test_the_check_for_other_sites_sees_a_cdn_script_and_stylesheet():
    page = (
        '<script src="https://cdn.example.com/prism.js" defer></script>'
        '<link rel="stylesheet" href="//cdn.example.com/theme.css">'
    )
    assert EXTERNAL_SCRIPT.findall(page) == ["https://cdn.example.com/prism.js"]
    assert EXTERNAL_STYLESHEET.findall(page) == ["//cdn.example.com/theme.css"]
    assert EXTERNAL_CSS.findall("@import url('https://fonts.example.com/a.css');") == [
        "https://fonts.example.com/a.css"
    ]
