"""A learner's history to take away: a CSV file of every challenge, and an Anki deck (genanki) of
every answered one.

Both are built from the learner's own challenges only, read in batches, so memory stays bounded
however long the history. Everything a model wrote is data, never markup or a formula: CSV cells
that a spreadsheet would run as a formula are prefixed with a quote, and Anki fields (which Anki
renders as HTML) are HTML-escaped; code is highlighted by Pygments, which escapes what it emits.

A deck costs CPU (Pygments highlighting, most of it) and a temporary file in proportion to its
notes, so it comes in parts of at most EXPORT_ANKI_NOTES_PER_DECK answered challenges, oldest
first, all of them the same Anki deck; and a learner builds one export at a time (a lease on their
quota row, as for generations in flight). Measured by bench/export_cost.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import math
import re
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import genanki
from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.html import escape, linebreaks
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from challengeapp.core.errors import CodeDrillError
from challengeapp.models import Attempt, Challenge, ProgressCount, Quota, ReviewCard
from challengeapp.quota import quota_row_ensure
from challengeapp.templatetags.codedrill import HIGHLIGHT_MAX_CHARS

BATCH_SIZE = 500

EXPORT_IN_PROGRESS = "An export of yours is already being built. Try again in a few seconds."
# Longer than any bounded deck takes to build; a lease left by a process that died mid-export
# expires after it instead of locking the learner out.
EXPORT_LEASE = dt.timedelta(minutes=2)
EXPORT_RETRY_AFTER_SECONDS = 5
PART_NUMBER = re.compile(r"[0-9]{1,9}")


class ExportInProgress(CodeDrillError):
    """The learner already has an export being built; `retry_after` is in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@contextmanager
def export_slot(*, user):
    """One export being built per learner, across every process: a conditional UPDATE takes the
    lease on their quota row, or ExportInProgress is raised at once. Only the lease taken here is
    given back."""
    started = timezone.now()
    if not _take_export_lease(user, started=started):
        if Quota.objects.filter(user=user).exists():
            raise ExportInProgress(EXPORT_IN_PROGRESS, retry_after=EXPORT_RETRY_AFTER_SECONDS)
        quota_row_ensure(user)  # a user made another way (the admin) has no row yet
        if not _take_export_lease(user, started=started):
            raise ExportInProgress(EXPORT_IN_PROGRESS, retry_after=EXPORT_RETRY_AFTER_SECONDS)
    try:
        yield
    finally:
        Quota.objects.filter(user=user, export_started_at=started).update(export_started_at=None)


def _take_export_lease(user, *, started: dt.datetime) -> bool:
    free = Q(export_started_at__isnull=True) | Q(export_started_at__lt=started - EXPORT_LEASE)
    return Quota.objects.filter(user=user).filter(free).update(export_started_at=started) == 1


CSV_HEADER = [
    "created",
    "topic",
    "difficulty",
    "title",
    "question",
    "code",
    "option 1",
    "option 2",
    "option 3",
    "option 4",
    "correct option",
    "your first answer",
    "result",
    "answered at",
    "next review due",
]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# https://owasp.org/www-community/attacks/CSV_Injection
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
UTF8_BOM = "\ufeff"  # so spreadsheet programs read the file as UTF-8

# Stable ids: re-importing a newer export updates the same note type and deck instead of adding
# copies. The deck id is per learner, so two learners' decks never merge in one Anki profile.
ANKI_MODEL_ID = 1_607_392_319
ANKI_MODEL_NAME = "CodeDrill challenge"
ANKI_DECK_NAME = "CodeDrill"
ANKI_CONTENT_TYPE = "application/apkg"  # what AnkiWeb serves shared decks as

_code_formatter = HtmlFormatter(noclasses=True, style="default")

