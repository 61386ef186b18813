"""Request-level identity.

LearnerAuthenticationMiddleware verifies the session token on every request (a Clerk session, or
the development sign-in's token: the same code path) and sets `request.user` to the learner. The
admin keeps Django's own session login; everything else trusts only a verified token. It takes
the place of Django's AuthenticationMiddleware (it is one, for the admin's paths), so a request
passes one authentication layer, not two that each set `request.user`. Paths are
read from `request.path_info`, the path inside the site, so the rules hold when the site is
mounted under a prefix (SCRIPT_NAME).
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

from challengeapp.core.errors import IdentityUnavailable, InvalidToken, LearnerRefused
from challengeapp.identity import session_token_verify
from challengeapp.identity.learners import learner_for_session

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
    if request.path_info.startswith("/api/"):
        return ""
    return request.COOKIES.get(SESSION_COOKIE, "")


class LearnerAuthenticationMiddleware(AuthenticationMiddleware):
    # __call__ below is synchronous: Django must not hand this middleware an async chain.
    async_capable = False

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(PATHS_WITHOUT_LEARNER):
            # Django's session login, as AuthenticationMiddleware alone would set it up.
            self.process_request(request)
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
                try:
                    request.user = learner_for_session(claims.user_id)
                except LearnerRefused as error:
                    # A genuine token of a learner deleted in Clerk or deactivated: signed out.
                    request.auth_error = error
                else:
                    request.session_claims = claims
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (policy in settings.CONTENT_SECURITY_POLICY), not applied to the JSON
    API: a policy governs documents, and API answers are JSON served with `nosniff`. Skipped here
    rather than with EXCLUDE_URL_PREFIXES because django-csp builds both its policies for every
    response before it looks at those prefixes, which is most of what an API request costs."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return response
        return super().process_response(request, response)
