"""Who a request comes from, and the learner accounts that follow: session tokens (the only
package that imports `jwt`), learners created on first sight (learners), and Clerk's webhook
events (clerk_events, the only module that imports `svix`). Uses core and quota.

Every signed-in request carries a Clerk session token (or, with the development sign-in, one we
sign ourselves with Clerk's claim set), and `session_token_verify` decides whether to trust it.

- tokens: `session_token_verify`, its header and claim checks, `identity_keys_load` (at start-up),
  `identity_caches_clear`;
- verified_tokens: the recently verified tokens, so one token pays for one RS256 verification;
- clerk_keys: Clerk's public key from CLERK_JWT_KEY, or from the JWKS through PyJWT's PyJWKClient;
- dev_sign_in: the development key file and `dev_session_token_issue`;
- claims, messages: `SessionClaims`, the rules both sides share, and the error messages;
- learners: a learner and their quota row, loaded in one query, created on first sight;
- clerk_events: Clerk's svix-signed events, verified and applied to learner accounts only.
"""

from challengeapp.identity.claims import SessionClaims
from challengeapp.identity.dev_sign_in import DEV_AUTHORIZED_PARTY, dev_session_token_issue
from challengeapp.identity.messages import (
    IDENTITY_UNAVAILABLE,
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
from challengeapp.identity.tokens import (
    identity_caches_clear,
    identity_keys_load,
    session_token_verify,
)

__all__ = [
    "DEV_AUTHORIZED_PARTY",
    "IDENTITY_UNAVAILABLE",
    "TOKEN_BAD_CLAIMS",
    "TOKEN_BAD_SIGNATURE",
    "TOKEN_EXPIRED",
    "TOKEN_MALFORMED",
    "TOKEN_NOT_YET_VALID",
    "TOKEN_UNKNOWN_KEY",
    "TOKEN_WRONG_ALGORITHM",
    "TOKEN_WRONG_ISSUER",
    "TOKEN_WRONG_KIND",
    "TOKEN_WRONG_PARTY",
    "SessionClaims",
    "dev_session_token_issue",
    "identity_caches_clear",
    "identity_keys_load",
    "session_token_verify",
]
