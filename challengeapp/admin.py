"""The operators' view: quotas they can find, reset and raise; challenges they can read; usage."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from challengeapp.content.reports import (
    LOW_PERFORMER_MAX_SHARE,
    LOW_PERFORMER_MIN_ANSWERS,
    ContentReach,
    InvalidDecision,
    content_correct_key,
    content_correction_conflicts,
    content_decision_preview,
    content_decision_reverse,
    content_dismiss,
    content_low_performers,
    content_reports,
    content_retire,
    content_reversal_preview,
    reports_by_reason_label,
)
from challengeapp.models import (
    Attempt,
    Challenge,
    CodeProblem,
    CodeSubmission,
    ContentDecision,
    Quota,
    Report,
    Verification,
    WebhookEvent,
)
from challengeapp.quota import failures_today, quota_reset, quota_set_limit, quota_today

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
    list_display = ["clerk_id", "email", "used_today", "limit", "remaining", "failed_today", "day"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    list_filter = [ExhaustedFilter]
    ordering = ["user__username"]
    actions = ["reset_today", "set_limit"]
    fields = ["user", "daily_limit", "used", "day", "failed_today"]
    readonly_fields = ["user", "used", "day", "failed_today"]

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

    @admin.display(description="Failed today")
    def failed_today(self, quota: Quota) -> str:
        # Failed generations (each a billed model request) against GENERATION_FAILURES_PER_DAY;
        # at the bound, generating is paused for the day. Resetting today's usage clears them.
        from django.conf import settings

        return f"{failures_today(quota)} of {settings.GENERATION_FAILURES_PER_DAY}"

    @admin.action(description="Reset today's usage (and failed generations) of the selected learners")
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
        "verification",
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
        "verification",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "check_model_name",
        "check_prompt_tokens",
        "check_completion_tokens",
        "created_at",
    ]
    change_list_template = "admin/challengeapp/challenge/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Challenges are immutable records of what a learner was served and answered; progress
        # counts, reviews and reports hang off them. Retire bad content instead (Reports).
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
                checked=Count("id", filter=Q(verification=Verification.CHECKED)),
                check_tokens=Coalesce(Sum("check_prompt_tokens"), 0)
                + Coalesce(Sum("check_completion_tokens"), 0),
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
    """A decision on one piece of content, as the reported-content page posts it: the option by its
    index in the example challenge shown (option texts can span lines, and browsers post those
    with CRLF)."""

    source_key = forms.CharField(max_length=120)
    decision = forms.ChoiceField(
        choices=[("retire", "Retire"), ("correct", "Correct the key"), ("dismiss", "Dismiss")]
    )
    example = forms.IntegerField(min_value=1, max_value=2**62)
    option_index = forms.IntegerField(required=False, min_value=0, max_value=3)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "correct" and cleaned.get("option_index") is None:
            raise forms.ValidationError("Pick the right option.")
        return cleaned


def _touches(reach: ContentReach) -> str:
    return (
        f"{reach.challenges} challenge{pluralize(reach.challenges)} "
        f"of {reach.learners} learner{pluralize(reach.learners)}"
    )


def _confirmation(
    model_admin: admin.ModelAdmin, request: HttpRequest, preview, *, action: str, fields: dict
) -> TemplateResponse:
    """The page that says what a decision touches before the operator confirms it."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Confirm the decision",
        "preview": preview,
        "touches": _touches(preview.reach),
        "action": action,
        "fields": fields,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/challengeapp/confirm_decision.html", context)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Reports grouped by content (the same bank entry or snippet serves many learners), with the
    key, the counts, the notes and the item statistics, and decisions per content for everyone.

    A learner's report is theirs: operators read it here and never change, move or delete it
    (no generic change form, so no select of every challenge either)."""

    fields = ["challenge", "learner", "reason", "note", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _may_decide(self, request: HttpRequest) -> bool:
        # Deciding about content is what the "change report" permission grants.
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.display(description="Learner")
    def learner(self, report: Report) -> str:
        return report.challenge.owner.username

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
                {
                    "group": group,
                    "reasons": reports_by_reason_label(group.reasons),
                    "touches": _touches(group.reach),
                }
                for group in groups
            ],
            "low_performers": content_low_performers(),
            "conflicts": content_correction_conflicts(),
            "min_answers": LOW_PERFORMER_MIN_ANSWERS,
            "max_share": int(LOW_PERFORMER_MAX_SHARE * 100),
            "can_decide": self._may_decide(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/challengeapp/reports_by_content.html", context)

    def decide_view(self, request: HttpRequest) -> HttpResponse:
        """POST a decision: first the page says what it will touch, then "confirm" takes it."""
        changelist = reverse("admin:challengeapp_report_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        if not self._may_decide(request):
            raise PermissionDenied
        form = ContentDecisionForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "That decision is incomplete.", messages.ERROR)
            return HttpResponseRedirect(changelist)
        data = form.cleaned_data
        source_key, decision = data["source_key"], data["decision"]
        try:
            if "confirm" not in request.POST:
                preview = content_decision_preview(
                    source_key=source_key,
                    decision=decision,
                    example_id=data["example"],
                    option_index=data["option_index"],
                )
                fields = {name: value for name, value in data.items() if value is not None}
                return _confirmation(
                    self, request, preview, action=reverse("admin:challengeapp_report_decide"), fields=fields
                )
            self._decide(request, data)
        except InvalidDecision as error:
            self.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(changelist)

    def _decide(self, request: HttpRequest, data: dict) -> None:
        source_key, decision = data["source_key"], data["decision"]
        operator = request.user.get_username()
        if decision == "retire":
            content_retire(source_key=source_key, operator=operator)
            self.message_user(
                request, f"Retired {source_key}: it will not be served again.", messages.SUCCESS
            )
        elif decision == "dismiss":
            content_dismiss(source_key=source_key, operator=operator)
            self.message_user(request, f"Dismissed the reports on {source_key}.", messages.SUCCESS)
        else:
            correction = content_correct_key(
                source_key=source_key,
                example_id=data["example"],
                option_index=data["option_index"],
                operator=operator,
            )
            message = (
                f"Corrected the key of {source_key}; "
                f"{correction.decision.grades_changed} answer(s) changed grade."
            )
            if correction.lacking:
                message += (
                    f" {correction.lacking} challenge{pluralize(correction.lacking)} without that option "
                    f"{pluralize(correction.lacking, 'was,were')} left as {pluralize(correction.lacking, 'it is,they are')}."
                )
            self.message_user(request, message, messages.SUCCESS)


@admin.register(ContentDecision)
class ContentDecisionAdmin(admin.ModelAdmin):
    """The record of every decision, read-only; a standing retirement or correction can be
    reversed (a decision of its own, kept too)."""

    list_display = [
        "source_key",
        "outcome",
        "corrected_option",
        "answers_regraded",
        "grades_changed",
        "decided_at",
        "decided_by",
        "reverse_link",
    ]
    list_filter = ["outcome"]
    search_fields = ["source_key"]
    readonly_fields = [
        "source_key",
        "outcome",
        "corrected_option",
        "previous_option",
        "reverses",
        "answers_regraded",
        "grades_changed",
        "decided_at",
        "decided_by",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # decisions are taken on the reported-content page

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the record is never rewritten

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _may_reverse(self, request: HttpRequest) -> bool:
        return request.user.has_perm("challengeapp.change_report")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(reversal_count=Count("reversals"))

    @admin.display(description="Reverse")
    def reverse_link(self, decision: ContentDecision) -> str:
        if decision.outcome not in (ContentDecision.Outcome.RETIRED, ContentDecision.Outcome.CORRECTED):
            return "—"
        if getattr(decision, "reversal_count", 0):
            return "reversed"
        url = reverse("admin:challengeapp_contentdecision_reverse", args=[decision.pk])
        return format_html('<a href="{}">Reverse…</a>', url)

    def get_urls(self):
        reverse_view = path(
            "<int:decision_id>/reverse/",
            self.admin_site.admin_view(self.reverse_view),
            name="challengeapp_contentdecision_reverse",
        )
        return [reverse_view, *super().get_urls()]

    def reverse_view(self, request: HttpRequest, decision_id: int) -> HttpResponse:
        """GET says what reversing touches; POST with "confirm" reverses."""
        changelist = reverse("admin:challengeapp_contentdecision_changelist")
        if not self._may_reverse(request):
            raise PermissionDenied
        try:
            if request.method != "POST" or "confirm" not in request.POST:
                preview = content_reversal_preview(decision_id=decision_id)
                return _confirmation(
                    self,
                    request,
                    preview,
                    action=reverse("admin:challengeapp_contentdecision_reverse", args=[decision_id]),
                    fields={},
                )
            reversal = content_decision_reverse(decision_id=decision_id, operator=request.user.get_username())
        except InvalidDecision as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(changelist)
        self.message_user(
            request,
            f"Reversed: {reversal.reverses}; {reversal.grades_changed} answer(s) changed grade.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(changelist)


class CodeSubmissionInline(admin.TabularInline):
    model = CodeSubmission
    can_delete = False
    extra = 0
    max_num = 0
    fields = ["kind", "passed", "tests_passed", "tests_total", "message", "created_at"]
    readonly_fields = fields


@admin.register(CodeProblem)
class CodeProblemAdmin(admin.ModelAdmin):
    """Coding problems served to learners, with their submissions: records, read only."""

    list_display = ["title", "owner", "difficulty", "topic", "provider", "outcome", "created_at"]
    list_filter = ["difficulty", "topic", "provider", "outcome", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["title"]
    list_select_related = ["owner"]
    inlines = [CodeSubmissionInline]
    readonly_fields = [
        "owner",
        "difficulty",
        "topic",
        "title",
        "statement",
        "function_name",
        "signature",
        "language",
        "starter_code",
        "examples",
        "hidden_tests",
        "reference_solution",
        "explanation",
        "provider",
        "model_name",
        "source_key",
        "gave_up_at",
        "outcome",
        "outcome_submits",
        "finished_at",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # what a learner was served and submitted; operators read it
