"""Counts in words: one of a thing is singular, everything else plural, numbers as people write
them. Regression: "1 visits" on run sheets, "1 breaches" from ``carerota check``."""

from __future__ import annotations

from datetime import date

import pytest

from solver.words import day_text, plural


@pytest.mark.parametrize(
    ("count", "word", "many", "text"),
    [
        (1, "visit", None, "1 visit"),
        (0, "visit", None, "0 visits"),
        (2, "visit", None, "2 visits"),
        (1.0, "minute", None, "1 minute"),
        (12.5, "minute", None, "12.5 minutes"),
        (1240, "minute", None, "1,240 minutes"),
        (1, "breach", "breaches", "1 breach"),
        (3, "breach", "breaches", "3 breaches"),
        (2, "person", "people", "2 people"),
    ],
)
def test_plural(count: float, word: str, many: str | None, text: str) -> None:
    assert plural(count, word, many) == text


def test_a_day_is_written_one_way_everywhere() -> None:
    # Messages, reasons, carers' change notices and run sheets all say "Tue 1 Dec".
    assert day_text(date(2026, 12, 1)) == "Tue 1 Dec"