ANKI_MODEL = genanki.Model(
    ANKI_MODEL_ID,
    ANKI_MODEL_NAME,
    fields=[{"name": "Front"}, {"name": "Back"}],
    templates=[
        {
            "name": "Challenge",
            "qfmt": "{{Front}}",
            "afmt": '{{FrontSide}}<hr id="answer">{{Back}}',
        }
    ],
    css=(
        ".card { font-family: system-ui, sans-serif; font-size: 18px; text-align: left; }\n"
        ".codedrill-code pre { padding: .6em .8em; overflow-x: auto; font-size: 15px; }\n"
        ".codedrill-meta { color: #666; font-size: 14px; }\n"
    ),
)


def _challenges_in_batches(*, user) -> Iterator[Challenge]:
    """The learner's challenges, oldest first, with their first answer and review schedule, read
    BATCH_SIZE at a time by id (plain queries: no server-side cursor held across the response)."""
    challenges = Challenge.objects.filter(owner=user).select_related("attempt", "review_card").order_by("id")
    last_id = 0
    while True:
        batch = list(challenges.filter(id__gt=last_id)[:BATCH_SIZE])
        yield from batch
        if len(batch) < BATCH_SIZE:
            return
        last_id = batch[-1].id


def _attempt(challenge: Challenge) -> Attempt | None:
    try:
        return challenge.attempt
    except Attempt.DoesNotExist:
        return None


def _review_card(challenge: Challenge) -> ReviewCard | None:
    try:
        return challenge.review_card
    except ReviewCard.DoesNotExist:
        return None


