"""The ceiling: the least a Django view can cost under the same gunicorn, to compare GET /api/quota with.

    gunicorn -c config/gunicorn.conf.py bench.ceiling_app:application

One view answering a body the size and shape of /api/quota's, with no middleware, no database, no
installed apps and no authentication. What /api/quota costs beyond it is CodeDrill's own work:
verifying the token, loading the learner with their quota, the middleware stack.

With CEILING_ONE_QUERY=1 the view also runs the one query /api/quota runs (the learner and their
quota row, as identity/learners.py writes it) on the product's own database settings
(config/settings.py: DATABASE_URL, the pool, server-side binding), through Django's connection:
the most any view that reads the database once per request can reach on that backend.
"""

from __future__ import annotations

import datetime as dt
import os

from django.conf import settings

ONE_QUERY = os.environ.get("CEILING_ONE_QUERY") == "1"
LEARNER = "user_bench_reader"
# The query identity/learners.py runs for every signed-in request (its columns, its join).
LEARNER_SQL = (
    'SELECT u."id", u."is_superuser", u."username", u."first_name", u."last_name", u."email", '
    'u."is_staff", u."is_active", q."id", q."user_id", q."daily_limit", q."used", q."day", '
    'q."in_flight", q."in_flight_since" '
    'FROM "auth_user" u LEFT JOIN "challengeapp_quota" q ON q."user_id" = u."id" '
    'WHERE u."username" = %s'
)

if ONE_QUERY:
    from config import settings as product_settings

    databases = {"default": product_settings.DATABASES["default"]}
else:
    databases = {}

settings.configure(
    DEBUG=False,
    SECRET_KEY="ceiling-" + "x" * 50,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES=databases,
    USE_TZ=True,
    TIME_ZONE="UTC",
)

import django  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

DAILY_LIMIT = 100_000_000


def quota(request: HttpRequest) -> JsonResponse:
    user_id = LEARNER
    if ONE_QUERY:
        with connection.cursor() as cursor:
            cursor.execute(LEARNER_SQL, [LEARNER])
            user_id = cursor.fetchone()[2]
    starts_at = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    resets_at = starts_at + dt.timedelta(days=1)
    return JsonResponse(
        {
            "user_id": user_id,
            "quota_remaining": DAILY_LIMIT,
            "last_reset_date": starts_at.isoformat(),
            "daily_limit": DAILY_LIMIT,
            "resets_at": resets_at.isoformat(),
        }
    )


# /healthz too, so the bench waits for this server as for CodeDrill's (LiveServer).
urlpatterns = [path("api/quota", quota), path("healthz", quota)]

django.setup()
application = get_wsgi_application()
