"""Session tokens: who a request comes from. The only module that imports `jwt`.

Every signed-in request carries a Clerk session token (or, with the development sign-in, one we
sign ourselves with Clerk's claim set), and `session_token_verify` is the one place that decides
whether to trust it. It raises only `InvalidToken` (don't trust this token; `expired=True` when a
genuine token is merely old, which Clerk's JavaScript fixes by refreshing it) or
`IdentityUnavailable` (the keys cannot be had right now), whatever it is given.

Where the keys come from, read from settings on every call (tests override settings):
- DEV_SIGN_IN: a development RSA key made on first use and kept at DEV_SIGNING_KEY_PATH;
- CLERK_JWT_KEY: Clerk's PEM public key, no network at all;
- otherwise the JWKS at CLERK_JWKS_URL (Clerk's Backend API, authorised with CLERK_SECRET_KEY),
  cached per process and refetched at most once per CLERK_JWKS_MIN_REFETCH_SECONDS.

Facts this relies on: /work/shared/notes/integrations.md, section A.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import json
import logging
import math
import os
import re
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from jwt.algorithms import RSAAlgorithm

from challengeapp.services.errors import IdentityUnavailable, InvalidToken
from challengeapp.services.turns import step_aside

logger = logging.getLogger("challengeapp.identity")

# --- Messages (tests assert on these) -------------------------------------------------------------

TOKEN_MALFORMED = "The session token is malformed."
TOKEN_WRONG_ALGORITHM = "The session token is not signed with RS256."
TOKEN_WRONG_KIND = "The token is not a session token."
TOKEN_UNKNOWN_KEY = "The session token is signed with a key this site does not know."
TOKEN_BAD_SIGNATURE = "The session token's signature does not match."
TOKEN_EXPIRED = "The session token has expired."
TOKEN_NOT_YET_VALID = "The session token is not valid yet."
TOKEN_WRONG_ISSUER = "The session token was issued by someone else."
TOKEN_WRONG_PARTY = "The session token was issued for another site."
TOKEN_BAD_CLAIMS = "The session token's claims are missing or invalid."
IDENTITY_UNAVAILABLE = "Sign-in cannot be checked right now. Please try again in a minute."

# --- Limits and constants -------------------------------------------------------------------------

MAX_TOKEN_CHARS = 8 * 1024  # a cookie holds 4 KB; a Bearer header gets twice that, no more
MAX_SUBJECT_CHARS = 150  # the User.username the subject becomes
MAX_SESSION_ID_CHARS = 150
MAX_KID_CHARS = 200
MAX_JWKS_BYTES = 256 * 1024
MAX_JWKS_KEYS = 50
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")
ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["exp", "nbf", "iat", "sub", "iss"]
# The `cat` header (clerk/javascript jwtCategories.ts): session tokens and "ignore" are accepted;
# JWT-template and M2M tokens are not session tokens (a template token outlives its session).
SESSION_TOKEN_CATEGORIES = frozenset({"cl_B7d4PD111AAA", "cl_I7d4PD111III"})

# What the development sign-in puts in `azp`: the origin `make run` serves.
DEV_AUTHORIZED_PARTY = "http://127.0.0.1:8000"
DEV_KEY_BITS = 2048


@dataclass(frozen=True)
class SessionClaims:
    """What a verified session token says about the request."""

    user_id: str  # sub: the Clerk user id, our User.username
    session_id: str  # sid, "" when absent
    issued_at: int
    expires_at: int
    authorized_party: str  # azp, "" when absent


# --- Verification ---------------------------------------------------------------------------------


def session_token_verify(token: str) -> SessionClaims:
    """The claims of a genuine, current session token.

    Raises InvalidToken (expired=True only for a genuine token past its exp) or IdentityUnavailable.
    """
    configuration = _configuration_key()
    cached = _verified_tokens.get(configuration, token)
    if cached is not None:
        if cached.expires_at <= time.time() - settings.CLERK_LEEWAY_SECONDS:
            raise InvalidToken(TOKEN_EXPIRED, expired=True)
        return cached
    try:
        claims = _verify(token)
    except (InvalidToken, IdentityUnavailable):
        raise
    # Belt and braces: the steps below map their own errors, but no input may ever cause a 500.
    except (
        jwt.PyJWTError,
        ValueError,
        TypeError,
        KeyError,
        OverflowError,
        RecursionError,
        UnsupportedAlgorithm,
    ):
        raise InvalidToken(TOKEN_MALFORMED) from None
    _verified_tokens.put(configuration, token, claims)
    return claims


def _configuration_key() -> tuple:
    """Everything a verdict depends on besides the token: a settings change empties the cache."""
    return (
        settings.DEV_SIGN_IN,
        settings.DEV_ISSUER,
        str(settings.DEV_SIGNING_KEY_PATH),
        settings.CLERK_JWT_KEY,
        settings.CLERK_JWKS_URL,
        settings.CLERK_ISSUER,
        tuple(settings.CLERK_AUTHORIZED_PARTIES),
        settings.CLERK_LEEWAY_SECONDS,
    )


class _VerifiedTokens:
    """Recently verified tokens and their claims, so a browser's many requests with one token pay
    for one RS256 verification. Only successes are kept, each until its own exp; a key that
    disappears from the JWKS keeps its already-verified tokens for at most VERIFIED_TOKEN_TTL."""

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
            if _monotonic() > cached_until:
                del self._entries[token]
                return None
            return claims

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._configuration = None

    def put(self, configuration: tuple, token: str, claims: SessionClaims) -> None:
        with self._lock:
            if configuration != self._configuration:
                self._entries.clear()
                self._configuration = configuration
            self._entries[token] = (_monotonic() + VERIFIED_TOKEN_TTL, claims)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


VERIFIED_TOKEN_TTL = 60.0
_verified_tokens = _VerifiedTokens(max_entries=10_000)


def _verify(token: Any) -> SessionClaims:
    header = _header_checked(token)
    kid = header.get("kid")
    leeway = settings.CLERK_LEEWAY_SECONDS
    if settings.DEV_SIGN_IN:
        dev_key = _dev_key_or_unavailable()
        if kid is not None and kid != dev_key.kid:
            raise InvalidToken(TOKEN_UNKNOWN_KEY)
        public_key, issuer, parties = dev_key.public_key, settings.DEV_ISSUER, ()
    elif settings.CLERK_JWT_KEY:
        public_key = _pem_public_key(settings.CLERK_JWT_KEY)
        issuer, parties = settings.CLERK_ISSUER, _authorized_parties()
    else:
        if not isinstance(kid, str) or not kid:
            raise InvalidToken(TOKEN_UNKNOWN_KEY)
        public_key = _jwks_cache().public_key(kid)
        issuer, parties = settings.CLERK_ISSUER, _authorized_parties()

    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            leeway=leeway,
            issuer=issuer,
            options={
                "require": REQUIRED_CLAIMS,
                # exp is checked last, below, so that only a token that is right in every other way
                # is reported as expired (PyJWT checks exp before iss).
                "verify_exp": False,
                # Clerk session tokens have no audience; azp is what names the site (checked below).
                "verify_aud": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken(TOKEN_BAD_SIGNATURE) from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken(TOKEN_NOT_YET_VALID) from None
    except jwt.InvalidIssuerError:
        raise InvalidToken(TOKEN_WRONG_ISSUER) from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken(TOKEN_WRONG_ALGORITHM) from None
    except (
        jwt.MissingRequiredClaimError,
        jwt.InvalidIssuedAtError,
        jwt.exceptions.InvalidSubjectError,
        jwt.exceptions.InvalidJTIError,
    ):
        raise InvalidToken(TOKEN_BAD_CLAIMS) from None
    except (
        jwt.PyJWTError,
        ValueError,
        TypeError,
        KeyError,
        OverflowError,
        RecursionError,
        UnsupportedAlgorithm,
    ):
        raise InvalidToken(TOKEN_MALFORMED) from None

    # The signature is genuine from here on: check the claims ourselves, exp last.
    now = time.time()
    exp, nbf, iat = (_numeric_date(claims, name) for name in ("exp", "nbf", "iat"))
    # PyJWT checks these too; kept here so the rule does not hang on its options.
    if iat > now + leeway or nbf > now + leeway:
        raise InvalidToken(TOKEN_NOT_YET_VALID)
    subject = claims["sub"]
    if (
        not isinstance(subject, str)
        or len(subject) > MAX_SUBJECT_CHARS
        or not SUBJECT_PATTERN.fullmatch(subject)
    ):
        raise InvalidToken(TOKEN_BAD_CLAIMS)
    session_id = claims.get("sid", "")
    if not isinstance(session_id, str) or len(session_id) > MAX_SESSION_ID_CHARS:
        raise InvalidToken(TOKEN_BAD_CLAIMS)
    authorized_party = claims.get("azp", "")
    if not isinstance(authorized_party, str):
        raise InvalidToken(TOKEN_BAD_CLAIMS)
    # A missing azp is rejected too when parties are configured (Clerk's JS SDK does the same).
    if parties and authorized_party not in parties:
        raise InvalidToken(TOKEN_WRONG_PARTY)
    if exp <= now - leeway:
        raise InvalidToken(TOKEN_EXPIRED, expired=True)
    return SessionClaims(
        user_id=subject,
        session_id=session_id,
        issued_at=int(iat),
        expires_at=int(exp),
        authorized_party=authorized_party,
    )


def _header_checked(token: Any) -> dict[str, Any]:
    """The token's header, after every check that needs neither crypto nor network."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken(TOKEN_MALFORMED)
    segments = token.split(".")
    if len(segments) != 3 or not all(SEGMENT_PATTERN.fullmatch(s) for s in segments):
        raise InvalidToken(TOKEN_MALFORMED)
    try:
        header = json.loads(_base64url_decode(segments[0]))
    except (ValueError, TypeError, RecursionError):  # binascii, JSON and Unicode errors included
        raise InvalidToken(TOKEN_MALFORMED) from None
    if not isinstance(header, dict):
        raise InvalidToken(TOKEN_MALFORMED)
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(TOKEN_WRONG_ALGORITHM)
    if "typ" in header and header["typ"] != "JWT":
        raise InvalidToken(TOKEN_WRONG_KIND)
    category = header.get("cat")
    if "cat" in header and (not isinstance(category, str) or category not in SESSION_TOKEN_CATEGORIES):
        raise InvalidToken(TOKEN_WRONG_KIND)
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
        raise InvalidToken(TOKEN_MALFORMED)
    return header


