"""Test-session environment (loaded as a plugin with -p, before pytest-django reads settings): development defaults, whatever the shell has set.

The suite runs with the development sign-in and the built-in bank unless a test overrides settings;
DATABASE_URL is kept so the same suite runs against PostgreSQL in CI.
"""

import os

os.environ["DEBUG"] = "1"
for name in (
    "SECRET_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_SECRET_KEY",
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
    "CLERK_AUTHORIZED_PARTIES",
    "CLERK_WEBHOOK_SIGNING_SECRET",
    "DEV_SIGN_IN",
    "DAILY_CHALLENGE_QUOTA",
    "TIME_ZONE",
    "CORS_ALLOWED_ORIGINS",
    "API_TITLE_ONLY_ORIGINS",
    "SANDBOX",
    "SANDBOX_BWRAP",
    "SANDBOX_PYTHON",
    "SANDBOX_NODE",
):
    os.environ.pop(name, None)
os.environ.setdefault(
    "DEV_SIGNING_KEY_PATH", os.path.join(os.path.dirname(__file__), "..", "..", "var", "test-signing-key.pem")
)
