"""Values read by hand-written SQL (a cursor, not the ORM), turned into what the ORM would hand back.

The ORM converts each column through its field; a cursor gives the driver's raw value, which
differs by backend: SQLite answers datetimes naive (Django stores UTC there), booleans as 0 and 1
and JSON as text; PostgreSQL, through Django's connection, answers aware datetimes and JSON as text
too. Django's own converters do this for the ORM; these do it for a cursor's rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def db_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def db_datetime(value: Any) -> dt.datetime | None:
    """Aware, in UTC where the database stored it naive (SQLite with USE_TZ keeps UTC, and hands it
    back naive, or as text where the column's declared type does not name a timestamp)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def db_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def db_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value
