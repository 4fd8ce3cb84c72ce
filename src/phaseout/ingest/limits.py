"""How much of a file an import will read, and the marker for a row that could not be read.

Every cap is checked while the file streams past, before anything proportional to the file is
held, so a hostile file costs at most the caps below whatever it claims or contains (issue 13:
any import within 300 MB + 2 x the file size).  The figures are the tools' own: Excel stops at
1,048,576 rows and 16,384 columns and 32,767 characters in a cell.
"""

from __future__ import annotations

from typing import Any

#: Largest file accepted (a million-row asset register is ~150 MB as CSV).
MAX_FILE_BYTES = 2 * 1024**3
#: Data rows read from one sheet or CSV (Excel's own limit is 1,048,576 rows per sheet).
MAX_ROWS = 5_000_000
#: Rows in one XLSX sheet: Excel's limit; a reference below it cannot come from Excel.
MAX_SHEET_ROWS = 1_048_576
#: Columns read (an inventory has tens; a cell beyond this is refused with its reference).
MAX_COLUMNS = 1024
#: Longest cell kept; longer values are cut (a pasted log in a notes cell must not bloat the db).
MAX_CELL_CHARS = 2000
#: Longest CSV line (one record) read; a longer one is a bad row, read past in small pieces.
MAX_LINE_CHARS = 1024 * 1024
#: Physical lines one quoted CSV field may span before it counts as an unbalanced quote.
MAX_RECORD_LINES = 100
#: Bad rows after which a file is refused as a whole (it is not the table it claims to be).
MAX_BAD_ROWS = 100_000
#: Members of a workbook zip, and how much they may inflate: in total, and per compressed byte.
MAX_ZIP_MEMBERS = 10_000
MAX_DECOMPRESSED_BYTES = 4 * 1024**3
MAX_INFLATE_RATIO = 100
#: Below this, any ratio is fine (small XML parts of a workbook compress 50:1 and more).
INFLATE_RATIO_FLOOR = 64 * 1024**2
#: Memory allowed for a workbook's shared strings: this plus twice the file size.
SHARED_STRINGS_BASE_BYTES = 100 * 1024**2


class BadRow(list[Any]):
    """A row the reader could not split into cells safely (an unbalanced quote, a field count
    that differs from the header's, a NUL byte...).  It travels in place of the row so the
    parsers report it with its number, like any other bad row, instead of losing it."""

    __slots__ = ("reason",)

    def __init__(self, reason: str, cells: list[Any] | None = None) -> None:
        super().__init__(cells or [])
        self.reason = reason
