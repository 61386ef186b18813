"""`session_token_verify`: the one place that decides whether to trust a session token.

It raises only InvalidToken (don't trust this token; `expired=True` when a genuine token is merely
old, which Clerk's JavaScript fixes by refreshing it) or IdentityUnavailable (the keys cannot be had
right now), whatever it is given. Cheap checks on the header come first, then the signature, then
the claims, exp last.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from django.conf import settings

from challengeapp.core.errors import IdentityUnavailable, InvalidToken
from challengeapp.identity import clerk_keys
from challengeapp.identity.claims import (
    ALGORITHM,
    MAX_SESSION_ID_CHARS,
    MAX_SUBJECT_CHARS,
    SUBJECT_PATTERN,
    SessionClaims,
)
from challengeapp.identity.dev_sign_in import dev_key_or_unavailable
from challengeapp.identity.messages import (
    TOKEN_BAD_CLAIMS,
    TOKEN_BAD_SIGNATURE,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_NOT_YET_VALID,
    TOKEN_UNKNOWN_KEY,
    TOKEN_WRONG_ALGORITHM,
    TOKEN_WRONG_ISSUER,
    TOKEN_WRONG_KIND,
    TOKEN_WRONG_PARTY,
)
from challengeapp.identity.verified_tokens import verified_tokens

MAX_TOKEN_CHARS = 8 * 1024  # a cookie holds 4 KB; a Bearer header gets twice that, no more
MAX_KID_CHARS = 200
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")
REQUIRED_CLAIMS = ["exp", "nbf", "iat", "sub", "iss"]
# The `cat` header: Clerk gives session tokens cl_B7d4PD111AAA, and cl_I7d4PD111III means "ignore
# the category"; JWT-template and M2M tokens carry other categories and are not session tokens (a
# template token outlives its session).
SESSION_TOKEN_CATEGORIES = frozenset({"cl_B7d4PD111AAA", "cl_I7d4PD111III"})

# Whatever a step below fails to map itself: no input may ever cause a 500.
_MALFORMED_ERRORS = (
    jwt.PyJWTError,
    ValueError,
    TypeError,
    KeyError,
    OverflowError,
    RecursionError,
    UnsupportedAlgorithm,
)


def session_token_verify(token: str) -> SessionClaims:
    """The claims of a genuine, current session token.

    Raises InvalidToken (expired=True only for a genuine token past its exp) or IdentityUnavailable.
    Keys come from settings read on every call: the development key when DEV_SIGN_IN is on, else
    CLERK_JWT_KEY, else the JWKS at CLERK_JWKS_URL.
    """
    configuration = _configuration_key()
    cached = verified_tokens.get(configuration, token)
    if cached is not None:
        if cached.expires_at <= time.time() - settings.CLERK_LEEWAY_SECONDS:
            raise InvalidToken(TOKEN_EXPIRED, expired=True)
        return cached
    try:
        claims = _verify(token)
    except (InvalidToken, IdentityUnavailable):
        raise
    except _MALFORMED_ERRORS:
        raise InvalidToken(TOKEN_MALFORMED) from None
    verified_tokens.put(configuration, token, claims)
    return claims


def identity_keys_load() -> None:
    """Load the key tokens will be verified with now (config/wsgi.py calls this at start-up), so no
    learner's first request pays for reading and checking it. A key from the JWKS is fetched on
    first use as before: start-up does not wait on the network. A broken key is logged here and
    refused per request as before."""
    try:
        if settings.DEV_SIGN_IN:
            dev_key_or_unavailable()
        elif settings.CLERK_JWT_KEY:
            clerk_keys.pem_public_key(settings.CLERK_JWT_KEY)
    except IdentityUnavailable:
        pass


def identity_caches_clear() -> None:
    """Forget every fetched JWKS and verified token (tests start each Clerk setup from cold)."""
    clerk_keys.jwks_clients_clear()
    verified_tokens.clear()


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


def _verify(token: Any) -> SessionClaims:
    header = _header_checked(token)
    kid = header.get("kid")
    leeway = settings.CLERK_LEEWAY_SECONDS
    if settings.DEV_SIGN_IN:
        dev_key = dev_key_or_unavailable()
        if kid is not None and kid != dev_key.kid:
            raise InvalidToken(TOKEN_UNKNOWN_KEY)
        public_key, issuer, parties = dev_key.public_key, settings.DEV_ISSUER, frozenset()
    elif settings.CLERK_JWT_KEY:
        public_key = clerk_keys.pem_public_key(settings.CLERK_JWT_KEY)
        issuer, parties = settings.CLERK_ISSUER, _authorized_parties()
    else:
        if not isinstance(kid, str) or not kid:
            raise InvalidToken(TOKEN_UNKNOWN_KEY)
        public_key = clerk_keys.jwks_public_key(kid)
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
    except _MALFORMED_ERRORS:
        raise InvalidToken(TOKEN_MALFORMED) from None
    return _claims_checked(claims, parties=parties, leeway=leeway)


def _claims_checked(claims: dict[str, Any], *, parties: frozenset[str], leeway: float) -> SessionClaims:
    """The claims of a token whose signature is genuine, checked by our own rules, exp last."""
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
