"""What a session token says, and the rules shared by verification and the development sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass

ALGORITHM = "RS256"
MAX_SUBJECT_CHARS = 150  # the User.username the subject becomes
MAX_SESSION_ID_CHARS = 150
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class SessionClaims:
    """What a verified session token says about the request."""

    user_id: str  # sub: the Clerk user id, our User.username
    session_id: str  # sid, "" when absent
    issued_at: int
    expires_at: int
    authorized_party: str  # azp, "" when absent
