"""Fixtures that switch the settings to Clerk, for tests that import them:

    from challengeapp.tests.fakes.clerk_fixtures import clerk_pem, clerk_jwks  # noqa: F401

Both answer a `ClerkTestSetup`: `setup.token(**claim_overrides)` mints a genuine session token for
the configured instance; `setup.jwks` is the FakeJwks server (clerk_jwks only). `clerk_clock`
moves the key and token caches' clock forward instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from challengeapp.identity import identity_caches_clear
from challengeapp.tests.fakes.clerk import (
    TEST_AUTHORIZED_PARTY,
    TEST_FRONTEND_API_HOST,
    TEST_ISSUER,
    TEST_PUBLISHABLE_KEY,
    FakeJwks,
    SigningKey,
    mint_token,
    signing_key,
)
from config.settings import content_security_policy


@dataclass
class ClerkTestSetup:
    key: SigningKey
    jwks: FakeJwks | None = None

    def token(self, **overrides: Any) -> str:
        return mint_token(**{"key": self.key, **overrides})


def _use_clerk(settings, *, jwt_key: str, jwks_url: str, secret_key: str) -> None:
    # A fake JWKS server of an earlier test may have had the same port, hence the same URL.
    identity_caches_clear()
    settings.DEV_SIGN_IN = False
    settings.CLERK_ENABLED = True
    settings.CLERK_PUBLISHABLE_KEY = TEST_PUBLISHABLE_KEY
    settings.CLERK_FRONTEND_API_HOST = TEST_FRONTEND_API_HOST
    settings.CONTENT_SECURITY_POLICY = content_security_policy(TEST_FRONTEND_API_HOST)
    settings.CLERK_ISSUER = TEST_ISSUER
    settings.CLERK_AUTHORIZED_PARTIES = [TEST_AUTHORIZED_PARTY]
    settings.CLERK_JWT_KEY = jwt_key
    settings.CLERK_JWKS_URL = jwks_url
    settings.CLERK_SECRET_KEY = secret_key


@pytest.fixture
def clerk_pem(settings) -> ClerkTestSetup:
    """Clerk with CLERK_JWT_KEY: tokens verify with the PEM, no network."""
    key = signing_key()
    _use_clerk(
        settings,
        jwt_key=key.public_pem,
        # Unreachable on purpose: PEM mode must never fetch.
        jwks_url="http://127.0.0.1:9/v1/jwks",
        secret_key="",
    )
    return ClerkTestSetup(key=key)


@pytest.fixture
def clerk_jwks(settings) -> Iterator[ClerkTestSetup]:
    """Clerk with a JWKS served on 127.0.0.1 (a fresh server, so a fresh key cache, per test)."""
    key = signing_key()
    with FakeJwks([key]) as jwks:
        _use_clerk(settings, jwt_key="", jwks_url=jwks.url, secret_key="sk_test_x")
        settings.CLERK_JWKS_TIMEOUT = 2.0
        yield ClerkTestSetup(key=key, jwks=jwks)


@pytest.fixture
def clerk_clock(monkeypatch):
    """The clock of the JWKS cache and of the verified-token cache, moved forward by tests instead of
    sleeping. Both read time.monotonic (PyJWT's JWKS client and cache call it directly), so it is
    shifted for the whole process while the test runs; durations measured within a step still hold.
    """

    class Clock:
        offset = 0.0

        def advance(self, seconds: float) -> None:
            self.offset += seconds

    fake = Clock()
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + fake.offset)
    return fake
