"""WSGI entry point: gunicorn serves `config.wsgi:application`."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

if settings.REQUEST_TURNS:
    from challengeapp.services.turns import TakeTurns

    application = TakeTurns(application)
