"""Recently verified tokens and their claims, so a browser's many requests with one token pay for
one RS256 verification."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from challengeapp.identity.claims import SessionClaims

# A key that disappears from the JWKS keeps its already-verified tokens for at most this long.
VERIFIED_TOKEN_TTL = 60.0
MAX_VERIFIED_TOKENS = 10_000


class VerifiedTokens:
    """Only successes are kept, each until VERIFIED_TOKEN_TTL has passed (the caller still checks
    exp). `configuration` is everything a verdict depends on besides the token: when it changes
    (tests override settings), every entry is forgotten."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[str, tuple[float, SessionClaims]] = OrderedDict()
        self._configuration: tuple | None = None
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, configuration: tuple, token: str) -> SessionClaims | None:
        if not isinstance(token, str):
            return None
        with self._lock:
            if configuration != self._configuration:
                self._entries.clear()
                self._configuration = configuration
                return None
            entry = self._entries.get(token)
            if entry is None:
                return None
            cached_until, claims = entry
            if time.monotonic() > cached_until:
                del self._entries[token]
                return None
            return claims

    def put(self, configuration: tuple, token: str, claims: SessionClaims) -> None:
        with self._lock:
            if configuration != self._configuration:
                self._entries.clear()
                self._configuration = configuration
            self._entries[token] = (time.monotonic() + VERIFIED_TOKEN_TTL, claims)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._configuration = None


verified_tokens = VerifiedTokens(max_entries=MAX_VERIFIED_TOKENS)
