"""A local production-like run on plain HTTP: DEBUG off, gunicorn, http://127.0.0.1.

Secure cookies never travel over plain HTTP, so with them on the development sign-in form fails its
CSRF check there. SECURE_COOKIES=0 turns them off for such a run; a deployment keeps them on.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from challengeapp.tests.fakes.live_server import LiveServer, drop_database, sqlite_database

BASE_DIR = Path(__file__).resolve().parents[2]
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """What matters of a browser here: a cookie jar that keeps Secure cookies off plain HTTP, the
    Origin header on a form POST, and redirects followed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base_url + path))

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(
            self.base_url + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Origin": self.base_url, "Content-Type": "application/x-www-form-urlencoded"},
        )
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self._opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture(scope="module")
def plain_http_server(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("plain-http")
    url = sqlite_database(tmp)
    server = LiveServer(database_url=url, signing_key_path=tmp / "key.pem", extra_env={"SECURE_COOKIES": "0"})
    try:
        with server:
            yield server
    finally:
        drop_database(url)


def test_the_sign_in_form_works_over_plain_http_with_debug_off(plain_http_server: LiveServer) -> None:
    browser = Browser(plain_http_server.url)
    status, page = browser.get("/sign-in/")
    assert status == 200
    [csrf_token] = CSRF_FIELD.findall(page)

    status, page = browser.post_form(
        "/sign-in/", {"csrfmiddlewaretoken": csrf_token, "display_name": "Ada", "email": ""}
    )

    # Signed in and sent on to the practice page, which greets the learner by name.
    assert status == 200, page[:500]
    assert "Ada" in page and 'name="difficulty"' in page


def settings_seen(**environment: str) -> str:
    """SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE as Django starts with `environment`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DEV_SIGN_IN": "1",
        "SECRET_KEY": "x" * 50,
        "DEV_SIGNING_KEY_PATH": os.environ["DEV_SIGNING_KEY_PATH"],
        **environment,
    }
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()\n"
        "from django.conf import settings\n"
        "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.strip()


@pytest.mark.parametrize(
    ("environment", "seen"),
    [
        ({"DEBUG": "0"}, "True True"),
        ({"DEBUG": "0", "SECURE_COOKIES": "0"}, "False False"),
        ({"DEBUG": "0", "SECURE_SSL_REDIRECT": "0"}, "True True"),  # a TLS proxy redirects itself
        ({"DEBUG": "1"}, "False False"),
    ],
    ids=["production", "secure cookies off", "redirect off only", "debug"],
)
def test_cookies_are_secure_with_debug_off_unless_turned_off(environment: dict[str, str], seen: str) -> None:
    assert settings_seen(**environment) == seen
