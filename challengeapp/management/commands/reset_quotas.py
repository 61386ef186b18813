"""Reset today's quota usage: `manage.py reset_quotas --all` or `--learner user_…` (Clerk id or email)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from challengeapp.quota import quota_reset


class Command(BaseCommand):
    help = "Reset today's challenge usage for every learner, or for one."

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--all", action="store_true", help="reset every learner")
        target.add_argument("--learner", help="the learner's Clerk id (user_…) or email")

    def handle(self, *args, **options) -> None:
        if options["all"]:
            count = quota_reset()
            self.stdout.write(self.style.SUCCESS(f"Reset today's usage for {count} learner(s)."))
            return
        who = options["learner"].strip()
        users = list(get_user_model().objects.filter(Q(username=who) | Q(email__iexact=who))[:2])
        if not users:
            raise CommandError(f"No learner with Clerk id or email {who!r}.")
        if len(users) > 1:
            raise CommandError(f"More than one learner has the email {who!r}; use the Clerk id.")
        quota_reset(user=users[0])
        self.stdout.write(self.style.SUCCESS(f"Reset today's usage for {users[0].username}."))
