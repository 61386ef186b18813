"""The `fake_openai` fixture: a fake OpenAI-compatible server, with settings pointing at it.

Import it into a test module (or a conftest) with
`from challengeapp.tests.fakes.openai_fixtures import fake_openai  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from challengeapp.tests.fakes.openai_server import FakeOpenAIServer

FAKE_API_KEY = "sk-test"
# Long enough for a loaded CI machine to answer a loopback request, short enough that a test of a
# hanging server (which sets its own, shorter timeout) never waits long.
FAKE_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def fake_openai(settings, monkeypatch) -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    settings.OPENAI_API_KEY = FAKE_API_KEY
    settings.OPENAI_TIMEOUT = FAKE_TIMEOUT_SECONDS
    # The SDK reads OPENAI_BASE_URL from the environment, as it does in production.
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    # No pause before the SDK's retry (its backoff, not a Retry-After, which is still honoured):
    # the tests count requests, and a missing constant after an SDK upgrade fails them loudly.
    monkeypatch.setattr("openai._base_client.INITIAL_RETRY_DELAY", 0.0)
    try:
        yield server
    finally:
        server.stop()
