"""Browser fixtures: Debian's Chromium driven by Playwright, one instance per test process.

Imported once by conftest.py: a session fixture imported into two test modules would start two
Playwright instances in one thread, which Playwright's sync API refuses. Skipped, naming the package
and the command that installs it, when no Chromium is found; with REQUIRE_BROWSER=1 (as .ci/run
sets) a missing browser fails the run.
Any console error or uncaught page error fails the test that caused it.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

from challengeapp.tests.fakes.machine import INSTALL_CHROMIUM, unavailable

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    # CHROMIUM_PATH, else PATH (Debian's package puts it at /usr/bin/chromium); tools/system-packages
    # looks in the same places.
    for candidate in [
        os.environ.get("CHROMIUM_PATH"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ]:
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = (
            "NO CHROMIUM: browser tests are skipped; install it: "
            f"{INSTALL_CHROMIUM}, or set CHROMIUM_PATH to a Chromium"
        )
        warnings.warn(message, stacklevel=2)
        unavailable("REQUIRE_BROWSER", message)
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
    # itself (assertions on the database) are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class ConsoleWatch:
    def __init__(self, page, expected: tuple[str, ...] = ()):
        self.errors: list[str] = []
        self.expected = expected
        page.on("console", lambda message: message.type == "error" and self.record(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def record(self, text: str) -> None:
        # Chromium logs every 4xx response as a console error; a test that provokes one on purpose
        # names it.
        if not any(fragment in text for fragment in self.expected):
            self.errors.append(text)


@pytest.fixture
def page_factory(browser, live_server):
    contexts, watches = [], []

    def new_page(*, expected_console_errors: tuple[str, ...] = (), **context_options):
        context = browser.new_context(base_url=live_server.url, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        watches.append(ConsoleWatch(page, expected_console_errors))
        return page

    yield new_page
    for context in contexts:
        context.close()
    errors = [error for watch in watches for error in watch.errors]
    assert errors == [], f"console errors: {errors}"


def sign_in(page, name: str = "Ada Lovelace") -> None:
    page.goto("/")
    assert "/sign-in/" in page.url
    page.get_by_label("Display name").fill(name)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
