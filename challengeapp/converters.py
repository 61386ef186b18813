"""URL converters."""

from __future__ import annotations


class RowIdConverter:
    """A database id: ASCII digits, at most 18 of them, so it always fits a 64-bit integer column
    (Django's `int` converter takes any number of digits, and a 20-digit id overflows the query)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
