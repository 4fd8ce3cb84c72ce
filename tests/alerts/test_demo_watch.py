"""The demo's watch step: a covered camera plugged back in after its verified replacement fires
the demo's alert (a file in the demo folder; everything on loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phaseout.demo.watch import can_bind_port_80
from phaseout.store import Store
from phaseout.store.alerts import list_outbox
from tests.support import run_main


@pytest.mark.skipif(not can_bind_port_80(), reason="the emulated cameras need port 80 on loopback")
def test_the_demo_fires_an_alert_when_a_covered_camera_comes_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHASEOUT_DB", raising=False)
    work = tmp_path / "d"
    code, out, err = run_main(capsys, "demo", "--sites", "4", "--seed", "3", "--no-serve", "--workdir", str(work))
    assert code == 0, err
    assert "verified by re-scans; then the old camera answered again and an alert fired" in " ".join(out.split())
    fired = [json.loads(line) for line in (work / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    back = [
        o for a in fired if a["rule"] == "covered-device-appears" for o in a["occurrences"] if o["event"] == "came-back"
    ]
    assert len(back) == 1 and back[0]["device"]["site"] == "LAB" and back[0]["device"]["vendor"] == "hikvision"
    with Store.open(str(work / "phaseout-demo.db")) as store, store.engine.connect() as conn:
        assert {r["status"] for r in list_outbox(conn)} == {"delivered"}
