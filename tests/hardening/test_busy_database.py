"""A second writer on a busy SQLite database waits a bounded time, then says the database is busy
(exit 5) -- before, it died with sqlite3's "database is locked" traceback (exit 1)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from phaseout.app import Phaseout
from phaseout.errors import StoreError
from phaseout.store import Store, engine


def test_busy_database_waits_then_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 400)
    db = tmp_path / "busy.db"
    inventory = tmp_path / "cams.csv"
    inventory.write_text("Site,Make,Model,MAC\r\n0001,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:01\r\n", "utf-8")
    with Store.open(str(db)) as store:
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # what a running import holds
        started = time.monotonic()
        with pytest.raises(StoreError, match="busy") as info:
            Phaseout(store).import_devices(inventory)
        assert time.monotonic() - started >= 0.35  # it waited before giving up
        assert info.value.exit_code == 5
        other.execute("ROLLBACK")
        other.close()
        result, _ = Phaseout(store).import_devices(inventory)  # the lock gone, the same import goes through
        assert result.created == 1
