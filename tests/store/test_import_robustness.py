"""Whatever bytes a spreadsheet holds, an import lands whole, or refuses with a clear error
and changes nothing.  Never a crash, never half an import."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phaseout.app import Phaseout
from phaseout.app.imports import ImportOptions
from phaseout.errors import DataError, PhaseoutError
from phaseout.store import Store

HEADERS = ["Store", "Make", "Model", "MAC", "IP", "Serial", "Notes"]
cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "N/A",
            "28:57:BE:00:00:01",
            "2857.be00.0002",
            "127.0.0.1",
            "999.1.1.1",
            "=1+1",
            "<script>alert(1)</script>",
            "Hikvision",
            "DS-2CD2143G2-I",
            "\u00a0",
            "0001",
            "Store 1",
        ]
    ),
)
row = st.lists(cell, min_size=0, max_size=len(HEADERS) + 2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=12), skip_bad=st.booleans())
def test_any_rows_import_whole_or_not_at_all(tmp_path_factory, rows: list[list[str]], skip_bad: bool) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    path = Path(tmp) / "fuzz.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    with Store.open(str(Path(tmp) / "fuzz.db")) as store:
        before = store.table_rows(["sites", "devices", "observations"])
        try:
            result, _ = Phaseout(store).import_devices(path, ImportOptions(skip_bad=skip_bad))
        except PhaseoutError as exc:
            assert exc.message
            assert store.table_rows(["sites", "devices", "observations"]) == before
            return
        counts = store.counts()
        assert counts["observations"] == result.rows_imported
        assert counts["devices"] == result.created
        assert result.rows_imported + result.rows_bad == result.rows_total


@pytest.mark.parametrize("maker", ["nul_byte_csv", "nul_escape_xlsx"])
def test_nul_characters_are_bad_rows_on_both_databases(db_url: str, tmp_path: Path, maker: str) -> None:
    """PostgreSQL refuses NUL in text: before, the import died with psycopg's traceback (exit 1);
    SQLite stored it.  Now the row is a bad row with its number, on both, and the rest imports."""
    from tests.hardening import bombs

    path = getattr(bombs, maker)(tmp_path / ("nul.csv" if maker.endswith("csv") else "nul.xlsx"))
    with Store.open(db_url) as store:
        with pytest.raises(DataError) as info:
            Phaseout(store).import_devices(path)
        bad = info.value.row_errors
        assert len(bad) == 1 and "NUL" in bad[0].reason
        assert bad[0].row == (202 if maker.endswith("csv") else 2)
        result, _ = Phaseout(store).import_devices(path, ImportOptions(skip_bad=True))
        assert result.rows_bad == 1
        assert result.rows_imported == (200 if maker.endswith("csv") else 0)
