"""What the suite needs from the machine beside Python: bubblewrap (the sandbox), Chromium (the
browser tests), PostgreSQL (the live-server tests on both backends).

`make test` installs the system packages where it can (tools/system-packages). Where one is still
missing, the tests that need it are skipped, each naming the package and the command that installs
it; with REQUIRE_SANDBOX=1, REQUIRE_BROWSER=1 or REQUIRE_POSTGRES=1 (as .ci/run sets) the skip is a
failure instead, so CI never passes without having run them.

    from challengeapp.tests.fakes.machine import sandbox  # noqa: F401   (conftest.py does this)
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from challengeapp.quality.sandbox import BWRAP_MISSING, sandbox_available

INSTALL_BUBBLEWRAP = "sudo apt-get install -y bubblewrap (or run `make test` as root, which installs it)"
INSTALL_CHROMIUM = "sudo apt-get install -y chromium (or run `make test` as root, which installs it)"


def unavailable(requirement: str, message: str) -> None:
    """Skip the running test saying why, or fail it when the environment requires `requirement`."""
    if os.environ.get(requirement) == "1":
        pytest.fail(f"{message} ({requirement}=1 makes this a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def sandbox() -> None:
    """A proven bubblewrap sandbox on this machine, or the test is skipped (failed under
    REQUIRE_SANDBOX=1) with the reason."""
    available, reason = sandbox_available()
    if available:
        return
    if reason == BWRAP_MISSING.format(path=settings.SANDBOX_BWRAP):
        unavailable(
            "REQUIRE_SANDBOX", f"NO SANDBOX: bubblewrap is not installed; install it: {INSTALL_BUBBLEWRAP}"
        )
    unavailable("REQUIRE_SANDBOX", f"NO SANDBOX: {reason}")


@pytest.fixture
def node_sandbox(sandbox) -> None:
    """The sandbox, with JavaScript running in it (Node.js proven), or the test is skipped (failed
    under REQUIRE_SANDBOX=1) with the reason."""
    from challengeapp.quality.sandbox import sandbox_language_problem

    problem = sandbox_language_problem("javascript")
    if problem:
        unavailable("REQUIRE_SANDBOX", f"NO JAVASCRIPT IN THE SANDBOX: {problem}")