def _base64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    # JSON numbers only: PyJWT would take "1700000000" (a string) or true as a date.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidToken(TOKEN_BAD_CLAIMS)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidToken(TOKEN_BAD_CLAIMS)
    return value


def _authorized_parties() -> frozenset[str]:
    return frozenset(party.rstrip("/") for party in settings.CLERK_AUTHORIZED_PARTIES if party)


@functools.lru_cache(maxsize=4)
def _pem_public_key_cached(pem: str) -> rsa.RSAPublicKey | None:
    # Cached per PEM, so a misconfiguration is logged once, not on every request.
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, rsa.RSAPublicKey):
        logger.error("CLERK_JWT_KEY is not an RSA public key in PEM form; no session can be verified")
        return None
    return key


def _pem_public_key(pem: str) -> rsa.RSAPublicKey:
    key = _pem_public_key_cached(pem)
    if key is None:
        raise IdentityUnavailable(IDENTITY_UNAVAILABLE)
    return key


# --- JWKS -----------------------------------------------------------------------------------------

# Built once per process: loading the trust store per request costs milliseconds.
_SSL_CONTEXT = ssl.create_default_context()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the secret key's Authorization header to wherever it points.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(urllib.request.HTTPSHandler(context=_SSL_CONTEXT), _NoRedirects())


