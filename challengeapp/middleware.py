"""Request-level identity and headers.

LearnerAuthenticationMiddleware verifies the session token on every request (a Clerk session, or
the development sign-in's token: the same code path) and sets `request.user` to the learner. The
admin keeps Django's own session login; everything else trusts only a verified token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

from challengeapp.services.errors import IdentityUnavailable, InvalidToken
from challengeapp.services.identity import session_token_verify
from challengeapp.services.learners import learner_get_or_create

SESSION_COOKIE = "__session"
# Paths that keep Django's own authentication (the admin) or need none.
PATHS_WITHOUT_LEARNER = ("/admin/", "/static/", "/webhooks/", "/healthz")


def session_token_from(request: HttpRequest) -> str:
    """The session token: `Authorization: Bearer …` first, then the `__session` cookie (pages only).

    The cookie is read from request.COOKIES, which survives an unrelated malformed cookie in the
    same header (Clerk's Python SDK loses every cookie then). The JSON API takes Bearer tokens only,
    so a cookie can never make a cross-site API call count as the learner's.
    """
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if request.path.startswith("/api/"):
        return ""
    return request.COOKIES.get(SESSION_COOKIE, "")


class LearnerAuthenticationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PATHS_WITHOUT_LEARNER):
            return self.get_response(request)
        request.user = AnonymousUser()
        request.auth_error = None
        token = session_token_from(request)
        if token:
            try:
                claims = session_token_verify(token)
            except (InvalidToken, IdentityUnavailable) as error:
                request.auth_error = error
            else:
                request.user = learner_get_or_create(clerk_id=claims.user_id)
                request.session_claims = claims
        return self.get_response(request)


def content_security_policy() -> str:
    return _policy_for(settings.CLERK_FRONTEND_API_HOST if settings.CLERK_ENABLED else "")


@functools.cache
def _policy_for(clerk_host: str) -> str:
    """Same-origin everything; with Clerk on, exactly what Clerk's JavaScript needs from its
    Frontend API host (scripts, API calls, its images) and nothing more."""
    # Built once per configuration: the header is the same on every response.
    clerk = f" https://{clerk_host}" if clerk_host else ""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self'{clerk}",
        "connect-src": f"'self'{clerk}",
        "img-src": f"'self' data:{' https://img.clerk.com' if clerk else ''}",
        # Clerk's components inject their own style elements.
        "style-src": "'self' 'unsafe-inline'" if clerk else "'self'",
        "worker-src": "'self' blob:" if clerk else "'self'",
        "frame-src": clerk.strip() or "'none'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and not request.path.startswith("/admin/"):
            response["Content-Security-Policy"] = content_security_policy()
        return response
