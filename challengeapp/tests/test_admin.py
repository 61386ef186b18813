"""Operators find a learner's quota, reset it and raise their limit; read challenges and usage."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from challengeapp.generation.pipeline import challenge_generate
from challengeapp.models import Challenge, Quota
from challengeapp.quota import quota_consume, quota_status
from challengeapp.tests.conftest import make_learner

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    operator = get_user_model().objects.create_superuser("operator", "ops@example.com", "a-long-password-1")
    client.force_login(operator)
    return client


def test_the_admin_needs_djangos_own_login(client, learner_client):
    assert client.get("/admin/challengeapp/quota/").status_code == 302
    # A learner's session token is no way into the admin.
    assert learner_client.get("/admin/challengeapp/quota/").status_code == 302


def test_quota_list_shows_and_finds_learners(operator_client, learner, other_learner):
    quota_consume(user=learner)
    html = operator_client.get("/admin/challengeapp/quota/?q=ada@example.com").content.decode()
    assert "user_ada" in html and "user_grace" not in html
    assert "50 (default)" in html
    html = operator_client.get("/admin/challengeapp/quota/?q=user_grace").content.decode()
    assert "user_grace" in html and "user_ada" not in html


def test_quota_filter_by_exhausted(operator_client, learner, other_learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    quota_consume(user=learner)
    exhausted = operator_client.get("/admin/challengeapp/quota/?exhausted=yes").content.decode()
    assert "user_ada" in exhausted and "user_grace" not in exhausted
    left = operator_client.get("/admin/challengeapp/quota/?exhausted=no").content.decode()
    assert "user_grace" in left and "user_ada" not in left


def test_reset_action_gives_back_todays_units(operator_client, learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    quota_consume(user=learner)
    quota = Quota.objects.get(user=learner)
    response = operator_client.post(
        "/admin/challengeapp/quota/", {"action": "reset_today", "_selected_action": [quota.pk]}, follow=True
    )
    assert "Reset today&#x27;s usage for 1 learner(s)." in response.content.decode()
    assert quota_status(user=learner).remaining == 1


def test_set_limit_action_asks_then_applies(operator_client, learner, other_learner):
    quota = Quota.objects.get(user=learner)
    page = operator_client.post(
        "/admin/challengeapp/quota/", {"action": "set_limit", "_selected_action": [quota.pk]}
    )
    assert page.status_code == 200 and "Set the daily limit" in page.content.decode()
    bad = operator_client.post(
        "/admin/challengeapp/quota/",
        {"action": "set_limit", "_selected_action": [quota.pk], "apply": "1", "daily_limit": "-3"},
    )
    assert bad.status_code == 200 and quota_status(user=learner).daily_limit == 50
    operator_client.post(
        "/admin/challengeapp/quota/",
        {"action": "set_limit", "_selected_action": [quota.pk], "apply": "1", "daily_limit": "120"},
    )
    assert quota_status(user=learner).daily_limit == 120
    assert quota_status(user=other_learner).daily_limit == 50


def test_limit_is_editable_on_the_quota_page(operator_client, learner):
    quota = Quota.objects.get(user=learner)
    operator_client.post(f"/admin/challengeapp/quota/{quota.pk}/change/", {"daily_limit": "7"})
    assert quota_status(user=learner).daily_limit == 7


def test_challenges_are_read_only_with_filters_and_usage(operator_client, learner):
    challenge = challenge_generate(user=learner, difficulty="hard", topic="git")
    listing = operator_client.get(
        "/admin/challengeapp/challenge/?difficulty__exact=hard&provider__exact=bank"
    ).content.decode()
    assert challenge.title.replace("'", "&#x27;") in listing
    assert operator_client.get(f"/admin/challengeapp/challenge/?q={challenge.title[:6]}").status_code == 200
    detail = operator_client.get(f"/admin/challengeapp/challenge/{challenge.pk}/change/")
    assert detail.status_code == 200 and 'name="title"' not in detail.content.decode()
    operator_client.post(f"/admin/challengeapp/challenge/{challenge.pk}/change/", {"title": "changed"})
    assert Challenge.objects.get(pk=challenge.pk).title == challenge.title
    usage = operator_client.get("/admin/challengeapp/challenge/usage/").content.decode()
    assert "Usage at a glance" in usage and "Where the correct answer sits (1 challenges)" in usage


def test_reset_quotas_command(learner, other_learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    quota_consume(user=learner)
    quota_consume(user=other_learner)
    call_command("reset_quotas", "--learner", "ada@example.com")
    assert quota_status(user=learner).remaining == 1 and quota_status(user=other_learner).remaining == 0
    call_command("reset_quotas", "--all")
    assert quota_status(user=other_learner).remaining == 1
    with pytest.raises(CommandError):
        call_command("reset_quotas", "--learner", "user_nobody")
    make_learner("user_twin1", email="twin@example.com")
    make_learner("user_twin2", email="twin@example.com")
    with pytest.raises(CommandError):
        call_command("reset_quotas", "--learner", "twin@example.com")


def test_reports_are_read_only_in_the_admin(operator_client, learner, other_learner):
    from challengeapp.models import Attempt, Report

    mine = challenge_generate(user=learner, difficulty="easy", topic="git")
    theirs = challenge_generate(user=other_learner, difficulty="easy", topic="git")
    Attempt.objects.create(challenge=mine, chosen_index=0, is_correct=False)
    report = Report.objects.create(challenge=mine, reason="wrong_key", note="It prints 3.")
    url = f"/admin/challengeapp/report/{report.pk}/change/"

    page = operator_client.get(url)
    operator_client.post(url, {"challenge": theirs.pk, "reason": "other", "note": "rewritten"})
    operator_client.post(f"/admin/challengeapp/report/{report.pk}/delete/", {"post": "yes"})

    html = page.content.decode()
    assert page.status_code == 200 and "It prints 3." in html
    assert "<select" not in html and "<textarea" not in html
    report.refresh_from_db()
    assert (report.challenge_id, report.reason, report.note) == (mine.pk, "wrong_key", "It prints 3.")


def test_the_quota_list_shows_failed_generations_and_reset_clears_them(operator_client, learner, settings):
    from challengeapp.core.errors import GenerationError

    settings.GENERATION_FAILURES_PER_DAY = 2

    class Failing:
        name = "openai"

        def generate(self, request):
            raise GenerationError("The model is down.", cause="upstream_5xx")

    for _ in range(3):
        with pytest.raises(GenerationError):
            challenge_generate(user=learner, difficulty="easy", topic="sql", provider=Failing())
    html = operator_client.get("/admin/challengeapp/quota/").content.decode()
    assert "Failed today" in html
    assert '<td class="field-failed_today">2 of 2</td>' in html
    quota = Quota.objects.get(user=learner)
    operator_client.post(
        "/admin/challengeapp/quota/", {"action": "reset_today", "_selected_action": [quota.pk]}, follow=True
    )
    html = operator_client.get("/admin/challengeapp/quota/").content.decode()
    assert '<td class="field-failed_today">0 of 2</td>' in html


def test_usage_shows_what_the_blind_check_confirmed_and_cost(operator_client, learner):
    Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="web",
        title="Idempotent methods",
        question="Which method is idempotent but not safe?",
        options=["PUT", "POST", "GET", "PATCH"],
        correct_index=0,
        explanation="PUT replaces the state.",
        provider="openai",
        source_key="model:test",
        verification="checked",
        total_tokens=700,
        check_model_name="gpt-4.1-nano",
        check_prompt_tokens=150,
        check_completion_tokens=40,
    )
    usage = operator_client.get("/admin/challengeapp/challenge/usage/").content.decode()
    assert "Keys confirmed by the blind check" in usage
    assert "<td>700</td><td>1</td><td>190</td>" in usage
    listing = operator_client.get(
        "/admin/challengeapp/challenge/?verification__exact=checked"
    ).content.decode()
    assert "Idempotent methods" in listing
