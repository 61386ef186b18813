from django.apps import AppConfig


class ChallengeAppConfig(AppConfig):
    name = "challengeapp"
    verbose_name = "CodeDrill"
    default_auto_field = "django.db.models.BigAutoField"
