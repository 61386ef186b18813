"""Learners report problems with a challenge's content; operators decide once for everyone.

Content is what a challenge's `source_key` names (content/identity.py): a bank entry, a
procedural snippet, or a model's challenge (its question, code, language and options). The same
content serves many learners (each gets their own Challenge row, with the options in their own
order), so reports are grouped by it, and a decision applies to all of it:
- retire: it is never served again;
- correct the key: the option the operator picked (by its index in the example shown) becomes the
  key of every challenge with that content, and every stored answer to it is graded again, for
  every learner: their history shows when, and their progress and review schedules follow
  (learning/review.py rebuilds them). A key that running the code established (`executed`) is
  never overridden: such a correction is refused and the operator is shown why;
- dismiss: the reports so far are closed; a new report opens the content again.

Decisions are a record (ContentDecision), never overwritten: a dismissal closes reports and
nothing else; a retirement or correction stands until an operator reverses it explicitly. Before a
decision is taken, `content_decision_preview` says how many challenges, learners and answers it
touches.

Reports count learners, not rows: one open report per learner per content (reporting again
changes it), and at most REPORTS_PER_LEARNER_PER_DAY new reports per learner per day.

Item statistics per content: how often it was answered, and the share of first answers that were
right. Content answered right less often than chance (at least 10 answers, under 25 % right) is
listed for an operator to look at.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from challengeapp.content.identity import option_form
from challengeapp.core.drafts import OPTION_COUNT
from challengeapp.core.errors import CodeDrillError
from challengeapp.learning.progress_counts import progress_count_add
from challengeapp.learning.review import review_card_rebuild
from challengeapp.models import (
    Attempt,
    Challenge,
    ContentDecision,
    Report,
    ReportReason,
    ReviewCard,
    Verification,
)

MAX_NOTE_CHARS = 1000
LOW_PERFORMER_MIN_ANSWERS = 10
LOW_PERFORMER_MAX_SHARE = 0.25

NOT_YOURS = "Not found."
NOT_ANSWERED = "Answer the challenge before reporting a problem with it."
INVALID_REASON = "reason must be one of: " + ", ".join(ReportReason.values) + "."
INVALID_NOTE = f"note must be text of at most {MAX_NOTE_CHARS} characters, without NUL characters."
REPORT_LIMIT = "You can send at most {limit} reports a day. Thank you: try again tomorrow."
UNKNOWN_CONTENT = "No challenge has that content."
UNKNOWN_OPTION = "Pick one of the four options of the challenge shown."
UNKNOWN_DECISION = "There is no such decision."
KEY_ESTABLISHED_BY_RUNNING = (
    "Not corrected: running its code established the key {key!r} (CodeDrill ran this code), and a "
    "correction never overrides that. If the question itself is wrong, retire it."
)
ALREADY_RETIRED = "This content is already retired."
NOT_REVERSIBLE = "Only a retirement or a correction can be reversed."
ALREADY_REVERSED = "That decision has already been reversed."
SUPERSEDED = "A later correction of this content stands: reverse that one first."


class ReportNotFound(CodeDrillError):
    pass


class InvalidReport(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReportLimitReached(InvalidReport):
    """The learner sent their reports for today."""


class InvalidDecision(CodeDrillError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Learners' reports -------------------------------------------------------------------------------


def _last_decided_at(source_key: str) -> dt.datetime | None:
    return ContentDecision.objects.filter(source_key=source_key).aggregate(last=Max("decided_at"))["last"]


def _start_of_today() -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))


def report_submit(*, user, challenge_id: int, reason: object, note: object = "") -> tuple[Report, bool]:
    """Store the learner's report on their answered challenge, or change their open report on its
    content. Returns the report and whether it is new. The note is stored as text and never sent
    to a model. Raises ReportNotFound, InvalidReport, ReportLimitReached."""
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
    note = note.strip()
    with transaction.atomic():
        # One learner's reports are written one at a time (their user row is the lock), so the
        # open report per content and the daily cap hold under concurrent requests.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        mine = Report.objects.filter(challenge__owner=user, challenge__source_key=challenge.source_key)
        decided_at = _last_decided_at(challenge.source_key)
        open_reports = mine if decided_at is None else mine.filter(updated_at__gt=decided_at)
        report = open_reports.order_by("-updated_at").first()
        if report is not None:
            report.reason, report.note = reason, note
            report.save(update_fields=["reason", "note", "updated_at"])
            return report, False
        limit = settings.REPORTS_PER_LEARNER_PER_DAY
        if Report.objects.filter(challenge__owner=user, created_at__gte=_start_of_today()).count() >= limit:
            raise ReportLimitReached(REPORT_LIMIT.format(limit=limit))
        # A report closed by a decision, on this very challenge: sending it again is a new report.
        now = timezone.now()
        report, _ = Report.objects.update_or_create(
            challenge=challenge,
            defaults={"reason": reason, "note": note, "created_at": now, "updated_at": now},
        )
        return report, True


# --- What the operator sees ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentReach:
    """What a decision about one piece of content reaches: its challenges, their learners, and the
    stored answers to them."""

    challenges: int = 0
    learners: int = 0
    answers: int = 0


@dataclass
class ContentReports:
    """The open reports about one piece of content, with its item statistics."""

    source_key: str
    example: Challenge
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    reporters: int = 0  # distinct learners with an open report
    last_reported_at: object = None
    answered: int = 0
    right: int = 0
    reach: ContentReach = field(default_factory=ContentReach)
    standing: list[ContentDecision] = field(default_factory=list)

    @property
    def share_right(self) -> float | None:
        return self.right / self.answered if self.answered else None

    @property
    def key_text(self) -> str:
        return self.example.options[self.example.correct_index]


def content_reach(*, source_keys: Iterable[str]) -> dict[str, ContentReach]:
    rows = (
        Challenge.objects.filter(source_key__in=list(source_keys))
        .values("source_key")
        .annotate(
            challenges=Count("id", distinct=True),
            learners=Count("owner", distinct=True),
            answers=Count("attempt", distinct=True),
        )
    )
    return {
        row["source_key"]: ContentReach(row["challenges"], row["learners"], row["answers"]) for row in rows
    }


def content_reports() -> list[ContentReports]:
    """Open reports grouped by content, the most learners first: each learner counts once, with
    their latest report. Reports older than the content's last decision are closed."""
    decided = dict(
        ContentDecision.objects.values("source_key")
        .annotate(last=Max("decided_at"))
        .values_list("source_key", "last")
    )
    groups: dict[str, ContentReports] = {}
    counted: set[tuple[str, int]] = set()
    reports = Report.objects.select_related("challenge").order_by("-updated_at", "-id")
    for report in reports:
        key = report.challenge.source_key
        if key in decided and report.updated_at <= decided[key]:
            continue
        if (key, report.challenge.owner_id) in counted:
            continue  # an older report of the same learner on the same content
        counted.add((key, report.challenge.owner_id))
        group = groups.get(key)
        if group is None:
            group = groups[key] = ContentReports(source_key=key, example=report.challenge)
            group.last_reported_at = report.updated_at
        group.reporters += 1
        group.reasons[report.reason] += 1
        if report.note:
            group.notes.append(report.note)
    stats = content_statistics(source_keys=list(groups))
    reach = content_reach(source_keys=groups)
    standing = content_standing_decisions(source_keys=list(groups))
    for key, group in groups.items():
        group.answered, group.right = stats.get(key, (0, 0))
        group.reach = reach.get(key, ContentReach())
        group.standing = standing.get(key, [])
    return sorted(groups.values(), key=lambda g: (-g.reporters, g.source_key))


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


