"""``phaseout db compact`` rebuilds the device table's indexes after bulk work: every index comes
back as it was defined, searches answer as before, on both databases; on PostgreSQL while the
table stays readable (``REINDEX ... CONCURRENTLY``, outside any transaction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phaseout.queries.devices import DeviceQuery, page
from phaseout.store import device_risk
from phaseout.store.maintenance import compact
from tests.store.test_device_risk import _assess, _index_names
from tests.store.test_search import _estate
from tests.support import run_main


def test_compact_keeps_every_index_and_every_answer(db_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(device_risk, "BULK_ROWS", 2)  # the first assessment rewrites every device in bulk
    with _estate(db_url, tmp_path) as store:
        _assess(store, "org-template", "uk-cabinet-office-2022")
        with store.engine.connect() as conn:
            before = _index_names(conn)
            found = [r["id"] for r in page(conn, DeviceQuery(text="2cd2143"))]
        steps = compact(store.engine)
        assert steps and all(s.seconds >= 0 for s in steps)
        if store.engine.dialect.name == "postgresql":
            rebuilt = next(s for s in steps if "indexes" in s.name)
            assert rebuilt.before and rebuilt.after and rebuilt.after <= rebuilt.before
        with store.engine.connect() as conn:
            assert _index_names(conn) == before
            assert [r["id"] for r in page(conn, DeviceQuery(text="2cd2143"))] == found != []


def test_the_command_prints_its_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "phaseout.db")
    _estate(db, tmp_path).close()
    code, out, _err = run_main(capsys, "--db", db, "db", "compact")
    assert code == 0
    assert "search index" in out and "seconds" in out


def test_bulk_writes_on_postgresql_say_how_to_compact(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from phaseout.store import ids
    from tests.store.test_search import ROWS

    monkeypatch.setattr(ids, "BULK_ROWS", 3)
    csv = tmp_path / "devices.csv"
    csv.write_text(ROWS, encoding="utf-8")
    code, out, _err = run_main(capsys, "--db", db_url, "import", str(csv))
    assert code == 0
    assert ("phaseout db compact" in out) == db_url.startswith("postgresql")  # SQLite: nothing to say
