"""The import's write path on PostgreSQL (``store.pipeline``, ``DeviceWriter``'s set-based
merge, the GIN index fed during the load) stores exactly what the row-by-row path stores on
SQLite, merges repeated devices as applying the rows one by one would, and leaves nothing
behind when a write on the background thread fails."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from phaseout.app import Phaseout
from phaseout.app import imports as imports_module
from phaseout.queries.devices import DeviceQuery, count
from phaseout.store import Store, device_writer, ids
from phaseout.store.device_writer import TEXT_FIELDS, fold_updates
from phaseout.store.pipeline import BackgroundWriter
from phaseout.store.schema import devices, import_batches, observations

SITES = "Code,Name\nA,Depot\nB,Shop\n"


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("Site,Make,Model,MAC,IP,Serial,Firmware\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _cameras(n: int) -> list[str]:
    make = "Hikvision,DS-2CD2143G2-I"
    return [f"{'AB'[i % 2]},{make},28:57:BE:00:00:{i:02X},127.9.0.{i + 1},SN{i:05d},V5.5.0" for i in range(n)]


def _devices(store: Store) -> list[tuple[Any, ...]]:
    cols = [devices.c[c] for c in (*TEXT_FIELDS, "site_id", "device_type", "vendor", "label", "batch_id")]
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(devices.c.mac))]


def _update(did: int, *texts: str | None, site: int = 1, dtype: str | None = None) -> tuple[Any, ...]:
    values = (*texts, *([None] * (len(TEXT_FIELDS) - len(texts))))
    return (*values, site, dtype, "now", did)


def test_fold_updates_leaves_what_the_rows_one_by_one_leave() -> None:
    first = _update(7, "127.0.0.1", None, "cam-a", site=1, dtype="camera")
    second = _update(7, None, "28:57:BE:00:00:01", "cam-b", site=2)
    other = _update(8, "127.0.0.2")
    folded = fold_updates([first, other, second])
    assert len(folded) == 2
    assert folded[0] == (*_update(7, "127.0.0.1", "28:57:BE:00:00:01", "cam-b", site=2)[:-3], "camera", "now", 7)
    assert folded[1] == other
    assert fold_updates([]) == []


@pytest.mark.parametrize("bulk", [False, True])
def test_reimport_with_repeated_devices_merges_like_row_by_row(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """Both databases, small and bulk path (indexes suspended), several chunks: the same file
    again creates nothing; a file naming one device three times (blank cells in between) leaves
    the values the rows give one after another."""
    monkeypatch.setattr(imports_module, "CHUNK_ROWS", 7)  # several chunks, queued behind each other
    if bulk:
        monkeypatch.setattr(ids, "BULK_ROWS", 3)
    (tmp_path / "s.csv").write_text(SITES, encoding="utf-8")
    with Store.open(db_url) as store:
        app = Phaseout(store)
        app.import_sites(tmp_path / "s.csv")
        path = _csv(tmp_path / "d.csv", _cameras(40))
        first, _ = app.import_devices(path)
        before = _devices(store)
        again, _ = app.import_devices(path)
        assert (first.created, again.created, again.updated) == (40, 0, 40)
        assert _devices(store) == [(*r[:-1], first.batch_id) for r in before]
        repeated = [
            "A,Dahua,,28:57:BE:00:00:00,127.9.1.1,,V1",
            "B,,IPC-1,28:57:BE:00:00:00,,SNX,",
            "B,,,28:57:BE:00:00:00,127.9.1.2,,V2",
            "B,Axis,P3245-LVE,00:40:8C:00:00:01,127.9.1.3,AX1,10.1",
        ]
        result, _ = app.import_devices(_csv(tmp_path / "r.csv", repeated))
        assert (result.created, result.updated) == (1, 3)
        with store.engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.mac == "28:57:BE:00:00:00")).one()
            assert (row.manufacturer, row.model, row.ip, row.serial, row.firmware) == (
                "Dahua",
                "IPC-1",
                "127.9.1.2",
                "SNX",
                "V2",
            )
            assert row.site_id == conn.execute(text("SELECT id FROM sites WHERE code = 'B'")).scalar()
            assert conn.execute(select(func.count()).select_from(devices)).scalar() == 41
            assert conn.execute(select(func.count()).select_from(observations)).scalar() == 84
            found = count(conn, DeviceQuery(text="ipc-1"), indexed=True)
            assert found == count(conn, DeviceQuery(text="ipc-1"), indexed=False) == 1


def test_a_failed_background_write_leaves_nothing(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The third chunk's COPY fails on the writer thread: the error reaches the caller, and the
    chunks already copied, the batch and the suspended indexes all roll back."""
    monkeypatch.setattr(imports_module, "CHUNK_ROWS", 10)
    monkeypatch.setattr(ids, "BULK_ROWS", 3)
    real = device_writer.copy_raw
    calls: list[str] = []

    def failing(raw: Any, table: str, columns: Any, rows: Any) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 5:
            raise RuntimeError("disk full (test)")
        real(raw, table, columns, rows)

    (tmp_path / "s.csv").write_text(SITES, encoding="utf-8")
    with Store.open(pg_url) as store:
        app = Phaseout(store)
        app.import_sites(tmp_path / "s.csv")
        with store.engine.connect() as conn:
            indexes = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'devices'")).all()
        monkeypatch.setattr(device_writer, "copy_raw", failing)
        with pytest.raises(RuntimeError, match="disk full"):
            app.import_devices(_csv(tmp_path / "d.csv", _cameras(50)))
        assert calls[0] == "phaseout-bulk-writer"
        with store.engine.connect() as conn:
            for table in (devices, observations):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
            kinds = conn.execute(select(import_batches.c.kind, import_batches.c.status)).all()
            assert sorted(kinds) == [("sites", "ok")]  # the sites import only: no devices batch
            assert conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'devices'")).all() == indexes
        monkeypatch.setattr(device_writer, "copy_raw", real)
        result, _ = app.import_devices(_csv(tmp_path / "d.csv", _cameras(50)))
        assert result.created == 50


def test_background_writer_runs_jobs_in_order_and_raises_the_first_error() -> None:
    done: list[int] = []
    with BackgroundWriter("raw", threaded=True) as pipe:
        for i in range(5):
            pipe.submit(lambda raw, i=i: done.append(i))
        pipe.wait()
        assert done == [0, 1, 2, 3, 4]

    def fail(raw: Any) -> None:
        raise ValueError("bad")

    pipe = BackgroundWriter("raw", threaded=True)
    pipe.submit(fail)
    pipe.submit(lambda raw: done.append(99))  # skipped after the error
    with pytest.raises(ValueError, match="bad"):
        pipe.wait()
    pipe.close()
    assert 99 not in done

    with pytest.raises(ValueError, match="bad"), BackgroundWriter("raw", threaded=True) as pipe:
        pipe.submit(fail)
        pipe.wait()


def test_background_writer_hands_the_callers_failure_on_and_skips_queued_jobs() -> None:
    gate = threading.Event()
    done: list[str] = []
    with pytest.raises(KeyError), BackgroundWriter("raw", threaded=True) as pipe:
        pipe.submit(lambda raw: gate.wait(5))
        pipe.submit(lambda raw: done.append("late"))
        gate.set()
        raise KeyError("parser failed")
    assert done == []


def test_background_writer_inline_when_not_threaded() -> None:
    seen: list[tuple[str, str]] = []
    with BackgroundWriter("raw", threaded=False) as pipe:
        pipe.submit(lambda raw: seen.append((raw, threading.current_thread().name)))
        assert seen == [("raw", threading.current_thread().name)]
