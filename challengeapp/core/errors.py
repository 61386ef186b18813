"""The project's own exceptions. Library exceptions are turned into these at the module that owns
the library, each with a message a learner or operator can read."""

from __future__ import annotations


class CodeDrillError(Exception):
    """Base of every error the services raise on purpose."""


class GenerationError(CodeDrillError):
    """A challenge could not be generated. `cause` is a short machine-readable reason for the log;
    `upstream_request_id` is the provider's request id when there is one. `http_status` is what
    the API and pages answer with."""

    http_status = 502

    def __init__(self, message: str, *, cause: str = "error", upstream_request_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.upstream_request_id = upstream_request_id


class InvalidModelOutput(GenerationError):
    """The model answered, but what it said is not a valid challenge."""

    def __init__(self, message: str, *, upstream_request_id: str = "") -> None:
        super().__init__(message, cause="invalid_output", upstream_request_id=upstream_request_id)


class GenerationBusy(GenerationError):
    """Too many generations are in flight in this process; the learner should try again shortly."""

    http_status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, cause="busy")


class LearnerBusy(GenerationError):
    """The learner already has as many generations in flight as one learner may; nothing was
    charged."""

    http_status = 429

    def __init__(self, message: str) -> None:
        super().__init__(message, cause="learner_busy")


class TooManyFailures(GenerationError):
    """The learner's generations failed GENERATION_FAILURES_PER_DAY times today: each failure was a
    billed model request, so generating is paused until the quota day ends. Nothing was asked."""

    http_status = 429

    def __init__(self, message: str) -> None:
        super().__init__(message, cause="too_many_failures")


class QuotaExceeded(CodeDrillError):
    """The learner has used all of today's challenges."""


class InvalidToken(CodeDrillError):
    """A session token that must not be trusted. `expired` is set when the only fault is its age,
    which a browser with Clerk's JavaScript can fix by refreshing the token."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


class IdentityUnavailable(CodeDrillError):
    """Tokens cannot be checked right now (the JWKS endpoint is down or answers garbage)."""


class LearnerRefused(CodeDrillError):
    """A genuine session of a learner who may not use the site: deleted in Clerk, or deactivated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