# --- The standing decisions ---------------------------------------------------------------------------


def _standing(rows: list[ContentDecision]) -> dict[str, list[ContentDecision]]:
    """Per content, the retirements not reversed and the correction that stands (the latest one
    not reversed), from the whole record."""
    reversed_ids = {row.reverses_id for row in rows if row.outcome == ContentDecision.Outcome.REVERSED}
    standing: dict[str, list[ContentDecision]] = {}
    latest_correction: dict[str, ContentDecision] = {}
    for row in sorted(rows, key=lambda row: (row.decided_at, row.pk)):
        if row.pk in reversed_ids:
            continue
        if row.outcome == ContentDecision.Outcome.RETIRED:
            standing.setdefault(row.source_key, []).append(row)
        elif row.outcome == ContentDecision.Outcome.CORRECTED:
            latest_correction[row.source_key] = row
    for key, row in latest_correction.items():
        standing.setdefault(key, []).append(row)
    return standing


def content_standing_decisions(*, source_keys: list[str] | None = None) -> dict[str, list[ContentDecision]]:
    rows = ContentDecision.objects.exclude(outcome=ContentDecision.Outcome.DISMISSED)
    if source_keys is not None:
        rows = rows.filter(source_key__in=source_keys)
    return _standing(list(rows))


@dataclass(frozen=True)
class ContentDecisions:
    """The operators' standing decisions a generation applies: content retired, keys corrected."""

    retired: frozenset[str]
    corrected: dict[str, str]  # source_key -> the option that is the right answer