class _JwksFetchError(Exception):
    pass


def _monotonic() -> float:
    """The clock the JWKS cache runs on (tests move it forward instead of sleeping)."""
    return time.monotonic()


class _JwksCache:
    """Clerk's public keys by kid, for one JWKS configuration.

    Known kids are served without a lock. An unknown kid (or a cache older than its lifetime)
    triggers at most one fetch per `min_refetch_seconds`, and the lock makes it single-flight: the
    threads that queue behind a fetch use its result. While the endpoint is down, keys already
    fetched keep verifying tokens.
    """

    def __init__(
        self, *, url: str, secret_key: str, timeout: float, cache_seconds: float, min_refetch_seconds: float
    ) -> None:
        self.url = url
        self.secret_key = secret_key
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self._lock = threading.Lock()
        # Replaced as a whole (never mutated), so readers without the lock see a consistent pair.
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_fetch_failed = False

    def public_key(self, kid: str) -> rsa.RSAPublicKey:
        keys, fetched_at = self._keys, self._fetched_at
        if kid in keys:
            if fetched_at is not None and _monotonic() - fetched_at < self.cache_seconds:
                return keys[kid]
            # Stale: refresh, unless another thread is doing it, in which case the stale key serves.
            if not self._lock.acquire(blocking=False):
                return keys[kid]
            try:
                with step_aside():  # a fetch waits on the network
                    self._refresh_locked()
            finally:
                self._lock.release()
        else:
            # Out of the request turn before waiting for the lock: its holder may be fetching,
            # and will need the turn back when done (services/turns.py).
            with step_aside(), self._lock:
                if kid not in self._keys:
                    self._refresh_locked()
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._last_fetch_failed:
            raise IdentityUnavailable(IDENTITY_UNAVAILABLE)
        raise InvalidToken(TOKEN_UNKNOWN_KEY)

    def _refresh_locked(self) -> None:
        now = _monotonic()
        if self._attempted_at is not None and now - self._attempted_at < self.min_refetch_seconds:
            return
        self._attempted_at = now
        try:
            keys = self._fetch()
        except _JwksFetchError as error:
            self._last_fetch_failed = True
            logger.error(
                "Cannot fetch Clerk's JWKS from %s: %s; tokens signed with keys not already cached "
                "cannot be verified",
                self.url,
                error,
            )
            return
        self._keys, self._fetched_at, self._last_fetch_failed = keys, now, False

    def _fetch(self) -> dict[str, rsa.RSAPublicKey]:
        headers = {"Accept": "application/json", "User-Agent": "CodeDrill"}
        if self.secret_key:
            headers["Authorization"] = f"Bearer {self.secret_key}"
        request = urllib.request.Request(self.url, headers=headers)
        deadline = time.monotonic() + self.timeout
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = b""
                # The timeout is per socket operation; the deadline also stops a trickling server.
                while len(body) <= MAX_JWKS_BYTES:
                    chunk = response.read1(64 * 1024)  # what has arrived, not a full 64 KB
                    if not chunk:
                        break
                    body += chunk
                    if time.monotonic() > deadline:
                        raise _JwksFetchError(f"no complete answer within {self.timeout} s")
        except urllib.error.HTTPError as error:
            raise _JwksFetchError(f"HTTP {error.code}") from None
        # Timeouts, refused connections, bad URLs, answers that are not HTTP.
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise _JwksFetchError(f"{type(error).__name__}: {reason}") from None
        if len(body) > MAX_JWKS_BYTES:
            raise _JwksFetchError(f"answer larger than {MAX_JWKS_BYTES} bytes")
        return _jwks_parsed(body)


