"""The packs in use are kept in the store (shared by a team on PostgreSQL) and drive findings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phaseout.app import Phaseout
from phaseout.app.policies import summary
from phaseout.errors import KnowledgeError, UsageError
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.policies import packs_in_use, set_packs_in_use


def test_packs_in_use_and_summary(db_url: str, tmp_path: Path) -> None:
    sites = tmp_path / "s.csv"
    sites.write_text("Code,Name,Sensitive\nA,Depot,yes\nB,Shop,no\n", encoding="utf-8")
    cams = tmp_path / "c.csv"
    cams.write_text(
        "Site,Make,Model,MAC\nA,Lorex,LNB8005-C,00:1F:54:00:00:01\nB,Hikvision,DS-2CD2143G2-I,\n"
        "B,Axis,P3245-LVE,00:40:8C:00:00:02\n",
        encoding="utf-8",
    )
    with Store.open(db_url) as store:
        Phaseout(store).import_sites(sites)
        Phaseout(store).import_devices(cams)
        with store.engine.connect() as conn:
            assert packs_in_use(conn) == []
        Phaseout(store).use_packs(["org-template"])
        Phaseout(store).use_packs(["org-template", "uk-cabinet-office-2022"])
        with store.engine.connect() as conn:
            assert packs_in_use(conn) == ["org-template", "uk-cabinet-office-2022"]
        packs = available_packs()
        counts = summary(store.engine, [packs["org-template"]], dt.date(2026, 11, 29))
    assert counts[("ORG estate", "due", "sensitive")] == 1  # the Lorex unit: made by Dahua
    assert counts[("ORG estate", "due", "standard")] == 1  # the Hikvision camera; the Axis is not covered
    assert counts[("ORG sensitive sites", "breach", "sensitive")] == 1


def test_a_pack_in_use_that_is_no_longer_installed_is_named(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "p.db")) as store:
        app = Phaseout(store)
        with pytest.raises(UsageError, match="gone-pack"):  # an unknown pack cannot be chosen
            app.use_packs(["us-ndaa-889", "gone-pack"])
        set_packs_in_use(store.engine, ["us-ndaa-889", "gone-pack"], [], "tester")  # chosen, then uninstalled
        with pytest.raises(KnowledgeError, match="gone-pack"):
            app.packs_in_use()
        app.use_packs(["us-ndaa-889"])
        assert [p.id for p in app.packs_in_use()] == ["us-ndaa-889"]
