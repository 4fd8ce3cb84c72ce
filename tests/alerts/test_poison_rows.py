"""One bad outbox row must not stop the others: a webhook whose CA file is gone, or an e-mail
whose device-supplied summary carries a line break, is recorded as a failed attempt (and
retried), and the rows after it are delivered in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from phaseout.app import Phaseout
from phaseout.app import alerts as use
from phaseout.store import Store
from phaseout.store.alerts import list_outbox
from phaseout.store.schema import alert_outbox
from phaseout.store.settings import set_setting

CSV = "Site,Make,Model,IP,MAC,Serial\nS1,Hikvision,DS-2CD2143G2-I,10.9.0.1,28:57:BE:00:01:01,SER1\n"
RULES = [{"rule": "covered-device-appears"}]


def test_a_webhook_with_a_missing_ca_file_does_not_stop_delivery(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "a.db")) as store:
        set_setting(store.engine, "alert-webhook-allow", "127.0.0.1/32", "admin")
        config = {"url": "https://127.0.0.1:9/hook", "ca": str(tmp_path / "gone.pem")}
        use.add_alert(store, "admin", "a-soc", "webhook", config, RULES)
        out = tmp_path / "alerts.jsonl"
        use.add_alert(store, "admin", "b-file", "file", {"path": str(out)}, RULES)
        (tmp_path / "c.csv").write_text(CSV, encoding="utf-8")
        Phaseout(store).import_devices(tmp_path / "c.csv")
        report = use.deliver(store, "deliverer", timeout=2.0)
        assert report.delivered == 1 and report.retrying == 1
        assert len(out.read_text().splitlines()) == 1
        failed = [r for r in report.results if r["alert"] == "a-soc"]
        assert "gone.pem" in str(failed[0]["detail"]) or "CA" in str(failed[0]["detail"])


def test_an_email_with_a_hostile_summary_is_built_or_failed_not_a_crash(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "a.db")) as store:
        config = {"to": ["ops@example.org"], "sender": "p@example.org", "host": "127.0.0.1", "port": 9}
        use.add_alert(store, "admin", "a-mail", "email", config, RULES)
        out = tmp_path / "alerts.jsonl"
        use.add_alert(store, "admin", "b-file", "file", {"path": str(out)}, RULES)
        (tmp_path / "c.csv").write_text(CSV, encoding="utf-8")
        Phaseout(store).import_devices(tmp_path / "c.csv")
        with store.engine.begin() as conn:  # a summary as a hostile device could make it
            for row in conn.execute(alert_outbox.select()).all():
                payload = json.loads(row.payload) | {"summary": "cam\r\nBcc: victim@example.org"}
                conn.execute(
                    update(alert_outbox).where(alert_outbox.c.id == row.id).values(payload=json.dumps(payload))
                )
        report = use.deliver(store, "deliverer", timeout=2.0)
        assert report.delivered == 1 and report.retrying == 1  # port 9 refuses: retried later
        with store.engine.connect() as conn:
            assert {r["status"] for r in list_outbox(conn)} == {"delivered", "pending"}


def test_any_sender_fault_is_a_failed_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = use.send

    def faulty(kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "email":
            raise ValueError("a sender bug")
        return real(kind, *args, **kwargs)

    monkeypatch.setattr(use, "send", faulty)
    with Store.open(str(tmp_path / "a.db")) as store:
        config = {"to": ["ops@example.org"], "sender": "p@example.org", "host": "127.0.0.1", "port": 9}
        use.add_alert(store, "admin", "a-mail", "email", config, RULES)
        out = tmp_path / "alerts.jsonl"
        use.add_alert(store, "admin", "b-file", "file", {"path": str(out)}, RULES)
        (tmp_path / "c.csv").write_text(CSV, encoding="utf-8")
        Phaseout(store).import_devices(tmp_path / "c.csv")
        report = use.deliver(store, "deliverer", timeout=2.0)
        assert report.delivered == 1 and report.retrying == 1
        assert "a sender bug" in str([r["detail"] for r in report.results])
