"""A stand-in for Clerk in tests: RSA keys made in the test session, session tokens with Clerk's
claim set, and a JWKS server on 127.0.0.1.

    key = signing_key()                            # made once per test session
    token = mint_token()                        # a genuine session token for TEST_USER_ID
    token = mint_token(exp=now - 60)            # any claim overridden; OMIT removes one
    token = mint_token(key=other_signing_key())    # signed by another key (same kid by default)

    with FakeJwks([signing_key()]) as jwks:        # serves {"keys": [...]}, counts requests
        jwks.set_keys([signing_key(), new_key])    # rotation
        jwks.mode = "error" | "hang" | "trickle" | "garbage" | "huge" | "redirect" | "ok"
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import jwt.api_jws
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

TEST_FRONTEND_API_HOST = "clerk.codedrill.test"
TEST_ISSUER = f"https://{TEST_FRONTEND_API_HOST}"
TEST_PUBLISHABLE_KEY = "pk_test_" + base64.b64encode(f"{TEST_FRONTEND_API_HOST}$".encode()).decode()
TEST_AUTHORIZED_PARTY = "http://testserver"  # the Django test client's origin
TEST_USER_ID = "user_2testLearnerAbc123"
TEST_SESSION_ID = "sess_2testSessionXyz789"
SESSION_TOKEN_CATEGORY = "cl_B7d4PD111AAA"
JWT_TEMPLATE_CATEGORY = "cl_B7d4PD222AAA"

OMIT = object()  # pass as a claim or header value to leave it out


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwk(self) -> dict[str, Any]:
        entry = json.loads(RSAAlgorithm.to_jwk(self.public_key))
        return {**entry, "kid": self.kid, "use": "sig", "alg": "RS256"}


def make_key(kid: str) -> SigningKey:
    return SigningKey(kid=kid, private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


@functools.cache
def signing_key() -> SigningKey:
    """The instance's signing key, made once per test session."""
    return make_key("ins_testKey1")


@functools.cache
def other_signing_key() -> SigningKey:
    """Another key with the same kid: what an attacker would sign with."""
    return make_key(signing_key().kid)


@functools.cache
def rotated_signing_key() -> SigningKey:
    """The key the instance rotates to: a new kid."""
    return make_key("ins_testKey2")


def session_claims(**overrides: Any) -> dict[str, Any]:
    """Clerk's session-token claim set (version 2), with overrides; OMIT drops a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": TEST_USER_ID,
        "sid": TEST_SESSION_ID,
        "iss": TEST_ISSUER,
        "azp": TEST_AUTHORIZED_PARTY,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 60,
        "v": 2,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not OMIT}


def mint_token(
    *,
    key: SigningKey | None = None,
    kid: Any = None,
    headers: dict[str, Any] | None = None,
    alg: str = "RS256",
    **claims_overrides: Any,
) -> str:
    """A session token as Clerk signs one: RS256, header kid, typ JWT, cat of a session token."""
    key = key or signing_key()
    header = {"kid": kid if kid is not None else key.kid, "typ": "JWT", "cat": SESSION_TOKEN_CATEGORY}
    header.update(headers or {})
    header = {name: value for name, value in header.items() if value is not OMIT}
    payload = json.dumps(session_claims(**claims_overrides), separators=(",", ":")).encode()
    if alg == "none":
        # An unsigned token, written by hand: whether a PyJWT release still makes one is its own
        # business; what the tests need is that CodeDrill refuses it.
        return f"{b64url(json.dumps({'alg': 'none', **header}))}.{b64url(payload)}."
    # PyJWS signs any payload bytes; jwt.encode would refuse some bad claims the tests need.
    return jwt.api_jws.encode(payload, key.private_key, algorithm=alg, headers=header)


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_from_parts(header: Any, payload: Any, signature: bytes = b"signature") -> str:
    """A token assembled by hand (for shapes PyJWT refuses to produce)."""
    return ".".join([b64url(json.dumps(header)), b64url(json.dumps(payload)), b64url(signature)])


class FakeJwks:
    """A JWKS endpoint on 127.0.0.1 in a daemon thread.

    `mode`: "ok" serves the key set; "error" answers 500; "hang" accepts and never answers (until
    stopped); "trickle" answers one byte every 50 ms (for 3 s); "garbage" answers 200 with a body that is not
    a JWKS; "huge" answers the key set padded past 256 KB; "redirect" answers 302 to `redirect_to`.
    `delay` (seconds) slows "ok" answers, so concurrent callers overlap; `gate`, when set to an
    Event, holds "ok" answers until it is set. `entries`, when set, is served as the "keys" list
    instead of the keys' JWKs.
    """

    def __init__(self, keys: list[SigningKey] | None = None) -> None:
        self.keys = list(keys if keys is not None else [signing_key()])
        self.mode = "ok"
        self.delay = 0.0
        self.gate: threading.Event | None = None
        self.redirect_to = ""
        self.entries: list[dict[str, Any]] | None = None
        self.request_count = 0
        self.authorizations: list[str | None] = []
        self._count_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (server.shutdown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1/jwks"

    def set_keys(self, keys: list[SigningKey]) -> None:
        self.keys = list(keys)

    def start(self) -> FakeJwks:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeJwks:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with fake._count_lock:
                    fake.request_count += 1
                    fake.authorizations.append(self.headers.get("Authorization"))
                mode = fake.mode
                if mode == "hang":
                    fake._stopping.wait(10)
                    return
                if mode == "error":
                    self._answer(500, b'{"errors": [{"message": "internal"}]}')
                    return
                if mode == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(60):  # 3 s at most, so a client without a deadline fails, not hangs
                        if fake._stopping.wait(0.05):
                            return
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                if mode == "garbage":
                    self._answer(200, b"<html>not a key set</html>")
                    return
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", fake.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.gate is not None:
                    fake.gate.wait(10)
                entries = fake.entries if fake.entries is not None else [key.jwk() for key in fake.keys]
                document: dict[str, Any] = {"keys": entries}
                if mode == "huge":
                    document["padding"] = "x" * 300_000
                self._answer(200, json.dumps(document).encode())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
