"""Who may call a view: decorators for pages (redirect to sign-in) and the JSON API (401)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from challengeapp.core.errors import IdentityUnavailable, InvalidToken, LearnerRefused
from challengeapp.identity import IDENTITY_UNAVAILABLE

NOT_SIGNED_IN = "Sign in to continue."
INVALID_SESSION = "Your session token is not valid."


def sign_in_url(next_path: str) -> str:
    return "/sign-in/?" + urlencode({"next": next_path})


def learner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages: a signed-in learner, or a way to become one.

    An expired Clerk token on a page load means "refresh", not "signed out": Clerk tokens live a
    minute and the browser renews them, so the learner gets a page that lets Clerk's JavaScript
    refresh the cookie and reload once.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        error = getattr(request, "auth_error", None)
        if isinstance(error, IdentityUnavailable):
            return render(
                request,
                "challengeapp/problem.html",
                {"title": "Sign-in unavailable", "message": IDENTITY_UNAVAILABLE},
                status=503,
            )
        next_path = request.get_full_path() if request.method == "GET" else "/"
        if (
            isinstance(error, InvalidToken)
            and error.expired
            and settings.CLERK_ENABLED
            and request.method == "GET"
            and not request.htmx
        ):
            return render(request, "challengeapp/session_refresh.html", {"next": next_path}, status=401)
        if request.htmx:
            return HttpResponseClientRedirect(sign_in_url(request.htmx.current_url_abs_path or "/"))
        return redirect(sign_in_url(next_path))

    return wrapper


def api_learner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """JSON API: a Bearer token of a signed-in learner, else 401 (503 when keys can't be fetched)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        error = getattr(request, "auth_error", None)
        if isinstance(error, IdentityUnavailable):
            return JsonResponse({"detail": IDENTITY_UNAVAILABLE}, status=503)
        if isinstance(error, LearnerRefused):
            detail = error.message
        elif isinstance(error, InvalidToken):
            detail = INVALID_SESSION
        else:
            detail = NOT_SIGNED_IN
        response = JsonResponse({"detail": detail}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="codedrill"'
        return response

    return wrapper