def content_decisions() -> ContentDecisions:
    """Every standing retirement and correction, in one query: a generation reads them once,
    before it asks its provider (the bank must not pick retired content) and applies them when it
    saves (never over a key that running the code established: generation/pipeline.py).

    A decision taken while a model is answering is not seen by that one generation. It could only
    matter if the model wrote, in those seconds, exactly the content decided on (source keys are
    content hashes); the bank answers at once, so there the window is as short as it ever was."""
    retired, corrected = set(), {}
    for key, rows in content_standing_decisions().items():
        for row in rows:
            if row.outcome == ContentDecision.Outcome.RETIRED:
                retired.add(key)
            else:
                corrected[key] = row.corrected_option
    return ContentDecisions(retired=frozenset(retired), corrected=corrected)


def content_correction_conflicts() -> list[tuple[ContentDecision, str]]:
    """Standing corrections that running the code contradicts: a challenge of the content whose
    key is `executed` and is another option. Such challenges keep the key the run established;
    the operator sees the pair."""
    corrections = [
        row
        for rows in content_standing_decisions().values()
        for row in rows
        if row.outcome == ContentDecision.Outcome.CORRECTED
    ]
    by_key = {row.source_key: row for row in corrections}
    conflicts: dict[str, str] = {}
    executed = Challenge.objects.filter(source_key__in=list(by_key), verification=Verification.EXECUTED)
    for key, options, index in executed.values_list("source_key", "options", "correct_index"):
        if key not in conflicts and option_form(options[index]) != option_form(by_key[key].corrected_option):
            conflicts[key] = options[index]
    return [(by_key[key], ran) for key, ran in sorted(conflicts.items())]


# --- Taking a decision ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rekeying:
    """What making `option_text` the key of a content's challenges would do."""

    option_text: str
    changes: list[tuple[Challenge, int]]  # challenges whose key moves, with their new index
    lacking: int  # challenges without that option (a bank entry edited since): left as they are
    conflict: str | None  # the key running the code established, when it is another option


def _rekeying(challenges: list[Challenge], option_text: str) -> Rekeying:
    wanted = option_form(option_text)
    changes, lacking, conflict = [], 0, None
    for challenge in challenges:
        forms = [option_form(option) for option in challenge.options]
        if challenge.verification == Verification.EXECUTED and forms[challenge.correct_index] != wanted:
            conflict = conflict or challenge.options[challenge.correct_index]
        if wanted not in forms:
            lacking += 1
            continue
        new_index = forms.index(wanted)
        if new_index != challenge.correct_index:
            changes.append((challenge, new_index))
    return Rekeying(option_text=option_text, changes=changes, lacking=lacking, conflict=conflict)


def _apply(rekeying: Rekeying) -> tuple[int, int]:
    """Move the keys and grade the stored answers again. Returns (answers regraded, grades
    changed)."""
    now = timezone.now()
    regraded = changed = 0
    for challenge, new_index in rekeying.changes:
        Challenge.objects.filter(pk=challenge.pk).update(correct_index=new_index)
        attempt = Attempt.objects.filter(challenge=challenge).first()
        if attempt is not None:
            is_correct = attempt.chosen_index == new_index
            regraded += 1
            changed += is_correct != attempt.is_correct
            Attempt.objects.filter(pk=attempt.pk).update(is_correct=is_correct, regraded_at=now)
            # A repeat's answer is a review of its content's card, not a first answer.
            if is_correct != attempt.is_correct and not attempt.is_repeat:
                progress_count_add(
                    owner_id=challenge.owner_id,
                    topic=challenge.topic,
                    difficulty=challenge.difficulty,
                    correct=1 if is_correct else -1,
                )
    # One card per learner and content: every card of the content is graded again.
    keys = {challenge.source_key for challenge, _ in rekeying.changes}
    changed_ids = [challenge.pk for challenge, _ in rekeying.changes]
    cards = ReviewCard.objects.filter(Q(source_key__in=keys) | Q(challenge_id__in=changed_ids))
    for card in cards.select_related("challenge"):
        review_card_rebuild(card)
    return regraded, changed


def _example(*, source_key: str, example_id: object) -> Challenge:
    if isinstance(example_id, bool) or not isinstance(example_id, int):
        raise InvalidDecision(UNKNOWN_CONTENT)
    example = Challenge.objects.filter(pk=example_id, source_key=source_key).first()
    if example is None:
        raise InvalidDecision(UNKNOWN_CONTENT)
    return example


