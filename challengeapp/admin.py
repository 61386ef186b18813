"""The operators' view: quotas they can find, reset and raise; challenges they can read; usage."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from challengeapp.models import Attempt, Challenge, ContentDecision, Quota, Report, WebhookEvent
from challengeapp.services.learners import quota_today
from challengeapp.services.quota import quota_reset, quota_set_limit
from challengeapp.services.reports import (
    LOW_PERFORMER_MAX_SHARE,
    LOW_PERFORMER_MIN_ANSWERS,
    InvalidDecision,
    content_correct_key,
    content_dismiss,
    content_low_performers,
    content_reports,
    content_retire,
    reports_by_reason_label,
)

admin.site.site_header = "CodeDrill operations"
admin.site.site_title = "CodeDrill admin"
admin.site.index_title = "Learners, quotas and challenges"


def _effective_limit(quota: Quota) -> int:
    from django.conf import settings

    return quota.daily_limit if quota.daily_limit is not None else settings.DAILY_CHALLENGE_QUOTA


def _used_today(quota: Quota) -> int:
    return quota.used if quota.day == quota_today() else 0


class ExhaustedFilter(admin.SimpleListFilter):
    title = "quota today"
    parameter_name = "exhausted"

    def lookups(self, request, model_admin):
        return [("yes", "Exhausted"), ("no", "Units left")]

    def queryset(self, request, queryset):
        from django.conf import settings

        limit = Coalesce(F("daily_limit"), Value(settings.DAILY_CHALLENGE_QUOTA))
        exhausted = Q(day=quota_today(), used__gte=limit) | Q(daily_limit=0)
        if settings.DAILY_CHALLENGE_QUOTA == 0:
            exhausted |= Q(daily_limit__isnull=True)
        if self.value() == "yes":
            return queryset.filter(exhausted)
        if self.value() == "no":
            return queryset.exclude(exhausted)
        return queryset


class SetLimitForm(forms.Form):
    daily_limit = forms.IntegerField(
        min_value=0,
        max_value=100_000,
        required=False,
        help_text="Challenges per day for the selected learners. Leave empty to use the default.",
    )


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["clerk_id", "email", "used_today", "limit", "remaining", "day"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    list_filter = [ExhaustedFilter]
    ordering = ["user__username"]
    actions = ["reset_today", "set_limit"]
    fields = ["user", "daily_limit", "used", "day"]
    readonly_fields = ["user", "used", "day"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # every learner gets a quota row when created

    @admin.display(description="Clerk id", ordering="user__username")
    def clerk_id(self, quota: Quota) -> str:
        return quota.user.username

    @admin.display(description="Email", ordering="user__email")
    def email(self, quota: Quota) -> str:
        return quota.user.email

    @admin.display(description="Used today")
    def used_today(self, quota: Quota) -> int:
        return _used_today(quota)

    @admin.display(description="Daily limit")
    def limit(self, quota: Quota) -> str:
        limit = _effective_limit(quota)
        return f"{limit}" if quota.daily_limit is not None else f"{limit} (default)"

    @admin.display(description="Remaining")
    def remaining(self, quota: Quota) -> int:
        return max(_effective_limit(quota) - _used_today(quota), 0)

    @admin.action(description="Reset today's usage of the selected learners")
    def reset_today(self, request: HttpRequest, queryset) -> None:
        count = 0
        for quota in queryset.select_related("user"):
            count += quota_reset(user=quota.user)
        self.message_user(request, f"Reset today's usage for {count} learner(s).", messages.SUCCESS)

    @admin.action(description="Set the daily limit of the selected learners")
    def set_limit(self, request: HttpRequest, queryset) -> HttpResponse | None:
        form = SetLimitForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            limit = form.cleaned_data["daily_limit"]
            for quota in queryset.select_related("user"):
                quota_set_limit(user=quota.user, daily_limit=limit)
            shown = "the default" if limit is None else str(limit)
            self.message_user(
                request,
                f"Set the daily limit to {shown} for {queryset.count()} learner(s).",
                messages.SUCCESS,
            )
            return None
        return render(
            request,
            "admin/challengeapp/quota/set_limit.html",
            {
                **self.admin_site.each_context(request),
                "title": "Set the daily limit",
                "quotas": queryset.select_related("user"),
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


class AttemptInline(admin.StackedInline):
    model = Attempt
    can_delete = False
    extra = 0
    max_num = 0
    readonly_fields = ["chosen_index", "is_correct", "answered_at"]


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "owner",
        "difficulty",
        "topic",
        "provider",
        "correct_index",
        "answered",
        "total_tokens",
        "created_at",
    ]
    list_filter = [
        "difficulty",
        "topic",
        "provider",
        "is_fallback",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["title"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "attempt"]
    inlines = [AttemptInline]
    readonly_fields = [
        "owner",
        "difficulty",
        "topic",
        "title",
        "question",
        "code",
        "code_language",
        "options",
        "correct_index",
        "explanation",
        "provider",
        "model_name",
        "source_key",
        "is_fallback",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "created_at",
    ]
    change_list_template = "admin/challengeapp/challenge/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # challenges are immutable; operators read them

    @admin.display(description="Answer", ordering="attempt__is_correct")
    def answered(self, challenge: Challenge) -> str:
        attempt = getattr(challenge, "attempt", None)
        if attempt is None:
            return "—"
        return "right" if attempt.is_correct else "wrong"

    def get_urls(self):
        usage = path("usage/", self.admin_site.admin_view(self.usage_view), name="challengeapp_usage")
        return [usage, *super().get_urls()]

    def usage_view(self, request: HttpRequest) -> TemplateResponse:
        days = (
            Challenge.objects.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("day")
            .annotate(
                challenges=Count("id"),
                from_openai=Count("id", filter=Q(provider="openai")),
                fallbacks=Count("id", filter=Q(is_fallback=True)),
                tokens=Coalesce(Sum("total_tokens"), 0),
                learners=Count("owner", distinct=True),
            )
            .order_by("-day")[:30]
        )
        positions = dict(
            Challenge.objects.values_list("correct_index").annotate(n=Count("id")).order_by("correct_index")
        )
        total = sum(positions.values())
        position_rows = [
            {
                "position": index + 1,
                "count": positions.get(index, 0),
                "share": (100 * positions.get(index, 0) / total) if total else 0.0,
            }
            for index in range(4)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage at a glance",
            "days": days,
            "positions": position_rows,
            "total": total,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/challengeapp/usage.html", context)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["svix_id", "event_type", "received_at"]
    search_fields = ["svix_id", "event_type"]
    list_filter = ["event_type"]
    readonly_fields = ["svix_id", "event_type", "received_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ContentDecisionForm(forms.Form):
    source_key = forms.CharField(max_length=120)
    decision = forms.ChoiceField(
        choices=[("retire", "Retire"), ("correct", "Correct the key"), ("dismiss", "Dismiss")]
    )
    option = forms.CharField(required=False, max_length=1000)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Reports grouped by content (the same bank entry or snippet serves many learners), with the
    key, the counts, the notes and the item statistics, and one decision per content for everyone."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_urls(self):
        decide = path(
            "decide/", self.admin_site.admin_view(self.decide_view), name="challengeapp_report_decide"
        )
        return [decide, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> TemplateResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        groups = content_reports()
        context = {
            **self.admin_site.each_context(request),
            "title": "Reported content",
            "groups": [
                {"group": group, "reasons": reports_by_reason_label(group.reasons)} for group in groups
            ],
            "low_performers": content_low_performers(),
            "min_answers": LOW_PERFORMER_MIN_ANSWERS,
            "max_share": int(LOW_PERFORMER_MAX_SHARE * 100),
            "can_decide": self.has_change_permission(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/challengeapp/reports_by_content.html", context)

    def decide_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:challengeapp_report_changelist"))
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = ContentDecisionForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "That decision is incomplete.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:challengeapp_report_changelist"))
        source_key, decision = form.cleaned_data["source_key"], form.cleaned_data["decision"]
        operator = request.user.get_username()
        try:
            if decision == "retire":
                content_retire(source_key=source_key, operator=operator)
                self.message_user(
                    request, f"Retired {source_key}: it will not be served again.", messages.SUCCESS
                )
            elif decision == "dismiss":
                content_dismiss(source_key=source_key, operator=operator)
                self.message_user(request, f"Dismissed the reports on {source_key}.", messages.SUCCESS)
            else:
                changed = content_correct_key(
                    source_key=source_key, option_text=form.cleaned_data["option"], operator=operator
                )
                self.message_user(
                    request,
                    f"Corrected the key of {source_key}; {changed} answer(s) changed grade.",
                    messages.SUCCESS,
                )
        except InvalidDecision as error:
            self.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:challengeapp_report_changelist"))


@admin.register(ContentDecision)
class ContentDecisionAdmin(admin.ModelAdmin):
    list_display = ["source_key", "outcome", "corrected_option", "decided_at", "decided_by"]
    list_filter = ["outcome"]
    search_fields = ["source_key"]
    readonly_fields = ["source_key", "outcome", "corrected_option", "decided_at", "decided_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # decisions are taken on the reported-content page
