"""CodeDrill settings: one module, driven by environment variables.

Development defaults let `make run` serve the whole product with nothing configured; production
(DEBUG off) fails fast on anything that would be unsafe. The variables are documented in README.md.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {raw!r}.") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, got {value}.")
    return value


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value, or DEBUG=1 for development."
        )
    SECRET_KEY = "django-insecure-codedrill-development-only-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000")

# --- Clerk and the development sign-in -----------------------------------------------------------

CLERK_PUBLISHABLE_KEY = os.environ.get("CLERK_PUBLISHABLE_KEY", "").strip()
CLERK_SECRET_KEY = os.environ.get("CLERK_SECRET_KEY", "").strip()
CLERK_JWT_KEY = os.environ.get("CLERK_JWT_KEY", "").strip().replace("\\n", "\n")
CLERK_JWKS_URL = os.environ.get("CLERK_JWKS_URL", "").strip() or "https://api.clerk.com/v1/jwks"
CLERK_AUTHORIZED_PARTIES = env_list("CLERK_AUTHORIZED_PARTIES")
CLERK_WEBHOOK_SIGNING_SECRET = os.environ.get("CLERK_WEBHOOK_SIGNING_SECRET", "").strip()
# JWKS fetch timeout (seconds) and the shortest gap between two fetches, however many unknown kids.
CLERK_JWKS_TIMEOUT = env_float("CLERK_JWKS_TIMEOUT", 3.0)
CLERK_JWKS_CACHE_SECONDS = env_int("CLERK_JWKS_CACHE_SECONDS", 600, minimum=300)
CLERK_JWKS_MIN_REFETCH_SECONDS = env_int("CLERK_JWKS_MIN_REFETCH_SECONDS", 20, minimum=1)
# Clock skew accepted on exp, nbf and iat, in seconds (Clerk's own SDKs use 5 s).
CLERK_LEEWAY_SECONDS = 5


# A DNS host name: it goes into script URLs and the Content-Security-Policy header verbatim.
HOST_NAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def clerk_frontend_api_host(publishable_key: str) -> str:
    """The Frontend API host encoded in a publishable key: `pk_test_` + base64(host + "$")."""
    parts = publishable_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "pk" or parts[1] not in {"test", "live"}:
        raise ImproperlyConfigured("CLERK_PUBLISHABLE_KEY must look like pk_test_… or pk_live_….")
    encoded = parts[2]
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ImproperlyConfigured("CLERK_PUBLISHABLE_KEY is not a valid Clerk publishable key.") from None
    host = decoded.removesuffix("$")
    if not decoded.endswith("$") or not HOST_NAME.fullmatch(host):
        raise ImproperlyConfigured("CLERK_PUBLISHABLE_KEY does not encode a Frontend API host.")
    return host


CLERK_ENABLED = bool(CLERK_PUBLISHABLE_KEY)
if CLERK_ENABLED:
    CLERK_FRONTEND_API_HOST = clerk_frontend_api_host(CLERK_PUBLISHABLE_KEY)
    CLERK_ISSUER = f"https://{CLERK_FRONTEND_API_HOST}"
    if not (CLERK_JWT_KEY or CLERK_SECRET_KEY):
        raise ImproperlyConfigured(
            "Clerk is on (CLERK_PUBLISHABLE_KEY is set) but neither CLERK_JWT_KEY nor "
            "CLERK_SECRET_KEY is set, so session tokens cannot be verified."
        )
    if not DEBUG and not CLERK_AUTHORIZED_PARTIES:
        raise ImproperlyConfigured(
            "CLERK_AUTHORIZED_PARTIES must list your site's origins (e.g. https://codedrill.example) "
            "when Clerk is on and DEBUG is off."
        )
else:
    CLERK_FRONTEND_API_HOST = ""
    CLERK_ISSUER = ""

DEV_SIGN_IN = env_bool("DEV_SIGN_IN", DEBUG and not CLERK_ENABLED)
if CLERK_ENABLED:
    DEV_SIGN_IN = False
elif not DEV_SIGN_IN:
    raise ImproperlyConfigured(
        "No sign-in is configured: set the Clerk keys (CLERK_PUBLISHABLE_KEY and CLERK_JWT_KEY or "
        "CLERK_SECRET_KEY), or set DEV_SIGN_IN=1 to use the built-in development sign-in "
        "(anyone can sign in as anyone: never on a public site)."
    )
# The development sign-in signs its tokens with a key made on first run, kept outside tracked files.
DEV_SIGNING_KEY_PATH = Path(
    os.environ.get("DEV_SIGNING_KEY_PATH", "") or BASE_DIR / "var" / "dev-signing-key.pem"
)
DEV_ISSUER = "http://codedrill.localhost"
DEV_SESSION_SECONDS = 60 * 60 * 24 * 7

# --- Generation ------------------------------------------------------------------------------------

OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "").strip()
OPENAI_MODEL = os.environ.get("OPENAI_MODEL", "").strip() or "gpt-4.1-mini"
OPENAI_TIMEOUT = env_float("OPENAI_TIMEOUT", 30.0)
# The cap on a model's answer, in tokens. 4,000 holds the longest valid challenge (about 11,000
# characters, see drafts.py); a model that runs on past it is cut off instead of billing us for pages
# of text. A slow local model should get what it writes within OPENAI_TIMEOUT.
OPENAI_MAX_TOKENS = env_int("OPENAI_MAX_TOKENS", 4000, minimum=256)
# A failed OpenAI generation can be answered with a clearly labelled bank challenge instead of an error.
# The blind second check (challengeapp/quality/blind_check.py): a key no sandbox run could settle is
# served only when this model, answering without it, picks it. Empty: OPENAI_MODEL. BLIND_CHECK=0
# turns the check off (such keys are then served "unverified").
OPENAI_CHECK_MODEL = os.environ.get("OPENAI_CHECK_MODEL", "").strip()
BLIND_CHECK = env_bool("BLIND_CHECK", True)
GENERATION_FALLBACK_TO_BANK = env_bool("GENERATION_FALLBACK_TO_BANK", False)
# Generations in flight per process; the rest are told "busy, try again" at once.
GENERATION_MAX_IN_FLIGHT = env_int("GENERATION_MAX_IN_FLIGHT", 32, minimum=1)
# Generations in flight per learner, across every process; past it the learner is told at once,
# so one account can never take the slots other learners need.
GENERATION_MAX_IN_FLIGHT_PER_LEARNER = env_int("GENERATION_MAX_IN_FLIGHT_PER_LEARNER", 3, minimum=1)
# Wall-clock seconds one generation may take, every request to the model included; past it the
# learner is told and keeps their unit. Below gunicorn's worker timeout (75 s), with room for the
# request around it.
GENERATION_BUDGET_SECONDS = env_float("GENERATION_BUDGET_SECONDS", 45.0)

DAILY_CHALLENGE_QUOTA = env_int("DAILY_CHALLENGE_QUOTA", 50, minimum=0)
# Failed generations per learner per day (a model's output refused, or the provider failing): each
# was a billed model request that cost the learner nothing, so past this generating is paused for
# the day (429). The built-in bank's failures cost nothing and do not count.
GENERATION_FAILURES_PER_DAY = env_int("GENERATION_FAILURES_PER_DAY", 10, minimum=1)

# Answered challenges per Anki deck download: a longer history comes in parts of the same deck
# (learning/export.py), so one export's CPU time and temporary file stay bounded.
EXPORT_ANKI_NOTES_PER_DECK = env_int("EXPORT_ANKI_NOTES_PER_DECK", 500, minimum=1)

# The learning loop (docs/LEARNING.md). Reviews served per learner per calendar day (today's
# misses come back past it); the answers and reviews a day that make the daily goal.
REVIEW_DAILY_LIMIT = env_int("REVIEW_DAILY_LIMIT", 200, minimum=1)
REVIEW_DAILY_GOAL = env_int("REVIEW_DAILY_GOAL", 20, minimum=1)
# "Auto" difficulty per topic: judged on the last AUTO_DIFFICULTY_WINDOW first answers at the
# current level, only after AUTO_DIFFICULTY_RUN answers at it since it last changed (and every
# AUTO_DIFFICULTY_RUN after), aiming at AUTO_DIFFICULTY_BAND percent right ("low-high").
AUTO_DIFFICULTY_WINDOW = env_int("AUTO_DIFFICULTY_WINDOW", 20, minimum=1)
AUTO_DIFFICULTY_RUN = env_int("AUTO_DIFFICULTY_RUN", 10, minimum=1)


def _percent_band(name: str, default: str) -> tuple[int, int]:
    raw = os.environ.get(name, "").strip() or default
    low, _, high = raw.partition("-")
    try:
        band = int(low), int(high)
    except ValueError:
        raise ImproperlyConfigured(f'{name} must be two percentages like "70-85", got {raw!r}.') from None
    if not 0 < band[0] < band[1] < 100:
        raise ImproperlyConfigured(f"{name} must be 0 < low < high < 100, got {raw!r}.")
    return band


AUTO_DIFFICULTY_BAND = _percent_band("AUTO_DIFFICULTY_BAND", "70-85")
# New problem reports per learner per day (changing a report already sent is not a new one): a
# learner cannot bury the real reports under their own. Past it: 429, with a message.
REPORTS_PER_LEARNER_PER_DAY = env_int("REPORTS_PER_LEARNER_PER_DAY", 20, minimum=1)

# --- Sandbox for model-written code --------------------------------------------------------------
# "auto": run "what does this print?" snippets in bubblewrap when it works on this machine, and
# never run them otherwise (`manage.py check` says why); "off": never run them.
# See challengeapp/quality/sandbox.py for the isolation and its limits.
SANDBOX = os.environ.get("SANDBOX", "").strip().lower() or "auto"
if SANDBOX not in {"auto", "off"}:
    raise ImproperlyConfigured(f"SANDBOX must be 'auto' or 'off', got {SANDBOX!r}.")
SANDBOX_BWRAP = os.environ.get("SANDBOX_BWRAP", "").strip() or "bwrap"
# The interpreter snippets run on, shown read-only inside the sandbox with its standard library.
SANDBOX_PYTHON = os.environ.get("SANDBOX_PYTHON", "").strip() or "/usr/bin/python3"
# The Node.js that runs JavaScript snippets, shown read-only inside the sandbox (without it, only
# JavaScript is not run).
SANDBOX_NODE = os.environ.get("SANDBOX_NODE", "").strip() or "/usr/bin/node"
# Snippets run at once per process (each may hold 512 MB for seconds), and how long a generation
# waits for a turn before it is refused at no cost.
SANDBOX_MAX_RUNS = env_int("SANDBOX_MAX_RUNS", 4, minimum=1)
SANDBOX_QUEUE_SECONDS = env_float("SANDBOX_QUEUE_SECONDS", 10.0)

# --- Coding problems ("Write the code", challengeapp/coding/) ------------------------------------
# Learners' code runs at once per process, apart from the challenge checks' SANDBOX_MAX_RUNS (so
# endless loops cannot hold up generations), and how long a run waits for a turn before "busy".
# One per process: with two, 8 endless loops on 2 cores took other learners' pages to p99 > 100 ms
# (each sandbox is a session, which the kernel may schedule as a group of its own: docs/FIGURES.md).
CODE_MAX_RUNS = env_int("CODE_MAX_RUNS", 1, minimum=1)
# ...and on the whole machine, across every process (gunicorn's workers each have CODE_MAX_RUNS):
# by default one per core this process may use. The runs are CPU-bound, so more at once do not
# grade faster; they only take the cores from the pages (with 4 at once on 2 cores, 8 endless
# loops took PostgreSQL-backed pages to p99 > 100 ms: docs/FIGURES.md). The slots are lock files
# in CODE_RUN_SLOTS_DIR, which every process of one deployment must share (one machine).
CODE_MAX_RUNS_MACHINE = env_int("CODE_MAX_RUNS_MACHINE", len(os.sched_getaffinity(0)), minimum=1)
CODE_RUN_SLOTS_DIR = os.environ.get("CODE_RUN_SLOTS_DIR", "").strip() or os.path.join(
    tempfile.gettempdir(), f"codedrill-code-run-slots-{os.getuid()}"
)
CODE_QUEUE_SECONDS = env_float("CODE_QUEUE_SECONDS", 3.0)
# Per learner, across every process: runs under way at once, and runs (Run or Submit) a day.
CODE_RUNS_IN_FLIGHT_PER_LEARNER = env_int("CODE_RUNS_IN_FLIGHT_PER_LEARNER", 1, minimum=1)
CODE_RUNS_PER_DAY = env_int("CODE_RUNS_PER_DAY", 200, minimum=1)
# The largest submission, in UTF-8 bytes.
CODE_MAX_SUBMISSION_BYTES = env_int("CODE_MAX_SUBMISSION_BYTES", 20_000, minimum=1000)

# --- Django ---------------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "corsheaders",
    "csp",
    "challengeapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Compresses pages (static files are precompressed by WhiteNoise). Django's GZipMiddleware
    # pads responses randomly against BREACH, since pages carry a CSRF token.
    "django.middleware.gzip.GZipMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "challengeapp.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware for the admin, a verified session token everywhere else.
    "challengeapp.middleware.LearnerAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "challengeapp.context_processors.codedrill",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=600,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside a writer; IMMEDIATE transactions make concurrent writers queue on
    # the busy timeout instead of failing with "database is locked" when a read lock is upgraded.
    # Connections stay open per thread (CONN_MAX_AGE): opening a file costs nothing remote.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per process: threads borrow a connection per request and give it back, so
    # a process holds at most DB_POOL_MAX_SIZE connections however many threads it runs, and
    # generations waiting on the model hold none (see generation/pipeline.py).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Parameters travel apart from the SQL, so psycopg prepares a statement on a pooled connection
    # once it has run a few times: PostgreSQL then skips parsing and planning it.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2, minimum=0),
        "max_size": env_int("DB_POOL_MAX_SIZE", 16, minimum=1),
        "timeout": 10,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "").strip() or "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", "") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"
# Only the admin shows messages, and its users have a session: session storage costs nothing on a
# request that never touches it (the default also builds a cookie signer on every request).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Security -------------------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Secure cookies are never sent over plain HTTP, so the sign-in form's CSRF check fails there:
# SECURE_COOKIES=0 only for a local production-like run on http://127.0.0.1.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health checks come over plain HTTP from the platform, never redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]


def content_security_policy(clerk_host: str) -> dict:
    """django-csp's setting: same-origin everything; with Clerk on, exactly what Clerk's JavaScript
    needs from its Frontend API host (scripts, API calls, its images, the inline styles and workers
    its components make) and nothing more. The admin keeps Django's own pages unrestricted."""
    clerk = [f"https://{clerk_host}"] if clerk_host else []
    return {
        "EXCLUDE_URL_PREFIXES": ["/admin/"],
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'", *clerk],
            "connect-src": ["'self'", *clerk],
            "img-src": ["'self'", "data:", *(["https://img.clerk.com"] if clerk else [])],
            "style-src": ["'self'", *(["'unsafe-inline'"] if clerk else [])],
            "worker-src": ["'self'", *(["blob:"] if clerk else [])],
            "frame-src": clerk or ["'none'"],
            "font-src": ["'self'"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        },
    }


