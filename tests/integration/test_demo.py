"""``phaseout demo`` end to end on a small estate: files written, imported, nothing lost."""

from __future__ import annotations

import csv
from pathlib import Path

from phaseout.demo.run import run_demo
from phaseout.store import Store


def test_demo_writes_messy_files_and_imports_them(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo", stores=30, seed=3)
    names = sorted(p.name for p in result.files)
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".tsv") for n in names)
    semicolon = next(p for p in result.files if p.name.startswith("security_devices"))
    raw = semicolon.read_bytes()
    assert b";" in raw.splitlines()[3]
    sites, *inventories = result.imports
    assert sites.created == len(result.estate.sites)
    bad = sum(r.rows_bad for r in inventories)
    assert bad == 3  # the Excel-mangled MACs planted in one file
    imported = sum(r.rows_imported for r in inventories)
    assert imported == len(result.estate.devices) - bad
    assert all(not r.sites_created for r in inventories)  # every site reference resolved
    truth = list(csv.DictReader((tmp_path / "demo" / "truth.csv").open(encoding="utf-8")))
    assert len(truth) == len(result.estate.devices)
    with Store.open(result.db) as store:
        counts = store.counts()
        assert counts["devices"] == imported and counts["observations"] == imported
        # re-running the imports merges: no duplicates
    again = run_demo(tmp_path / "demo", stores=30, seed=3, db=result.db)
    assert sum(r.created for r in again.imports[1:]) == 0
    with Store.open(result.db) as store:
        assert store.counts()["devices"] == imported
