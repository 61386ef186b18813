"""What a rejected or uncheckable session token is reported as (tests assert on these)."""

from __future__ import annotations

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
