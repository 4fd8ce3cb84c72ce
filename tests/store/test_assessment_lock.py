"""On SQLite the assessment reads and assesses the estate before it takes the write lock, so a
write meanwhile (a collector's upload, an import) is not held up for the whole assessment; if one
lands, the estate is read again under the lock and the stored assessments cover what it wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from phaseout.app import Phaseout, assessment
from phaseout.app.assessment import run_assessment
from phaseout.policy.packs import available_packs
from phaseout.store.schema import assessments, devices
from tests.store.test_search import _estate

TODAY = dt.date(2026, 12, 1)
MORE = "Site,Make,Model,MAC\nS1,Hikvision,DS-2CD2043G0-I,00:11:22:33:44:99\n"


def _counting(monkeypatch: pytest.MonkeyPatch, during_first: Any = None) -> list[int]:
    calls: list[int] = []
    real = assessment.assess_devices

    def reading(conn: Any, packs: Any, today: dt.date) -> Iterator[Any]:
        calls.append(1)
        if len(calls) == 1 and during_first is not None:
            during_first()  # written while the assessment reads: must not wait for it
        yield from real(conn, packs, today)

    monkeypatch.setattr(assessment, "assess_devices", reading)
    return calls


def test_a_write_while_the_estate_is_read_is_not_held_up_and_is_assessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = [available_packs()["org-template"]]
    with _estate(str(tmp_path / "phaseout.db"), tmp_path) as store:
        more = tmp_path / "more.csv"
        more.write_text(MORE, encoding="utf-8")
        calls = _counting(monkeypatch, lambda: Phaseout(store).import_devices(more))
        results = run_assessment(store.engine, packs, TODAY)
        assert len(calls) == 2  # read again under the lock: the import changed the generation
        with store.engine.connect() as conn:
            active = conn.execute(select(func.count()).select_from(devices).where(devices.c.status == "active"))
            stored = conn.execute(select(func.count()).select_from(assessments)).scalar()
            assert stored == active.scalar() == len(results)


def test_an_undisturbed_assessment_reads_the_estate_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _estate(str(tmp_path / "phaseout.db"), tmp_path) as store:
        calls = _counting(monkeypatch)
        run_assessment(store.engine, [available_packs()["org-template"]], TODAY)
        assert len(calls) == 1
