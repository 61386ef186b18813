"""POST /webhooks/clerk: Clerk's user events, svix-signed.

Public (no sign-in, no CSRF: the svix signature is the authentication). Answers fast, never 500:
400 with a short reason for anything that is not a genuine, well-formed event, in which case
nothing changes; 200 for a genuine event, applied once per svix message id.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from challengeapp.identity.clerk_events import InvalidWebhook, clerk_event_apply, clerk_event_verify

logger = logging.getLogger("challengeapp.webhooks")

MAX_BODY_BYTES = 1024 * 1024  # Clerk's user events are a few KB
NOT_CONFIGURED = "Clerk webhooks are not configured on this site (CLERK_WEBHOOK_SIGNING_SECRET)."
BODY_TOO_LARGE = "The webhook body is larger than 1 MB."
BODY_UNREADABLE = "The webhook body could not be read."


@csrf_exempt
@require_POST
def clerk_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.CLERK_WEBHOOK_SIGNING_SECRET
    if not secret:
        # 503 so that svix keeps retrying until the operator configures the secret.
        return JsonResponse({"detail": NOT_CONFIGURED}, status=503)
    if _declared_length(request) > MAX_BODY_BYTES:
        return _rejected(BODY_TOO_LARGE)
    try:
        body = request.body
    except RequestDataTooBig:
        return _rejected(BODY_TOO_LARGE)
    except (UnreadablePostError, OSError):
        return _rejected(BODY_UNREADABLE)
    if len(body) > MAX_BODY_BYTES:
        return _rejected(BODY_TOO_LARGE)
    try:
        event = clerk_event_verify(secret=secret, body=body, headers=request.headers)
        status = clerk_event_apply(message_id=request.headers.get("svix-id", ""), event=event)
    except InvalidWebhook as error:
        return _rejected(error.message)
    return JsonResponse({"status": status})


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django itself then reads what is there; len(body) is checked below


def _rejected(reason: str) -> JsonResponse:
    logger.warning("Clerk webhook rejected: %s", reason)
    return JsonResponse({"detail": reason}, status=400)
