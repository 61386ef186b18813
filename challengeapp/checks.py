"""System checks of CodeDrill's own configuration (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

DEV_SIGN_IN_IN_PRODUCTION = Warning(
    "The development sign-in is on (DEV_SIGN_IN) with DEBUG off: it has no passwords, so anyone "
    "can sign in as any learner.",
    hint="Configure Clerk (CLERK_PUBLISHABLE_KEY with CLERK_JWT_KEY or CLERK_SECRET_KEY, and "
    "CLERK_AUTHORIZED_PARTIES) and unset DEV_SIGN_IN. Keep it only on a private, local run.",
    id="codedrill.W001",
)


@register(Tags.security, deploy=True)
def development_sign_in_check(app_configs, **kwargs) -> list[Warning]:
    if settings.DEV_SIGN_IN and not settings.DEBUG:
        return [DEV_SIGN_IN_IN_PRODUCTION]
    return []
