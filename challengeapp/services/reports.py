"""Learners report problems with a challenge's content; operators decide once for everyone.

Content is what a challenge's `source_key` names: a bank entry, a procedural snippet, or a model's
question. The same content serves many learners (each gets their own Challenge row, with the
options in their own order), so reports are grouped by it, and a decision applies to all of it:
- retire: it is never served again;
- correct the key: the right option (by its text) becomes the key of every challenge with that
  content, and every stored answer to it is graded again, for every learner: their history shows
  when, and their progress and review schedules follow (services/review.py rebuilds them);
- dismiss: the reports so far are closed; a new report opens the content again.

Item statistics per content: how often it was answered, and the share of first answers that were
right. Content answered right less often than chance (at least 10 answers, under 25 % right) is
listed for an operator to look at.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from challengeapp.models import Attempt, Challenge, ContentDecision, Report, ReportReason, ReviewCard
from challengeapp.services.errors import CodeDrillError
from challengeapp.services.review import review_card_rebuild

MAX_NOTE_CHARS = 1000
LOW_PERFORMER_MIN_ANSWERS = 10
LOW_PERFORMER_MAX_SHARE = 0.25

NOT_YOURS = "Not found."
NOT_ANSWERED = "Answer the challenge before reporting a problem with it."
INVALID_REASON = "reason must be one of: " + ", ".join(ReportReason.values) + "."
INVALID_NOTE = f"note must be text of at most {MAX_NOTE_CHARS} characters, without NUL characters."
UNKNOWN_CONTENT = "No challenge has that content."
OPTION_NOT_IN_CONTENT = "That option is not one of this content's options."


class ReportNotFound(CodeDrillError):
    pass


class InvalidReport(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDecision(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def report_submit(*, user, challenge_id: int, reason: object, note: object = "") -> tuple[Report, bool]:
    """Store the learner's report on their answered challenge, or change it. Returns the report
    and whether it is new. The note is stored as text and never sent to a model."""
    challenge = Challenge.objects.filter(id=challenge_id, owner=user).select_related("attempt").first()
    if challenge is None:
        raise ReportNotFound(NOT_YOURS)
    if not isinstance(reason, str) or reason not in ReportReason.values:
        raise InvalidReport(INVALID_REASON)
    if note is None:
        note = ""
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS or "\x00" in note:
        raise InvalidReport(INVALID_NOTE)
    try:
        challenge.attempt  # noqa: B018
    except Attempt.DoesNotExist:
        raise InvalidReport(NOT_ANSWERED) from None
    report, created = Report.objects.update_or_create(
        challenge=challenge, defaults={"reason": reason, "note": note.strip()}
    )
    return report, created


@dataclass
class ContentReports:
    """The open reports about one piece of content, with its item statistics."""

    source_key: str
    example: Challenge
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    reports: int = 0
    last_reported_at: object = None
    answered: int = 0
    right: int = 0

    @property
    def share_right(self) -> float | None:
        return self.right / self.answered if self.answered else None

    @property
    def key_text(self) -> str:
        return self.example.options[self.example.correct_index]


def _decided_at() -> dict[str, object]:
    return dict(ContentDecision.objects.values_list("source_key", "decided_at"))


def content_reports() -> list[ContentReports]:
    """Open reports grouped by content, most reported first. Reports older than the content's
    last decision are closed."""
    decided = _decided_at()
    groups: dict[str, ContentReports] = {}
    reports = Report.objects.select_related("challenge").order_by("-updated_at")
    for report in reports:
        key = report.challenge.source_key
        if key in decided and report.updated_at <= decided[key]:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = ContentReports(source_key=key, example=report.challenge)
            group.last_reported_at = report.updated_at
        group.reports += 1
        group.reasons[report.reason] += 1
        if report.note:
            group.notes.append(report.note)
    stats = content_statistics(source_keys=list(groups))
    for key, group in groups.items():
        group.answered, group.right = stats.get(key, (0, 0))
    return sorted(groups.values(), key=lambda g: (-g.reports, g.source_key))


def content_statistics(*, source_keys: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """Per content: (first answers, right first answers)."""
    attempts = Attempt.objects.all()
    if source_keys is not None:
        attempts = attempts.filter(challenge__source_key__in=source_keys)
    rows = attempts.values("challenge__source_key").annotate(
        answered=Count("id"), right=Count("id", filter=Q(is_correct=True))
    )
    return {row["challenge__source_key"]: (row["answered"], row["right"]) for row in rows}


def content_low_performers(
    *, min_answers: int = LOW_PERFORMER_MIN_ANSWERS, max_share: float = LOW_PERFORMER_MAX_SHARE
) -> list[ContentReports]:
    """Content answered right less often than chance would: a wrong key, or a misleading question."""
    rows = (
        Attempt.objects.values("challenge__source_key")
        .annotate(
            answered=Count("id"), right=Count("id", filter=Q(is_correct=True)), last=Max("challenge_id")
        )
        .filter(answered__gte=min_answers)
    )
    low = [row for row in rows if row["right"] < max_share * row["answered"]]
    examples = Challenge.objects.in_bulk([row["last"] for row in low])
    items = [
        ContentReports(
            source_key=row["challenge__source_key"],
            example=examples[row["last"]],
            answered=row["answered"],
            right=row["right"],
        )
        for row in low
    ]
    return sorted(items, key=lambda item: (item.share_right, -item.answered))


@dataclass(frozen=True)
class ContentDecisions:
    """The operators' standing decisions a generation applies: content retired, keys corrected."""

    retired: frozenset[str]
    corrected: dict[str, str]  # source_key -> the option that is the right answer


