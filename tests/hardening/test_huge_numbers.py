"""Numbers past 64 bits where the CLI expects an id or a count: before, SQLite's driver raised
OverflowError (a traceback, exit 1); now a usage error (exit 2) on both databases."""

from __future__ import annotations

import pytest

from phaseout.cli import main

HUGE = "99999999999999999999"


@pytest.mark.parametrize("args", [["work", "show", HUGE], ["imports", "--limit", HUGE], ["waiver", "revoke", HUGE]])
def test_huge_ids_and_counts_are_usage_errors(db_url: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--db", db_url, *args])
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2, err
    assert "larger than any id or count" in err or "no waiver" in err or "no work order" in err
