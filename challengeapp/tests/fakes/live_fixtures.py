"""Fixtures for tests against a live gunicorn: a fresh database per backend, the development
signing key the servers read, and tokens signed with it in the test process.

    from challengeapp.tests.fakes.live_fixtures import database_url, mint_token, signing_key_path  # noqa: F401
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from challengeapp.identity import dev_session_token_issue
from challengeapp.tests.fakes.live_server import (
    drop_database,
    postgres_available,
    postgres_database,
    sqlite_database,
)
from challengeapp.tests.fakes.machine import unavailable


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        url = sqlite_database(tmp_path_factory.mktemp("live-sqlite"))
    else:
        available, reason = postgres_available()
        if not available:
            unavailable(
                "REQUIRE_POSTGRES",
                f"{reason} (CI starts PostgreSQL; locally: "
                "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)",
            )
        url = postgres_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="module")
def signing_key_path(tmp_path_factory):
    # Created by the first token the test process mints; the servers read the same file.
    return tmp_path_factory.mktemp("live-keys") / "dev-signing-key.pem"


@pytest.fixture
def mint_token(settings, signing_key_path):
    """Sign development tokens in this process with the key file the servers use."""
    settings.DEV_SIGN_IN = True
    settings.DEV_SIGNING_KEY_PATH = signing_key_path

    def mint(user_id: str) -> str:
        return dev_session_token_issue(user_id=user_id, session_id=f"sess_{user_id}")

    return mint
