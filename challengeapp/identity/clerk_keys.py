"""Clerk's public keys: the PEM in CLERK_JWT_KEY (no network at all), or the JWKS at CLERK_JWKS_URL.

The JWKS is Clerk's Backend API endpoint (https://api.clerk.com/v1/jwks by default), authorised
with `Authorization: Bearer <CLERK_SECRET_KEY>`. PyJWT's PyJWKClient parses it, matches the kid,
keeps the set for CLERK_JWKS_CACHE_SECONDS and, after a successful fetch, refetches for an unknown
kid at most once per CLERK_JWKS_MIN_REFETCH_SECONDS (its lock makes concurrent callers share that
fetch). `ClerkJwksClient` overrides only what it lacks; each override names the gap.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from challengeapp.core.errors import IdentityUnavailable, InvalidToken
from challengeapp.identity.claims import ALGORITHM
from challengeapp.identity.messages import IDENTITY_UNAVAILABLE, TOKEN_UNKNOWN_KEY

logger = logging.getLogger("challengeapp.identity")

MAX_JWKS_BYTES = 256 * 1024
MAX_JWKS_KEYS = 50
READ_CHUNK_BYTES = 64 * 1024
MAX_JWKS_CLIENTS = 8  # one per configuration; more than one only happens in tests

# Built once per process: loading the trust store per request costs milliseconds.
_SSL_CONTEXT = ssl.create_default_context()


# --- CLERK_JWT_KEY --------------------------------------------------------------------------------


def pem_public_key(pem: str) -> rsa.RSAPublicKey:
    """The key in CLERK_JWT_KEY; IdentityUnavailable if it is not an RSA public key."""
    key = _pem_public_key_loaded(pem)
    if key is None:
        raise IdentityUnavailable(IDENTITY_UNAVAILABLE)
    return key


@functools.lru_cache(maxsize=4)
def _pem_public_key_loaded(pem: str) -> rsa.RSAPublicKey | None:
    # Cached per PEM, so a misconfiguration is logged once, not on every request.
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, rsa.RSAPublicKey):
        logger.error("CLERK_JWT_KEY is not an RSA public key in PEM form; no session can be verified")
        return None
    return key


# --- JWKS -----------------------------------------------------------------------------------------


def jwks_public_key(kid: str) -> rsa.RSAPublicKey:
    """Clerk's key `kid` from the JWKS: InvalidToken if the JWKS has no such key,
    IdentityUnavailable if the JWKS cannot be had."""
    client = _jwks_client()
    try:
        return client.get_signing_key(kid).key
    except PyJWKClientConnectionError:  # JwksFetchFailed included
        raise IdentityUnavailable(IDENTITY_UNAVAILABLE) from None
    except PyJWKClientError:  # no key with this kid
        raise InvalidToken(TOKEN_UNKNOWN_KEY) from None


class JwksFetchFailed(PyJWKClientConnectionError):
    """No usable JWKS: network, HTTP status, size, deadline or content; or the last attempt
    failed less than CLERK_JWKS_MIN_REFETCH_SECONDS ago."""


class _RedirectsRefused(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the secret key's Authorization header to wherever it points; a 3xx
    # answer then fails the fetch like any other error status.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class ClerkJwksClient(PyJWKClient):
    """PyJWKClient for Clerk's JWKS, with a bounded fetch that also backs off after a failure,
    and the keys already fetched kept serving while the endpoint is down or slow."""

    def __init__(
        self, *, url: str, secret_key: str, timeout: float, cache_seconds: float, min_refetch_seconds: float
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "CodeDrill"}
        if secret_key:
            headers["Authorization"] = f"Bearer {secret_key}"
        super().__init__(
            url,
            # PyJWKClient's per-kid LRU never expires: a key dropped from the JWKS would verify forever.
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=cache_seconds,
            headers=headers,
            timeout=timeout,
            ssl_context=_SSL_CONTEXT,
            cooldown_duration=min_refetch_seconds,
        )
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=_SSL_CONTEXT), _RedirectsRefused()
        )
        self._failed_at: float | None = None
        self._fetching = False

    def get_signing_key(self, kid: str) -> PyJWK:
        # Gap: PyJWKClient.get_signing_key holds one lock around every lookup, fetches included, so
        # while one thread waits on the endpoint (up to CLERK_JWKS_TIMEOUT) every verification would
        # wait too. A key already held is served without the lock: always while the set is fresh,
        # and while it is stale if another thread is already fetching its replacement.
        held = self.jwk_set_cache.jwk_set_with_timestamp
        if held is not None:
            key = self.match_kid(held.get_jwk_set().keys, kid)
            if key is not None and (self._fetching or not self.jwk_set_cache.is_expired()):
                return key
        return super().get_signing_key(kid)

    def get_jwk_set(self, refresh: bool = False) -> PyJWKSet:
        # Gap: once the set's lifespan has passed, JWKSetCache.get() answers nothing and PyJWKClient
        # lets the failure of the new fetch through, so an outage at the endpoint would reject every
        # token, even those signed with keys fetched minutes ago. The expired set keeps serving
        # until a fetch succeeds; an unknown kid's forced refresh still fails (IdentityUnavailable).
        try:
            return super().get_jwk_set(refresh)
        except PyJWKClientConnectionError:
            held = self.jwk_set_cache.jwk_set_with_timestamp
            if refresh or held is None:
                raise
            return held.get_jwk_set()

    def fetch_data(self) -> PyJWKSet:
        # Gaps in PyJWKClient.fetch_data: it reads the answer with json.load, so the body has no size
        # cap and its timeout applies to each socket read, not to the whole answer (a server sending
        # a byte at a time holds the thread for as long as it likes); and only a successful fetch
        # starts its cooldown, so while the endpoint is down every request would fetch again.
        started = time.monotonic()
        if self._failed_at is not None and started - self._failed_at < self.cooldown_duration:
            raise JwksFetchFailed("the last fetch failed moments ago")
        self._fetching = True
        try:
            jwk_set = self._jwk_set_fetched()
        except JwksFetchFailed as error:
            self._failed_at = started
            logger.error(
                "Cannot fetch Clerk's JWKS from %s: %s; tokens signed with keys not already cached "
                "cannot be verified",
                self.uri,
                error,
            )
            raise
        finally:
            self._fetching = False
        self._failed_at = None
        # Starts PyJWKClient's cooldown for unknown kids, as its own fetch_data does.
        self._last_successful_fetch = time.monotonic()
        # A PyJWKSet, which get_jwk_set caches as it is (it parses only raw payloads).
        return jwk_set

    def _jwk_set_fetched(self) -> PyJWKSet:
        request = urllib.request.Request(self.uri, headers=self.headers)
        deadline = time.monotonic() + self.timeout
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = b""
                while len(body) <= MAX_JWKS_BYTES:
                    chunk = response.read1(READ_CHUNK_BYTES)  # what has arrived, not a full chunk
                    if not chunk:
                        break
                    body += chunk
                    if time.monotonic() > deadline:
                        raise JwksFetchFailed(f"no complete answer within {self.timeout} s")
        except urllib.error.HTTPError as error:  # redirects included, see _RedirectsRefused
            error.close()
            raise JwksFetchFailed(f"HTTP {error.code}") from None
        # Timeouts, refused connections, bad URLs, answers that are not HTTP.
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise JwksFetchFailed(f"{type(error).__name__}: {reason}") from None
        if len(body) > MAX_JWKS_BYTES:
            raise JwksFetchFailed(f"answer larger than {MAX_JWKS_BYTES} bytes")
        return _jwk_set_parsed(body)


def _jwk_set_parsed(body: bytes) -> PyJWKSet:
    """The RS256 keys of a JWKS answer, parsed by PyJWKSet (which skips keys it cannot use)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise JwksFetchFailed("the answer is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksFetchFailed('the answer has no "keys" list')
    try:
        jwk_set = PyJWKSet(entries[:MAX_JWKS_KEYS])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, UnsupportedAlgorithm):
        raise JwksFetchFailed("the answer holds no usable key") from None
    # Tokens must be RS256; a key Clerk marks for another algorithm (or a private key) is no use.
    jwk_set.keys = [
        key
        for key in jwk_set.keys
        if key.algorithm_name == ALGORITHM and isinstance(key.key, rsa.RSAPublicKey)
    ]
    if not jwk_set.keys:
        raise JwksFetchFailed("the answer holds no usable RSA signing key")
    return jwk_set


