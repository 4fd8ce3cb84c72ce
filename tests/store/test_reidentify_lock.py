"""``store.identification.reidentify`` runs after every import (and source import) has committed.
With the knowledge unchanged it has nothing to do, and it must find that out without SQLite's
write lock: otherwise an import that finished while another write held the lock (a second import,
a scan being stored, an assessment) waited ``BUSY_TIMEOUT_MS`` and then reported "the database
is busy" for an import already stored, skipping its alert evaluation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phaseout.errors import StoreError
from phaseout.identify import Identifier
from phaseout.store import Store
from phaseout.store import engine as store_engine
from phaseout.store.alerts import claim
from phaseout.store.engine import writing
from phaseout.store.identification import reidentify, store_version


def test_an_up_to_date_store_is_not_locked_to_be_told_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 200)  # each connection's wait for the lock
    identifier = Identifier()
    with Store.open(str(tmp_path / "phaseout.db")) as store:
        assert reidentify(store.engine, identifier) == 0  # records the knowledge version
        with writing(store.engine) as other:  # another writer holds the lock meanwhile
            assert store_version(other) == identifier.version
            assert reidentify(store.engine, identifier) == 0
        assert reidentify(store.engine, identifier, only_stale=False) == 0  # (no device to redo)


def test_a_stale_store_still_waits_for_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check before the lock is only a shortcut: with a changed knowledge version the work is
    done under the lock (here refused, since the lock is held throughout)."""
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 200)
    with (
        Store.open(str(tmp_path / "phaseout.db")) as store,
        writing(store.engine),
        pytest.raises(StoreError, match="busy"),
    ):
        reidentify(store.engine, Identifier())


def test_an_empty_outbox_is_not_locked_to_be_told_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``alert deliver`` runs every minute from a timer; with nothing due it must not wait for an
    import's lock and exit "database is busy" (no alert configured at all: it never wrote)."""
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 200)
    with Store.open(str(tmp_path / "phaseout.db")) as store, writing(store.engine):
        now = dt.datetime.now(dt.UTC)
        assert claim(store.engine, now, dt.timedelta(seconds=60), 100) == []
