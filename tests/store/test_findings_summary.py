"""The findings summary (``/findings``, ``dashboard._findings``) counts equal findings texts in
the database and reads each distinct text once; it must answer exactly as reading every active
device's findings did, on both databases."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.policy.packs import available_packs
from phaseout.queries import dashboard
from phaseout.store import Store
from phaseout.store.schema import assessments, devices


def _per_device(conn: Connection) -> dict[str, Any]:
    """The summary as it was computed before: every active device's findings read one by one."""
    counts: dict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    with_any: Counter[str] = Counter()
    kev: set[str] = set()
    query = (
        select(assessments.c.findings)
        .select_from(assessments.join(devices, devices.c.id == assessments.c.device_id))
        .where(devices.c.status == "active")
    )
    for (body,) in conn.execute(query):
        kinds = set()
        for f in orjson.loads(body):
            if f["status"] == "fixed":
                continue
            kinds.add(f["kind"])
            counts[f["kind"]][(f["ref"], f["status"], f.get("severity", ""))] += 1
            if f.get("kev"):
                kev.add(f["ref"])
        with_any.update(kinds)
    return {
        "counts": {k: dict(v) for k, v in counts.items()},
        "devices_with": {k: with_any.get(k, 0) for k in ("policy", "vulnerability", "exposure")},
        "kev": kev,
    }


def _grouped(conn: Connection) -> dict[str, Any]:
    out = dashboard._findings(conn)
    counts = {
        kind: {(r["ref"], r["status"], r["severity"]): r["devices"] for r in out[kind]}
        for kind in ("policy", "vulnerability", "exposure")
        if out[kind]
    }
    kev = {r["ref"] for kind in ("policy", "vulnerability", "exposure") for r in out[kind] if r["kev"]}
    return {"counts": counts, "devices_with": out["devices_with"], "kev": kev}


def _estate(db_url: str, tmp_path: Path) -> Store:
    """Devices of a few models, several of each (they share findings texts), and one-offs."""
    rows = ["Site,Make,Model,MAC,Firmware"]
    models = [("Hikvision", "DS-2CD2043G0-I", "V5.5.0 build 170725")] * 5
    models += [("Dahua", "IPC-HFW2431S-S-S2", "")] * 3 + [("Axis", "P3245-LV", "")] * 2
    models += [("Hikvision", "DS-7608NI-K2", "V4.62.210 build 230619"), ("Lorex", "LNB4421", "")]
    for n, (make, model, firmware) in enumerate(models):
        rows.append(f"S{n % 2},{make},{model},00:11:22:33:44:{n:02x},{firmware}")
    csv = tmp_path / "devices.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    store = Store.open(db_url)
    Phaseout(store).import_devices(csv)
    return store


def test_grouped_counts_equal_per_device_counts(db_url: str, tmp_path: Path) -> None:
    packs = available_packs()
    with _estate(db_url, tmp_path) as store:
        run_assessment(store.engine, [packs["org-template"], packs["uk-cabinet-office-2022"]], dt.date(2026, 12, 1))
        with store.engine.begin() as conn:  # one device retired: its findings no longer count
            retired = conn.execute(select(assessments.c.device_id).limit(1)).scalar_one()
            conn.execute(update(devices).where(devices.c.id == retired).values(status="retired"))
        with store.engine.connect() as conn:
            shared = Counter(conn.execute(select(assessments.c.findings)).scalars())
            assert any(n > 1 and body != "[]" for body, n in shared.items())  # the grouping is exercised
            expected = _per_device(conn)
            assert expected["counts"]  # the estate has findings to count
            assert _grouped(conn) == expected
            assert dashboard._findings(conn) == dashboard._findings(conn)  # same order every time


def test_the_rest_of_the_transaction_keeps_its_work_mem(pg_url: str, tmp_path: Path) -> None:
    """``_findings`` raises ``work_mem`` for its one statement; the statements after it in the
    same transaction (the cache warmer reads every aggregate in one) run with the value they had
    before, not with the server's default, and a larger value is never lowered."""
    packs = available_packs()
    with _estate(pg_url, tmp_path) as store:
        run_assessment(store.engine, [packs["org-template"]], dt.date(2026, 12, 1))
        with store.engine.connect() as conn:
            for before in ("8MB", "1GB"):
                conn.exec_driver_sql(f"SET work_mem = '{before}'")  # this session's own value
                dashboard._findings(conn)
                assert conn.exec_driver_sql("SHOW work_mem").scalar() == before
