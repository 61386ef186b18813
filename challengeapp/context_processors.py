from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from challengeapp.coding.review import code_review_due_count
from challengeapp.identity.learners import learner_display_name
from challengeapp.learning.review import review_due_count
from challengeapp.models import ReportReason


def codedrill(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "clerk_enabled": settings.CLERK_ENABLED,
        "clerk_frontend_api_host": settings.CLERK_FRONTEND_API_HOST,
        "clerk_publishable_key": settings.CLERK_PUBLISHABLE_KEY,
        "dev_sign_in": settings.DEV_SIGN_IN,
        "learner_name": learner_display_name(user) if signed_in else "",
        # Counted only when a template shows it (the navigation), so a partial costs no query.
        # Multiple-choice reviews and coding problems due for review alike.
        "review_due": SimpleLazyObject(lambda: review_due_count(user=user) + code_review_due_count(user=user))
        if signed_in
        else 0,
        # The "Report a problem" form's reasons, on every answered challenge card.
        "report_reasons": ReportReason.choices,
    }
