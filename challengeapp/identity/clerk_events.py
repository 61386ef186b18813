"""Clerk's webhook events: verify the svix signature, then apply each delivery once.

Events change learner accounts only. An event whose user id is the username of a staff or
superuser account is recorded and answered 200 "ignored", and logged: a 4xx would only make svix
retry it for about a day (https://docs.svix.com/retries), and no retry can make an operator's
account a learner's.

The only module that imports `svix`. svix 2.x `Webhook.verify` returns None, so the body is parsed
here after verification (`json.loads` on the raw body, which is also what was signed). Besides
WebhookVerificationError, verification raises ValueError for a malformed signature header (an
entry without a comma, a double space, bad base64 padding) and for a body that is not UTF-8.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from challengeapp.core.errors import CodeDrillError, LearnerRefused
from challengeapp.identity.learners import (
    learner_delete,
    learner_get_or_create,
    learner_is_operator,
    learner_update,
)
from challengeapp.models import WebhookEvent

logger = logging.getLogger("challengeapp.webhooks")

# Reasons a delivery is refused (the response's "detail"; tests assert on these).
SIGNATURE_INVALID = "The webhook signature is missing, malformed, stale or does not match."
SECRET_INVALID = "The webhook signing secret configured on this site is not valid."
BODY_NOT_JSON = "The webhook body is not JSON."
BODY_NOT_EVENT = "The webhook body is not a Clerk event (an object with a type and data)."
EVENT_WITHOUT_ID = "The webhook event's data has no id."
USER_ID_INVALID = "The webhook event's data.id is not a Clerk user id."
MESSAGE_ID_INVALID = "The svix-id header is not a valid message id."

MAX_MESSAGE_ID_CHARS = 100  # WebhookEvent.svix_id
MAX_EVENT_TYPE_CHARS = 100  # WebhookEvent.event_type
MAX_USER_ID_CHARS = 150  # User.username
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")
MESSAGE_ID_PATTERN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, as svix's msg_… ids are

SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")

STATUS_OK = "ok"
STATUS_DUPLICATE = "duplicate"
STATUS_IGNORED = "ignored"


class InvalidWebhook(CodeDrillError):
    """A delivery that must not be acted on; `message` says why, briefly."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _svix():
    # Imported on first use: the svix package brings its whole API client, which the web process
    # only needs here, and importing it at start-up would slow every worker's start.
    from standardwebhooks.webhooks import EmptyWebhookSecretError
    from svix.webhooks import Webhook, WebhookVerificationError

    return Webhook, WebhookVerificationError, EmptyWebhookSecretError


def clerk_event_verify(*, secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The event in a delivery whose svix signature matches `secret`; InvalidWebhook otherwise."""
    webhook_class, verification_error, empty_secret_error = _svix()
    try:
        webhook = webhook_class(secret)
    except (empty_secret_error, ValueError, TypeError, RuntimeError):
        logger.error("CLERK_WEBHOOK_SIGNING_SECRET is not a valid svix secret (whsec_...)")
        raise InvalidWebhook(SECRET_INVALID) from None
    svix_headers = {name: headers.get(name, "") for name in SVIX_HEADERS}
    try:
        webhook.verify(body, svix_headers)
    except (verification_error, ValueError):  # ValueError: malformed header, non-UTF-8 body
        raise InvalidWebhook(SIGNATURE_INVALID) from None
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidWebhook(BODY_NOT_JSON) from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("type"), str)
        or not event["type"]
        or not isinstance(event.get("data"), dict)
    ):
        raise InvalidWebhook(BODY_NOT_EVENT)
    if not isinstance(event["data"].get("id"), str) or not event["data"]["id"]:
        raise InvalidWebhook(EVENT_WITHOUT_ID)
    return event


def clerk_event_apply(*, message_id: str, event: Mapping[str, Any]) -> str:
    """Apply a verified event once per svix message id: STATUS_OK, STATUS_IGNORED or STATUS_DUPLICATE.

    The delivery is recorded in the same transaction as its effect, so a retry after a crash
    redoes the work and a retry after success does nothing.
    """
    if len(message_id) > MAX_MESSAGE_ID_CHARS or not MESSAGE_ID_PATTERN.fullmatch(message_id):
        raise InvalidWebhook(MESSAGE_ID_INVALID)
    event_type = event["type"]
    data = event["data"]
    handler = _HANDLERS.get(event_type)
    if handler is not None:
        user_id = data["id"]
        if len(user_id) > MAX_USER_ID_CHARS or not USER_ID_PATTERN.fullmatch(user_id):
            raise InvalidWebhook(USER_ID_INVALID)
    if _delivery_recorded(message_id):
        return STATUS_DUPLICATE
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                svix_id=message_id, event_type=_text(event_type)[:MAX_EVENT_TYPE_CHARS]
            )
            if handler is None:
                return STATUS_IGNORED
            if learner_is_operator(data["id"]):
                logger.warning(
                    "Clerk webhook %s ignored: %s is a staff or superuser account, not a learner",
                    _text(event_type)[:MAX_EVENT_TYPE_CHARS],
                    data["id"],
                )
                return STATUS_IGNORED
            handler(data)
    except IntegrityError:
        # The same message delivered twice at once: the other delivery recorded it first.
        if _delivery_recorded(message_id):
            return STATUS_DUPLICATE
        raise
    return STATUS_OK


def _delivery_recorded(message_id: str) -> bool:
    return WebhookEvent.objects.filter(svix_id=message_id).exists()


def _user_created(data: Mapping[str, Any]) -> None:
    profile = _profile(data)
    try:
        user = learner_get_or_create(clerk_id=data["id"], **profile)
    except LearnerRefused:
        return  # a late delivery for a user already deleted: they stay deleted
    # A learner who signed in before the webhook arrived already exists: bring their profile in.
    if (user.email, user.first_name, user.last_name) != (
        profile["email"],
        profile["first_name"],
        profile["last_name"],
    ):
        learner_update(clerk_id=data["id"], **profile)


def _user_updated(data: Mapping[str, Any]) -> None:
    learner_update(clerk_id=data["id"], **_profile(data))


def _user_deleted(data: Mapping[str, Any]) -> None:
    # Deletes their data and keeps a tombstone, also for a learner we never saw: a token of theirs
    # that is still valid must not create them afterwards.
    learner_delete(clerk_id=data["id"])


_HANDLERS = {
    "user.created": _user_created,
    "user.updated": _user_updated,
    "user.deleted": _user_deleted,
}


def _profile(data: Mapping[str, Any]) -> dict[str, str]:
    """Email and name from a Clerk User object, "" for anything missing or of the wrong shape."""
    return {
        "email": _primary_email(data),
        "first_name": _text(data.get("first_name")),
        "last_name": _text(data.get("last_name")),
    }


def _primary_email(data: Mapping[str, Any]) -> str:
    primary_id = data.get("primary_email_address_id")
    addresses = data.get("email_addresses")
    if not isinstance(primary_id, str) or not isinstance(addresses, list):
        return ""
    for address in addresses:
        if isinstance(address, dict) and address.get("id") == primary_id:
            return _text(address.get("email_address"))
    return ""


def _text(value: Any) -> str:
    # PostgreSQL refuses NUL characters in text.
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""