def content_decisions() -> ContentDecisions:
    """Every retirement and correction, in one query: a generation reads them once, before it asks
    its provider (the bank must not pick retired content) and applies them when it saves.

    A decision taken while a model is answering is not seen by that one generation. It could only
    matter if the model wrote, in those seconds, exactly the content decided on (source keys are
    content hashes); the bank answers at once, so there the window is as short as it ever was."""
    retired, corrected = set(), {}
    rows = ContentDecision.objects.filter(
        outcome__in=[ContentDecision.Outcome.RETIRED, ContentDecision.Outcome.CORRECTED]
    ).values_list("source_key", "outcome", "corrected_option")
    for source_key, outcome, corrected_option in rows:
        if outcome == ContentDecision.Outcome.RETIRED:
            retired.add(source_key)
        else:
            corrected[source_key] = corrected_option
    return ContentDecisions(retired=frozenset(retired), corrected=corrected)


def _decide(*, source_key: str, outcome: str, operator: str, corrected_option: str = "") -> ContentDecision:
    if not Challenge.objects.filter(source_key=source_key).exists():
        raise InvalidDecision(UNKNOWN_CONTENT)
    decision, _ = ContentDecision.objects.update_or_create(
        source_key=source_key,
        defaults={
            "outcome": outcome,
            "corrected_option": corrected_option,
            "decided_at": timezone.now(),
            "decided_by": operator[:150],
        },
    )
    return decision


def content_retire(*, source_key: str, operator: str = "") -> ContentDecision:
    return _decide(source_key=source_key, outcome=ContentDecision.Outcome.RETIRED, operator=operator)


def content_dismiss(*, source_key: str, operator: str = "") -> ContentDecision:
    return _decide(source_key=source_key, outcome=ContentDecision.Outcome.DISMISSED, operator=operator)


def content_correct_key(*, source_key: str, option_text: str, operator: str = "") -> int:
    """Make `option_text` the key of every challenge with this content and grade every stored
    answer to it again. Returns how many answers changed grade."""
    with transaction.atomic():
        challenges = list(Challenge.objects.select_for_update().filter(source_key=source_key))
        if not challenges:
            raise InvalidDecision(UNKNOWN_CONTENT)
        if any(option_text not in challenge.options for challenge in challenges):
            raise InvalidDecision(OPTION_NOT_IN_CONTENT)
        _decide(
            source_key=source_key,
            outcome=ContentDecision.Outcome.CORRECTED,
            operator=operator,
            corrected_option=option_text,
        )
        now = timezone.now()
        changed = 0
        rebuilt: list[int] = []
        for challenge in challenges:
            new_index = challenge.options.index(option_text)
            if new_index == challenge.correct_index:
                continue
            Challenge.objects.filter(pk=challenge.pk).update(correct_index=new_index)
            attempt = Attempt.objects.filter(challenge=challenge).first()
            if attempt is not None:
                is_correct = attempt.chosen_index == new_index
                changed += is_correct != attempt.is_correct
                Attempt.objects.filter(pk=attempt.pk).update(is_correct=is_correct, regraded_at=now)
            rebuilt.append(challenge.pk)
        for card in ReviewCard.objects.filter(challenge_id__in=rebuilt).select_related("challenge"):
            review_card_rebuild(card)
    return changed


def reports_by_reason_label(counts: Counter) -> list[tuple[str, int]]:
    labels = dict(ReportReason.choices)
    return [(labels[reason], count) for reason, count in counts.most_common()]