CONTENT_SECURITY_POLICY = content_security_policy(CLERK_FRONTEND_API_HOST)

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
# The most items GET /api/history (and /api/my-history) sends when asked for the whole list: past
# it, the newest that many and a Link header to the rest (challengeapp/api.py, _history_page).
API_HISTORY_WHOLE_MAX = env_int("API_HISTORY_WHOLE_MAX", 5000, minimum=1)
# Front ends that show only a challenge's `title` (the FastAPI tutorial's React app): their origins,
# or "*" for every client, get the whole question and its code in `title` (challengeapp/api.py).
API_TITLE_ONLY_ORIGINS = [origin.rstrip("/") for origin in env_list("API_TITLE_ONLY_ORIGINS")]
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
# What the front ends send: a Bearer token and a JSON body. Stated, not left to django-cors-headers'
# default list.
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type"]

# --- Logging: one line per event on stdout, which gunicorn and containers collect -----------------

# The routes whose 502 and 503 answers are chosen (the model failed, or too many generations are in
# flight): challengeapp.generation has already logged each one at WARNING with its cause.
GENERATION_URL_NAMES = frozenset({"challenge-generate", "api-generate", "code-new", "api-code-challenges"})


def not_a_chosen_generation_failure(record) -> bool:
    """A django.request filter: drop Django's ERROR line for a 502/503 a generation route answered
    on purpose (a second line per failure, and one that trips error alerts). Every other 5xx, a real
    500 above all, is kept. `status_code` and `request` are the extra context Django documents for
    this logger."""
    if getattr(record, "status_code", None) not in (502, 503):
        return True
    resolver_match = getattr(getattr(record, "request", None), "resolver_match", None)
    return getattr(resolver_match, "url_name", None) not in GENERATION_URL_NAMES


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "not_a_chosen_generation_failure": {
            "()": "django.utils.log.CallbackFilter",
            "callback": not_a_chosen_generation_failure,
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.request": {"level": "ERROR", "filters": ["not_a_chosen_generation_failure"]},
        "django.server": {"level": "INFO"},
        # The OpenAI SDK's HTTP client logs every call at INFO; failures reach our own log lines.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}
