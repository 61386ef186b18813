"""The development sign-in: session tokens with Clerk's claim set, signed with a key of our own.

The key is made on first use and kept at DEV_SIGNING_KEY_PATH, so tokens survive a restart and
every process of one checkout signs with the same key. Only when settings.DEV_SIGN_IN is on:
anyone can sign in as anyone with it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from challengeapp.core.errors import IdentityUnavailable
from challengeapp.identity.claims import (
    ALGORITHM,
    MAX_SESSION_ID_CHARS,
    MAX_SUBJECT_CHARS,
    SUBJECT_PATTERN,
)
from challengeapp.identity.messages import IDENTITY_UNAVAILABLE

logger = logging.getLogger("challengeapp.identity")

# What the development sign-in puts in `azp`: the origin `make run` serves.
DEV_AUTHORIZED_PARTY = "http://127.0.0.1:8000"
DEV_KEY_BITS = 2048
# The `cat` header Clerk gives a session token.
SESSION_TOKEN_CATEGORY = "cl_B7d4PD111AAA"


@dataclass(frozen=True)
class DevKey:
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    kid: str


class _DevKeyError(RuntimeError):
    """The development key file cannot be read or written (a broken development setup)."""


_dev_keys: dict[Path, DevKey] = {}
_dev_keys_lock = threading.Lock()


def dev_session_token_issue(*, user_id: str, session_id: str) -> str:
    """A session token for the development sign-in, with Clerk's claim set, valid DEV_SESSION_SECONDS."""
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
    headers = {"kid": dev_key.kid, "typ": "JWT", "cat": SESSION_TOKEN_CATEGORY}
    return jwt.encode(claims, dev_key.private_key, algorithm=ALGORITHM, headers=headers)


def dev_key_or_unavailable() -> DevKey:
    """The key development tokens are verified with; IdentityUnavailable if its file is broken."""
    path = Path(settings.DEV_SIGNING_KEY_PATH)
    try:
        return _dev_key(path)
    except _DevKeyError as error:
        logger.error("The development sign-in key cannot be used: %s", error)
        raise IdentityUnavailable(IDENTITY_UNAVAILABLE) from None


def _dev_key(path: Path) -> DevKey:
    dev_key = _dev_keys.get(path)
    if dev_key is not None:
        return dev_key
    with _dev_keys_lock:
        dev_key = _dev_keys.get(path)
        if dev_key is None:
            dev_key = _dev_keys[path] = _dev_key_load_or_create(path)
    return dev_key


def _dev_key_load_or_create(path: Path) -> DevKey:
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
    return DevKey(private_key=private_key, public_key=public_key, kid=kid)


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
