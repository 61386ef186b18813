"""System checks of CodeDrill's own configuration (`manage.py check`, and `check --deploy`)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Info, Tags, Warning, register

from challengeapp.quality.sandbox import sandbox_available, sandbox_language_problem

DEV_SIGN_IN_IN_PRODUCTION = Warning(
    "The development sign-in is on (DEV_SIGN_IN) with DEBUG off: it has no passwords, so anyone "
    "can sign in as any learner.",
    hint="Configure Clerk (CLERK_PUBLISHABLE_KEY with CLERK_JWT_KEY or CLERK_SECRET_KEY, and "
    "CLERK_AUTHORIZED_PARTIES) and unset DEV_SIGN_IN. Keep it only on a private, local run.",
    id="codedrill.W001",
)

SANDBOX_UNAVAILABLE_ID = "codedrill.W002"
SANDBOX_OFF_ID = "codedrill.I002"
SANDBOX_LANGUAGE_UNAVAILABLE_ID = "codedrill.W003"
CODE_RUN_SLOTS_UNUSABLE_ID = "codedrill.W004"
SANDBOX_HINT = (
    "Until the sandbox works no snippet is run, so no model-written answer key is checked by "
    "running its code. Install bubblewrap (sudo apt-get install -y bubblewrap) on a kernel that allows "
    "user namespaces (in a container: one whose seccomp profile permits them), or set SANDBOX_BWRAP "
    "and SANDBOX_PYTHON; SANDBOX=off turns the sandbox off on purpose."
)
SANDBOX_LANGUAGE_HINT = (
    "Until then no answer key in that language is checked by running its code; the other languages' "
    "still are."
)


@register(Tags.security, deploy=True)
def development_sign_in_check(app_configs, **kwargs) -> list[Warning]:
    if settings.DEV_SIGN_IN and not settings.DEBUG:
        return [DEV_SIGN_IN_IN_PRODUCTION]
    return []


@register(Tags.security)
def sandbox_check(app_configs, **kwargs) -> list[Warning | Info]:
    available, reason = sandbox_available()
    if available:
        # The sandbox works: say which language it still cannot run (no Node.js, say), and why.
        return [
            Warning(problem, hint=SANDBOX_LANGUAGE_HINT, id=SANDBOX_LANGUAGE_UNAVAILABLE_ID)
            for language in ("javascript", "sql")
            if (problem := sandbox_language_problem(language))
        ]
    if settings.SANDBOX == "off":
        return [Info(reason, id=SANDBOX_OFF_ID)]
    return [
        Warning(f"The code sandbox is unavailable: {reason}", hint=SANDBOX_HINT, id=SANDBOX_UNAVAILABLE_ID)
    ]


@register()
def code_run_slots_check(app_configs, **kwargs) -> list[Warning]:
    """The machine's turns for learners' code (core/slots.py) need a directory this process can
    write; without one, every Run and Submit is refused."""
    directory = settings.CODE_RUN_SLOTS_DIR
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        usable = os.access(directory, os.W_OK | os.X_OK)
        reason = "not writable"
    except OSError as error:
        usable, reason = False, error.strerror or str(error)
    if usable:
        return []
    return [
        Warning(
            f"Learners' code cannot run: CODE_RUN_SLOTS_DIR ({directory}) is unusable ({reason}).",
            hint="Point CODE_RUN_SLOTS_DIR at a directory every worker of this deployment can write.",
            id=CODE_RUN_SLOTS_UNUSABLE_ID,
        )
    ]