def _local_iso(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv_row(challenge: Challenge) -> list[str]:
    attempt = _attempt(challenge)
    card = _review_card(challenge)
    options = list(challenge.options)
    row = [
        _local_iso(challenge.created_at),
        challenge.topic,
        challenge.difficulty,
        challenge.title,
        challenge.question,
        challenge.code,
        *options,
        options[challenge.correct_index],
        options[attempt.chosen_index] if attempt else "",
        ("right" if attempt.is_correct else "wrong") if attempt else "",
        _local_iso(attempt.answered_at) if attempt else "",
        _local_iso(card.due_at) if card else "",
    ]
    return [csv_cell(value) for value in row]


class _Echo:
    """A write-only "file" that hands back what is written, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def export_csv_lines(*, user) -> Iterator[str]:
    """The learner's whole history as CSV lines (the first starts with a UTF-8 BOM), oldest first."""
    writer = csv.writer(_Echo())
    yield UTF8_BOM + writer.writerow(CSV_HEADER)
    for challenge in _challenges_in_batches(user=user):
        yield writer.writerow(export_csv_row(challenge))


def export_filename(extension: str, *, part: int = 1, parts: int = 1) -> str:
    suffix = f"-part-{part}-of-{parts}" if parts > 1 else ""
    return f"codedrill-history-{timezone.localdate():%Y-%m-%d}{suffix}.{extension}"


def code_html(code: str, language: str) -> str:
    """Code as HTML for Anki: highlighted with inline styles (a deck has no stylesheet of ours), or
    escaped plain text above the highlighting bound (see templatetags/codedrill.py)."""
    if len(code) > HIGHLIGHT_MAX_CHARS:
        return f"<pre>{escape(code)}</pre>"
    try:
        lexer = get_lexer_by_name(language or "text", stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    return highlight(code, lexer, _code_formatter)


def _text_html(text: str) -> str:
    return linebreaks(escape(text))


def anki_fields(challenge: Challenge) -> tuple[str, str]:
    """The front (title, question, code, options) and back (correct option, explanation) of a note."""
    options = "".join(f"<li>{escape(option)}</li>" for option in challenge.options)
    front = (
        f'<div class="codedrill-meta">{escape(challenge.get_topic_display())} · '
        f"{escape(challenge.get_difficulty_display())}</div>"
        f"<h3>{escape(challenge.title)}</h3>"
        f"{_text_html(challenge.question)}"
        + (
            f'<div class="codedrill-code">{code_html(challenge.code, challenge.code_language)}</div>'
            if challenge.code
            else ""
        )
        + f"<ol>{options}</ol>"
    )
    correct = challenge.options[challenge.correct_index]
    back = (
        f"<p><b>Answer {challenge.correct_index + 1}:</b> {escape(correct)}</p>"
        f"{_text_html(challenge.explanation)}"
    )
    return front, back


def anki_deck_id(user) -> int:
    digest = hashlib.sha256(f"codedrill-deck:{user.username}".encode()).digest()
    # genanki's advice: ids between 2**30 and 2**31.
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


def anki_note(challenge: Challenge, *, username: str) -> genanki.Note:
    return genanki.Note(
        model=ANKI_MODEL,
        fields=list(anki_fields(challenge)),
        tags=[f"codedrill::{challenge.topic}", f"codedrill::{challenge.difficulty}"],
        # Stable per challenge: importing a newer export updates the note rather than adding one.
        guid=genanki.guid_for("codedrill", username, challenge.id),
    )


def _answered(user):
    # One note per piece of content, as there is one review card: a repeat served again (the
    # bank's, a regenerated question) is the same note, and is counted once in anki_parts.
    return Challenge.objects.filter(owner=user, attempt__isnull=False, attempt__is_repeat=False)


def anki_parts(*, user) -> int:
    """How many parts the learner's deck comes in (1 for an empty history: an empty deck). The
    answered challenges are counted from the progress counts (learning/progress_counts.py): a few
    rows, where counting the answers themselves grows with the history."""
    answered = ProgressCount.objects.filter(owner=user).aggregate(total=Sum("answered"))["total"] or 0
    return max(1, math.ceil(answered / settings.EXPORT_ANKI_NOTES_PER_DECK))


def anki_part_number(values: list[str], *, parts: int) -> int | None:
    """The part a query string asks for: 1 when it names none; None for anything but one number
    (ASCII digits) from 1 to `parts`."""
    if not values:
        return 1
    if len(values) > 1 or not PART_NUMBER.fullmatch(values[0]):
        return None
    part = int(values[0])
    return part if 1 <= part <= parts else None


def export_anki_package(*, user, part: int = 1) -> IO[bytes]:
    """An Anki package (.apkg) of one part of the learner's answered challenges (oldest first, at
    most EXPORT_ANKI_NOTES_PER_DECK), one note each, written to an anonymous temporary file (gone
    once closed) and returned open at its start. Every part is the same deck with stable note ids,
    so importing them all gives the whole history once."""
    per_deck = settings.EXPORT_ANKI_NOTES_PER_DECK
    deck = genanki.Deck(anki_deck_id(user), ANKI_DECK_NAME)
    challenges = (
        _answered(user)
        .select_related("attempt", "review_card")
        .order_by("id")[(part - 1) * per_deck : part * per_deck]
    )
    for challenge in challenges:
        deck.add_note(anki_note(challenge, username=user.username))
    package = tempfile.TemporaryFile(suffix=".apkg")  # noqa: SIM115 -- handed to the response, which closes it
    try:
        _write_package(deck, package)
        package.seek(0)
    except BaseException:
        package.close()
        raise
    return package


def _write_package(deck: genanki.Deck, package: IO[bytes]) -> None:
    """What genanki's Package.write_to_file does, except that its collection database goes in a
    temporary directory that is removed afterwards (genanki's own is left in the temporary
    directory, one file the size of the deck per export), and the archive is compressed."""
    with tempfile.TemporaryDirectory(prefix="codedrill-anki-") as directory:
        collection = Path(directory) / "collection.anki2"
        database = sqlite3.connect(collection)
        try:
            now = time.time()
            genanki.Package(deck).write_to_db(database.cursor(), now, itertools.count(int(now * 1000)))
            database.commit()
        finally:
            database.close()
        with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(collection, "collection.anki2")
            archive.writestr("media", "{}")  # no media files
