from django.apps import AppConfig
from django.conf import settings


class ChallengeAppConfig(AppConfig):
    name = "challengeapp"
    verbose_name = "CodeDrill"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from challengeapp import checks  # noqa: F401  (registers the system checks)

        # Import the SDK and build the model client at start-up rather than in the first learner's
        # generation. Without a key the product serves the bank only and never imports openai.
        if settings.OPENAI_API_KEY:
            from challengeapp.generation.openai_provider import openai_client_warm

            openai_client_warm()
