"""One exception hierarchy for everything a user can get wrong.

Every error carries a ``hint`` (what to do about it) and an ``exit_code``, so the CLI can
print a two-line explanation instead of a traceback and scripts can tell failures apart.
Exit codes (also listed in ``phaseout --help`` and the README):

    0  success
    1  unexpected internal error (a bug: please report it with the traceback)
    2  usage error (bad option or argument, unknown site code, a step that must come first)
    3  input file problem (missing, unreadable, unknown format, no header row)
    4  data problem (bad rows; nothing was imported)
    5  database problem (cannot open, migrate or reach the database)
    6  knowledge files invalid (a rule that does not compile, an example that fails...)
    7  no plan meets the constraints (infeasible plan; no budget finishes by the date asked)
    8  a check failed (verification exceptions, a replaced device answered again)
    9  cannot listen (the dashboard's port is in use or not allowed)
    10 a system library is missing (e.g. Pango for PDF reports)
    130 interrupted (Ctrl-C); nothing half-written is kept

:data:`EXIT_CODES` holds the same table for ``phaseout --help``, the README and the tests.
"""

from __future__ import annotations

EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "internal error (a bug, please report it)",
    2: "usage error",
    3: "input file problem",
    4: "bad rows, nothing imported",
    5: "database problem",
    6: "knowledge files invalid",
    7: "no plan meets the constraints",
    8: "a check failed",
    9: "cannot listen on the port",
    10: "a system library is missing",
    130: "interrupted",
}
EXIT_NO_SOLUTION = 7
EXIT_CHECK_FAILED = 8


class PhaseoutError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PhaseoutError):
    """An option or argument that cannot work (unknown field in ``--map``, say)."""

    exit_code = 2


class InputFileError(PhaseoutError):
    """The file itself cannot be read as a table."""

    exit_code = 3


class DataError(PhaseoutError):
    """Rows that cannot be imported; carries them so the CLI can show and save them."""

    exit_code = 4

    def __init__(self, message: str, hint: str | None = None, row_errors: list[RowError] | None = None):
        super().__init__(message, hint)
        self.row_errors: list[RowError] = row_errors or []


class StoreError(PhaseoutError):
    """The database cannot be opened, migrated or reached."""

    exit_code = 5


class KnowledgeError(PhaseoutError):
    """A knowledge file cannot be loaded, or its rules fail their own examples."""

    exit_code = 6

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems: list[str] = problems or []


class NoSolutionError(PhaseoutError):
    """No plan meets the constraints (budgets, crews, deadlines) as given."""

    exit_code = EXIT_NO_SOLUTION


class CheckFailedError(PhaseoutError):
    """A check ran and found a problem (a verification exception, a device that came back)."""

    exit_code = EXIT_CHECK_FAILED


class ListenError(PhaseoutError):
    """The dashboard cannot listen on the address and port asked for."""

    exit_code = 9


class MissingLibraryError(PhaseoutError):
    """A system library an optional feature needs is not installed (Pango for PDF reports)."""

    exit_code = 10


class RowError:
    """Why one spreadsheet row was refused. ``row`` is the 1-based row number in the file."""

    __slots__ = ("column", "reason", "row", "values")

    def __init__(self, row: int, reason: str, column: str | None = None, values: dict[str, str] | None = None):
        self.row = row
        self.reason = reason
        self.column = column
        self.values = values or {}

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "reason": self.reason, "values": self.values}

    def __repr__(self) -> str:
        return f"RowError(row={self.row}, reason={self.reason!r})"