def _option_of(example: Challenge, option_index: object) -> str:
    if isinstance(option_index, bool) or not isinstance(option_index, int):
        raise InvalidDecision(UNKNOWN_OPTION)
    if not 0 <= option_index < min(OPTION_COUNT, len(example.options)):
        raise InvalidDecision(UNKNOWN_OPTION)
    return example.options[option_index]


@dataclass(frozen=True)
class DecisionPreview:
    """What a decision would touch, shown to the operator before they confirm it."""

    decision: str
    source_key: str
    example: Challenge
    reach: ContentReach  # retire, dismiss: the whole content; correct: the challenges whose key moves
    option_text: str = ""
    grades_changed: int = 0
    lacking: int = 0
    conflict: str | None = None
    reports_closed: int = 0

    @property
    def key_text(self) -> str:
        return self.example.options[self.example.correct_index]


def _preview_rekeying(*, decision: str, example: Challenge, rekeying: Rekeying) -> DecisionPreview:
    moved = [challenge for challenge, _ in rekeying.changes]
    attempts = {
        attempt.challenge_id: attempt
        for attempt in Attempt.objects.filter(challenge__in=[c.pk for c in moved])
    }
    grades_changed = sum(
        (attempts[challenge.pk].chosen_index == new_index) != attempts[challenge.pk].is_correct
        for challenge, new_index in rekeying.changes
        if challenge.pk in attempts
    )
    return DecisionPreview(
        decision=decision,
        source_key=example.source_key,
        example=example,
        reach=ContentReach(
            challenges=len(moved), learners=len({c.owner_id for c in moved}), answers=len(attempts)
        ),
        option_text=rekeying.option_text,
        grades_changed=grades_changed,
        lacking=rekeying.lacking,
        conflict=rekeying.conflict,
    )


def content_decision_preview(
    *, source_key: str, decision: str, example_id: object, option_index: object = None
) -> DecisionPreview:
    """What `decision` ("correct", "retire", "dismiss") on this content would touch. Changes
    nothing. Raises InvalidDecision."""
    example = _example(source_key=source_key, example_id=example_id)
    if decision == "correct":
        option_text = _option_of(example, option_index)
        challenges = list(Challenge.objects.filter(source_key=source_key).order_by("pk"))
        return _preview_rekeying(
            decision=decision, example=example, rekeying=_rekeying(challenges, option_text)
        )
    reach = content_reach(source_keys=[source_key]).get(source_key, ContentReach())
    open_reports = Report.objects.filter(challenge__source_key=source_key)
    decided_at = _last_decided_at(source_key)
    if decided_at is not None:
        open_reports = open_reports.filter(updated_at__gt=decided_at)
    return DecisionPreview(
        decision=decision,
        source_key=source_key,
        example=example,
        reach=reach,
        reports_closed=open_reports.values("challenge__owner").distinct().count(),
    )


def _record(*, source_key: str, outcome: str, operator: str, **fields) -> ContentDecision:
    return ContentDecision.objects.create(
        source_key=source_key,
        outcome=outcome,
        decided_at=timezone.now(),
        decided_by=operator[:150],
        **fields,
    )


def content_retire(*, source_key: str, operator: str = "") -> ContentDecision:
    with transaction.atomic():
        if not Challenge.objects.filter(source_key=source_key).exists():
            raise InvalidDecision(UNKNOWN_CONTENT)
        if source_key in content_decisions().retired:
            raise InvalidDecision(ALREADY_RETIRED)
        return _record(source_key=source_key, outcome=ContentDecision.Outcome.RETIRED, operator=operator)


def content_dismiss(*, source_key: str, operator: str = "") -> ContentDecision:
    """Close the reports so far. Never touches a standing retirement or correction."""
    if not Challenge.objects.filter(source_key=source_key).exists():
        raise InvalidDecision(UNKNOWN_CONTENT)
    return _record(source_key=source_key, outcome=ContentDecision.Outcome.DISMISSED, operator=operator)


@dataclass(frozen=True)
class Correction:
    decision: ContentDecision
    lacking: int  # challenges of the content without that option, left as they are