def _jwks_parsed(body: bytes) -> dict[str, rsa.RSAPublicKey]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise _JwksFetchError("the answer is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _JwksFetchError('the answer has no "keys" list')
    keys: dict[str, rsa.RSAPublicKey] = {}
    for entry in entries[:MAX_JWKS_KEYS]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        if entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            key = RSAAlgorithm.from_jwk(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, UnsupportedAlgorithm):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys[kid] = key
    if not keys:
        raise _JwksFetchError("the answer holds no usable RSA signing key")
    return keys


_jwks_caches: dict[tuple, _JwksCache] = {}
_jwks_caches_lock = threading.Lock()
MAX_JWKS_CACHES = 8  # one per configuration; more than one only happens in tests


def identity_caches_clear() -> None:
    """Forget every fetched JWKS and verified token (tests start each Clerk setup from cold)."""
    with _jwks_caches_lock:
        _jwks_caches.clear()
    _verified_tokens.clear()


def _jwks_cache() -> _JwksCache:
    config = (
        settings.CLERK_JWKS_URL,
        settings.CLERK_SECRET_KEY,
        float(settings.CLERK_JWKS_TIMEOUT),
        float(settings.CLERK_JWKS_CACHE_SECONDS),
        float(settings.CLERK_JWKS_MIN_REFETCH_SECONDS),
    )
    cache = _jwks_caches.get(config)
    if cache is not None:
        return cache
    with _jwks_caches_lock:
        cache = _jwks_caches.get(config)
        if cache is None:
            while len(_jwks_caches) >= MAX_JWKS_CACHES:
                _jwks_caches.pop(next(iter(_jwks_caches)))
            url, secret_key, timeout, cache_seconds, min_refetch_seconds = config
            cache = _jwks_caches[config] = _JwksCache(
                url=url,
                secret_key=secret_key,
                timeout=timeout,
                cache_seconds=cache_seconds,
                min_refetch_seconds=min_refetch_seconds,
            )
    return cache


# --- Development sign-in --------------------------------------------------------------------------


@dataclass(frozen=True)
class _DevKey:
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    kid: str


class _DevKeyError(RuntimeError):
    """The development key file cannot be read or written (a broken development setup)."""


_dev_keys: dict[Path, _DevKey] = {}
_dev_keys_lock = threading.Lock()


def dev_session_token_issue(*, user_id: str, session_id: str) -> str:
    """A session token for the development sign-in, with Clerk's claim set, valid DEV_SESSION_SECONDS.

    Only when settings.DEV_SIGN_IN is on: anyone can sign in as anyone with it.
    """
    if not settings.DEV_SIGN_IN:
        raise RuntimeError("dev_session_token_issue is only allowed when DEV_SIGN_IN is on.")
    if len(user_id) > MAX_SUBJECT_CHARS or not SUBJECT_PATTERN.fullmatch(user_id):
        raise ValueError(f"Not a valid user id for a session token: {user_id!r}.")
    if len(session_id) > MAX_SESSION_ID_CHARS:
        raise ValueError("The session id is too long.")
    dev_key = _dev_key(Path(settings.DEV_SIGNING_KEY_PATH))
    now = int(time.time())
    claims = {
        "sub": user_id,
        "sid": session_id,
        "iss": settings.DEV_ISSUER,
        "azp": DEV_AUTHORIZED_PARTY,
        "iat": now,
        "nbf": now - 10,  # as Clerk does, for clock skew
        "exp": now + int(settings.DEV_SESSION_SECONDS),
        "v": 2,
    }
    headers = {"kid": dev_key.kid, "typ": "JWT", "cat": "cl_B7d4PD111AAA"}
    return jwt.encode(claims, dev_key.private_key, algorithm=ALGORITHM, headers=headers)


def _dev_key_or_unavailable() -> _DevKey:
    path = Path(settings.DEV_SIGNING_KEY_PATH)
    try:
        return _dev_key(path)
    except _DevKeyError as error:
        logger.error("The development sign-in key cannot be used: %s", error)
        raise IdentityUnavailable(IDENTITY_UNAVAILABLE) from None


def _dev_key(path: Path) -> _DevKey:
    dev_key = _dev_keys.get(path)
    if dev_key is not None:
        return dev_key
    with _dev_keys_lock:
        dev_key = _dev_keys.get(path)
        if dev_key is None:
            dev_key = _dev_keys[path] = _dev_key_load_or_create(path)
    return dev_key


def _dev_key_load_or_create(path: Path) -> _DevKey:
    try:
        if not path.exists():
            _dev_key_create(path)
        pem = path.read_bytes()
    except OSError as error:
        raise _DevKeyError(f"{path}: {error.strerror or error}") from None
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        private_key = None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise _DevKeyError(f"{path} is not an RSA private key in PEM form; delete it to make a new one")
    public_key = private_key.public_key()
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = "ins_dev_" + base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode()
    return _DevKey(private_key=private_key, public_key=public_key, kid=kid)


def _dev_key_create(path: Path) -> None:
    """Write a new key to `path` unless one is there: a process starting at the same moment either
    wins (its key is used by both) or finds the other's complete file; never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=DEV_KEY_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # mkstemp creates the file with mode 0600 in the same directory, so link() below is atomic.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".dev-signing-key-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if the path exists: never clobbers another's key
        except FileExistsError:
            pass
        except OSError:
            # A filesystem without hard links: rename is atomic too, but may replace a key written
            # a moment ago by another process; both then load whatever the file holds.
            if not path.exists():
                os.replace(temporary, path)
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
