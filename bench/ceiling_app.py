"""The ceiling: the least a Django view can cost under the same gunicorn, to compare GET /api/quota with.

    gunicorn -c config/gunicorn.conf.py bench.ceiling_app:application

One view answering a body the size and shape of /api/quota's, with no middleware, no database, no
installed apps and no authentication. What /api/quota costs beyond it is CodeDrill's own work:
verifying the token, loading the learner with their quota, the middleware stack.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="ceiling-" + "x" * 50,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
    TIME_ZONE="UTC",
)

import django  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

DAILY_LIMIT = 100_000_000


def quota(request: HttpRequest) -> JsonResponse:
    starts_at = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    resets_at = starts_at + dt.timedelta(days=1)
    return JsonResponse(
        {
            "user_id": "user_bench_reader",
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