def content_correct_key(
    *, source_key: str, example_id: object, option_index: object, operator: str = ""
) -> Correction:
    """Make the option at `option_index` of the example challenge (one of this content's) the key
    of every challenge with this content, and grade every stored answer to them again.

    Refused (InvalidDecision, nothing changed) when running the code established another key.
    The challenges are locked first: an answer being written waits, or is waited for and then
    graded again (learning/attempts.py reads the key under the same lock)."""
    with transaction.atomic():
        challenges = list(Challenge.objects.select_for_update().filter(source_key=source_key).order_by("pk"))
        by_id = {challenge.pk: challenge for challenge in challenges}
        example = (
            by_id.get(example_id)
            if isinstance(example_id, int) and not isinstance(example_id, bool)
            else None
        )
        if example is None:
            raise InvalidDecision(UNKNOWN_CONTENT)
        option_text = _option_of(example, option_index)
        rekeying = _rekeying(challenges, option_text)
        if rekeying.conflict is not None:
            raise InvalidDecision(KEY_ESTABLISHED_BY_RUNNING.format(key=rekeying.conflict))
        previous = example.options[example.correct_index]
        regraded, changed = _apply(rekeying)
        decision = _record(
            source_key=source_key,
            outcome=ContentDecision.Outcome.CORRECTED,
            operator=operator,
            corrected_option=option_text,
            previous_option=previous,
            answers_regraded=regraded,
            grades_changed=changed,
        )
    return Correction(decision=decision, lacking=rekeying.lacking)


def _reversible(decision_id: object, *, lock: bool) -> ContentDecision:
    if isinstance(decision_id, bool) or not isinstance(decision_id, int):
        raise InvalidDecision(UNKNOWN_DECISION)
    rows = ContentDecision.objects.select_for_update() if lock else ContentDecision.objects
    decision = rows.filter(pk=decision_id).first()
    if decision is None:
        raise InvalidDecision(UNKNOWN_DECISION)
    if decision.outcome not in (ContentDecision.Outcome.RETIRED, ContentDecision.Outcome.CORRECTED):
        raise InvalidDecision(NOT_REVERSIBLE)
    if decision.reversals.exists():
        raise InvalidDecision(ALREADY_REVERSED)
    if decision.outcome == ContentDecision.Outcome.CORRECTED:
        standing = content_standing_decisions(source_keys=[decision.source_key]).get(decision.source_key, [])
        if decision not in standing:
            raise InvalidDecision(SUPERSEDED)
    return decision


def content_reversal_preview(*, decision_id: object) -> DecisionPreview:
    """What reversing the decision would touch. Changes nothing. Raises InvalidDecision."""
    decision = _reversible(decision_id, lock=False)
    example = Challenge.objects.filter(source_key=decision.source_key).order_by("-pk").first()
    if example is None:
        raise InvalidDecision(UNKNOWN_CONTENT)
    if decision.outcome == ContentDecision.Outcome.CORRECTED:
        challenges = list(Challenge.objects.filter(source_key=decision.source_key).order_by("pk"))
        rekeying = _rekeying(challenges, decision.previous_option)
        return _preview_rekeying(decision="reverse", example=example, rekeying=rekeying)
    reach = content_reach(source_keys=[decision.source_key]).get(decision.source_key, ContentReach())
    return DecisionPreview(decision="reverse", source_key=decision.source_key, example=example, reach=reach)


def content_decision_reverse(*, decision_id: object, operator: str = "") -> ContentDecision:
    """Reverse a standing retirement (the content is served again) or the standing correction
    (the key before it comes back, and the answers are graded again). Kept in the record as a
    decision of its own. Raises InvalidDecision."""
    try:
        with transaction.atomic():
            decision = _reversible(decision_id, lock=True)
            regraded = changed = 0
            if decision.outcome == ContentDecision.Outcome.CORRECTED:
                challenges = list(
                    Challenge.objects.select_for_update()
                    .filter(source_key=decision.source_key)
                    .order_by("pk")
                )
                rekeying = _rekeying(challenges, decision.previous_option)
                if rekeying.conflict is not None:
                    raise InvalidDecision(KEY_ESTABLISHED_BY_RUNNING.format(key=rekeying.conflict))
                regraded, changed = _apply(rekeying)
            return _record(
                source_key=decision.source_key,
                outcome=ContentDecision.Outcome.REVERSED,
                operator=operator,
                reverses=decision,
                corrected_option=decision.previous_option if decision.outcome == "corrected" else "",
                answers_regraded=regraded,
                grades_changed=changed,
            )
    except IntegrityError:
        # Two operators reversed it at once: the first one counts.
        raise InvalidDecision(ALREADY_REVERSED) from None


def reports_by_reason_label(counts: Counter) -> list[tuple[str, int]]:
    labels = dict(ReportReason.choices)
    return [(labels[reason], count) for reason, count in counts.most_common()]
