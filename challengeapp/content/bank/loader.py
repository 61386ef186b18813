"""The built-in challenge bank: original challenges stored as JSON under content/bank/data/, one file per
topic, each entry checked by the same validator as model output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from challengeapp.core.drafts import ChallengeDraft, challenge_draft_validate
from challengeapp.core.errors import InvalidModelOutput

DATA_DIR = Path(__file__).resolve().parent / "data"


class BankDataError(Exception):
    """A bank file is malformed: a defect in the project, found by the test suite."""


@dataclass(frozen=True)
class BankEntry:
    entry_id: str
    difficulty: str
    topic: str
    draft: ChallengeDraft

    @property
    def source_key(self) -> str:
        return f"bank:{self.entry_id}"


def _entry_from(raw: object, *, path: Path) -> BankEntry:
    if not isinstance(raw, dict):
        raise BankDataError(f"{path.name}: every entry must be an object")
    entry_id = raw.get("id")
    try:
        draft = challenge_draft_validate(raw)
    except InvalidModelOutput as error:
        raise BankDataError(f"{path.name}: {entry_id}: {error}") from error
    return BankEntry(entry_id=str(entry_id), difficulty=raw["difficulty"], topic=raw["topic"], draft=draft)


@cache
def bank_entries() -> tuple[BankEntry, ...]:
    """Every bank entry, loaded and validated once per process."""
    entries: list[BankEntry] = []
    for path in sorted(DATA_DIR.glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            raw_entries = json.load(handle)
        if not isinstance(raw_entries, list):
            raise BankDataError(f"{path.name}: the file must hold a JSON array")
        entries.extend(_entry_from(raw, path=path) for raw in raw_entries)
    ids = [entry.entry_id for entry in entries]
    if len(ids) != len(set(ids)):
        raise BankDataError("bank entry ids must be unique")
    return tuple(entries)


@cache
def bank_entries_for(difficulty: str, topic: str) -> tuple[BankEntry, ...]:
    return tuple(e for e in bank_entries() if e.difficulty == difficulty and e.topic == topic)