_jwks_clients: dict[tuple, ClerkJwksClient | None] = {}
_jwks_clients_lock = threading.Lock()
_NOT_MADE = object()


def jwks_clients_clear() -> None:
    """Forget every fetched JWKS."""
    with _jwks_clients_lock:
        _jwks_clients.clear()


def _jwks_client() -> ClerkJwksClient:
    """The client for the current settings (read on every call: tests override them)."""
    config = (
        settings.CLERK_JWKS_URL,
        settings.CLERK_SECRET_KEY,
        float(settings.CLERK_JWKS_TIMEOUT),
        float(settings.CLERK_JWKS_CACHE_SECONDS),
        float(settings.CLERK_JWKS_MIN_REFETCH_SECONDS),
    )
    client = _jwks_clients.get(config, _NOT_MADE)
    if client is _NOT_MADE:
        with _jwks_clients_lock:
            client = _jwks_clients.get(config, _NOT_MADE)
            if client is _NOT_MADE:
                while len(_jwks_clients) >= MAX_JWKS_CLIENTS:
                    _jwks_clients.pop(next(iter(_jwks_clients)))
                client = _jwks_clients[config] = _jwks_client_made(config)
    if client is None:
        raise IdentityUnavailable(IDENTITY_UNAVAILABLE)
    return client


def _jwks_client_made(config: tuple) -> ClerkJwksClient | None:
    url, secret_key, timeout, cache_seconds, min_refetch_seconds = config
    try:
        return ClerkJwksClient(
            url=url,
            secret_key=secret_key,
            timeout=timeout,
            cache_seconds=cache_seconds,
            min_refetch_seconds=min_refetch_seconds,
        )
    except PyJWKClientError as error:  # a URL that is not http(s), a lifespan that is not positive
        # Kept as None for this configuration, so this is logged once, not on every request.
        logger.error("The CLERK_JWKS_* settings cannot be used: %s; no session can be verified", error)
        return None
