"""WSGI entry point: gunicorn serves `config.wsgi:application`.

Before serving, the process loads what every worker would otherwise load in its first requests:
the URLconf (and through it every view module), the key session tokens are verified with, and the
sandbox's proof (its probes, which also learn the language versions prompts and badges name).
gunicorn's preload_app runs this in the master, so workers fork with it done; the model client is
built in ChallengeAppConfig.ready() when a key is set.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import resolve

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

resolve("/healthz")  # URLconfs load on first use; this is that use.

from challengeapp.identity import identity_keys_load  # noqa: E402  (needs Django set up)

identity_keys_load()

from challengeapp.quality.sandbox import sandbox_language_versions  # noqa: E402

sandbox_language_versions()
