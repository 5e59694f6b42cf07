"""Counts and days in words, as coordinators and carers read them: "1 visit", "2 visits",
"1,240 minutes", "Tue 1 Dec".

One helper for every text the product writes (run sheets, messages, the command line), so no
screen says "1 visits". The board's pages have the same rule in ``api/board/static/api.js``
(``plural``).
"""

from __future__ import annotations

from datetime import date


def count_text(count: float) -> str:
    """A whole number with thousands separators ("1,240"); a fraction to one decimal ("12.5")."""
    if float(count).is_integer():
        return f"{int(count):,}"
    return f"{count:,.1f}"


def day_text(day: date) -> str:
    """A day as carers and coordinators read it everywhere the product writes one: "Tue 1 Dec"."""
    return f"{day:%a} {day.day} {day:%b}"


def plural(count: float, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, singular for exactly one: ``plural(1, "visit")`` is "1 visit",
    ``plural(3, "visit")`` "3 visits", ``plural(2, "person", "people")`` "2 people"."""
    return f"{count_text(count)} {word if count == 1 else many or word + 's'}"
