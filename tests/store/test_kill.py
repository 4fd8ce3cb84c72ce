"""An import killed with SIGKILL half-way leaves the database exactly as before.

The import runs in a real subprocess (``phaseout -v import``) on a file large enough to take
several chunks; once it logs that a chunk is written (inside the still-open transaction),
the test sends SIGKILL and compares every table with the snapshot taken before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from phaseout.app import Phaseout
from phaseout.app.imports import CHUNK_ROWS
from phaseout.store import Store

ROWS = CHUNK_ROWS * 6  # above ids.BULK_ROWS, so the import also suspends indexes


def _indexes(store: Store) -> dict[str, list[str]]:
    inspector = inspect(store.engine)
    return {t: sorted(str(ix["name"]) for ix in inspector.get_indexes(t)) for t in ("devices", "observations")}


def _big_inventory(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Store,Make,Model,MAC,IP\n")
        for i in range(rows):
            mac = f"{0x2857BE000000 + i:012X}"
            fh.write(f"{i % 50 + 1},Hikvision,DS-2CD2143G2-I,{mac},127.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
    return path


@pytest.mark.slow
def test_kill_9_mid_import_changes_nothing(db_url: str, tmp_path: Path) -> None:
    with Store.open(db_url) as store:
        sites = tmp_path / "sites.csv"
        sites.write_text("Code,Name\n" + "".join(f"{i},Store {i}\n" for i in range(1, 51)), encoding="utf-8")
        Phaseout(store).import_sites(sites)
        small = tmp_path / "first.csv"
        small.write_text("Store,Make,Model,MAC\n1,Axis,P3245-LVE,00:40:8C:00:00:01\n", encoding="utf-8")
        Phaseout(store).import_devices(small)
        before = store.table_rows()
        indexes_before = _indexes(store)
    big = _big_inventory(tmp_path / "big.csv", ROWS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "phaseout", "-v", "--db", db_url, "import", str(big)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "chunk written" in line:
            proc.send_signal(signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "import never reported a written chunk"
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"import was not killed mid-way: {''.join(seen)[-2000:]}"
    with Store.open(db_url) as store:
        assert store.table_rows() == before
        assert _indexes(store) == indexes_before  # indexes dropped for the bulk load came back
        # and the database still works: the same import now lands whole
        result, _ = Phaseout(store).import_devices(big)
        assert result.created == ROWS
        assert _indexes(store) == indexes_before
