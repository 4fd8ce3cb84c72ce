"""Bulk writes (``store.bulk``, ``store.ids.SuspendedIndexes``): a large import and a full
re-assessment drop foreign keys and indexes for the load and put back exactly what was there,
still refusing rows that break a key; the bulk assessment stores what the row-by-row one does."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.exc import IntegrityError

from phaseout.app import Phaseout
from phaseout.app import assessment as assessment_module
from phaseout.app.assessment import run_assessment
from phaseout.policy.packs import available_packs
from phaseout.store import Store, ids
from phaseout.store.bulk import SuspendedForeignKeys, bulk_settings
from phaseout.store.schema import assessments, observations

TODAY = dt.date(2026, 11, 29)


def _shape(conn: Connection) -> dict[str, Any]:
    """Every table's foreign keys and indexes, by name (what a bulk load must put back)."""
    insp = inspect(conn)
    return {
        t: (
            sorted((k["name"], tuple(k["constrained_columns"]), k["referred_table"]) for k in insp.get_foreign_keys(t)),
            sorted((i["name"], tuple(str(c) for c in i["column_names"])) for i in insp.get_indexes(t)),
        )
        for t in ("devices", "observations", "assessments")
    }


def _estate(store: Store, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("Code,Name,Sensitive\nA,Depot,yes\nB,Shop,no\n", encoding="utf-8")
    rows = ["Site,Make,Model,MAC,IP,Firmware,Serial"]
    makes = [
        ("Hikvision", "DS-2CD2132F-IS", "V5.3.0 build 150513"),
        ("Dahua", "IPC-HDW2431T-AS-S2", ""),
        ("Axis", "P3245-LVE", "10.12.199"),
    ]
    for i in range(30):
        make, model, fw = makes[i % 3]
        ip = "8.8.4.4" if i == 7 else f"127.31.0.{i + 1}"
        rows.append(f"{'AB'[i % 2]},{make},{model},28:57:BE:00:01:{i:02X},{ip},{fw},BS{i:04d}")
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    app = Phaseout(store)
    app.import_sites(tmp_path / "s.csv")
    app.import_devices(tmp_path / "d.csv")


def _stored(conn: Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(select(assessments).order_by(assessments.c.device_id)).all()
    return [tuple(v for k, v in r._mapping.items() if k != "assessed_at") for r in rows]


def test_bulk_import_and_assessment_put_everything_back(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = [available_packs()[p] for p in ("org-template", "uk-cabinet-office-2022")]
    with Store.open(db_url) as store:
        with store.engine.connect() as conn:
            before = _shape(conn)
        monkeypatch.setattr(ids, "BULK_ROWS", 3)  # every import of 3 rows or more is a bulk load
        _estate(store, tmp_path)
        with store.engine.connect() as conn:
            assert _shape(conn) == before
            assert conn.execute(select(observations.c.id)).all()
        plain = run_assessment(store.engine, packs, TODAY)
        with store.engine.connect() as conn:
            rows = _stored(conn)
        monkeypatch.setattr(assessment_module, "BULK_ROWS", 1)  # the bulk write path
        bulk = run_assessment(store.engine, packs, TODAY)
        with store.engine.connect() as conn:
            assert _stored(conn) == rows and len(rows) == 30
            assert _shape(conn) == before
        assert [a.as_dict() for a in bulk] == [a.as_dict() for a in plain]


def test_a_suspended_key_still_refuses_a_bad_row(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            bulk_settings(conn)
            keys = SuspendedForeignKeys(conn, observations)
            keys.drop()
            assert {t for t, _, _ in keys.dropped} == {"observations"} and len(keys.dropped) == 2
            conn.execute(
                text(
                    "INSERT INTO observations (device_id, kind, source, observed_at, payload, size_bytes, truncated) "
                    "VALUES (999999, 'inventory', 'test', now(), '{}', 2, false)"
                )
            )
            keys.restore()  # the check runs here, over every row
        with store.engine.connect() as conn:  # rolled back: the keys are still there
            names = {k["name"] for k in inspect(conn).get_foreign_keys("observations")}
            assert names == {"fk_observations_device_id_devices", "fk_observations_batch_id_import_batches"}
            assert conn.execute(text("SHOW default_toast_compression")).scalar() == "pglz"  # SET LOCAL ended


def test_copy_lines_store_what_the_driver_stores(pg_url: str, tmp_path: Path) -> None:
    """The assessment's preformatted ``COPY`` text and the driver's own adaptation of the same
    values store the same rows: JSON with escapes, tabs, newlines, backslashes, non-ASCII text,
    NULLs, floats and an aware timestamp."""
    from phaseout.app.assessment import ASSESSMENT_COLUMNS
    from phaseout.store.copy import copy_field, copy_lines, insert_rows

    now = dt.datetime(2026, 11, 29, 10, 11, 12, 345678, tzinfo=dt.UTC)
    odd = json.dumps([{"detail": 'a "quoted"\tline\nand \\ back\r', "name": "Caméra ☃"}])
    values = [
        (1, 12.3, odd, "[]", "[]", '["p"]', now, dt.date(2027, 12, 31), "due"),
        (2, 0.1 + 0.2, "tab\there", "back\\slash", "nl\nx", "[]", now, None, None),
        (3, 1e-7, "\\N", "\\t", "", "[]", now, None, "breach"),
    ]
    with Store.open(pg_url) as store:
        _estate(store, tmp_path)
        stored = []
        for writer in ("driver", "lines"):
            with store.engine.begin() as conn:
                conn.execute(assessments.delete())
                if writer == "driver":
                    insert_rows(conn, assessments, ASSESSMENT_COLUMNS, values)
                else:
                    lines = ("\t".join(copy_field(v) for v in row) + "\n" for row in values)
                    copy_lines(conn, assessments, ASSESSMENT_COLUMNS, lines)
                stored.append(conn.execute(select(assessments).order_by(assessments.c.device_id)).all())
    assert stored[0] == stored[1] and len(stored[0]) == 3
    assert stored[1][0].findings == odd and stored[1][2].findings == "\\N" and stored[1][1].deadline is None
