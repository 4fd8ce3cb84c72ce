"""Alerts end to end against receivers on 127.0.0.1 started by each test: the webhook signed
and delivered once, retried after the receiver was down, nothing lost when the process is
killed between evaluation and delivery, e-mail over STARTTLS, syslog over UDP and TCP, and
webhook URLs outside the admin's allow list refused (SQLite and PostgreSQL where marked)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text

from phaseout.alert.messages import verify_signature
from phaseout.app import Phaseout
from phaseout.app import alerts as use
from phaseout.errors import UsageError
from phaseout.store import Store
from phaseout.store.alerts import get_alert, list_outbox
from phaseout.store.audit import list_events, verify_chain
from phaseout.store.schema import alert_evaluated, alert_outbox
from phaseout.store.settings import set_setting
from tests.alerts.receivers import RFC5424, free_port, smtp_server, split_octet_counted, syslog_receiver, webhook

ALL_RULES = [{"rule": "covered-device-appears"}, {"rule": "device-exposed"}, {"rule": "deadline-passed"}]
CSV = "Site,Make,Model,IP,MAC,Serial\nS1,Hikvision,DS-2CD2143G2-I,10.9.0.{n},28:57:BE:00:01:{n:02X},SER{n}\n"


def _import(store: Store, tmp: Path, n: int = 1) -> int:
    path = tmp / f"cams{n}.csv"
    path.write_text(CSV.format(n=n), encoding="utf-8")
    result, _ = Phaseout(store).import_devices(path)
    return result.alerts


def _allow(store: Store, value: str = "127.0.0.1/32") -> None:
    set_setting(store.engine, "alert-webhook-allow", value, "admin")


def _deliveries(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [e for e in list_events(conn, entity="alert") if e["action"] == "alert.delivery"]


def test_webhook_signed_and_delivered_exactly_once(db_url: str, tmp_path: Path) -> None:
    with Store.open(db_url) as store, webhook() as hook:
        _allow(store)
        _id, secret = use.add_alert(store, "admin", "soc", "webhook", {"url": hook.url}, ALL_RULES)
        assert secret and len(secret) >= 32
        assert _import(store, tmp_path) == 1  # the import queued it, and sent nothing yet
        assert hook.requests == []
        report = use.deliver(store, "deliverer")
        assert report.delivered == 1 and len(hook.requests) == 1
        request = hook.requests[0]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert verify_signature(
            secret, headers["x-phaseout-timestamp"], request["body"], headers["x-phaseout-signature"], time.time()
        )
        body = json.loads(request["body"])
        assert body["rule"] == "covered-device-appears" and body["count"] == 1
        assert body["occurrences"][0]["device"]["vendor"] == "hikvision"
        # delivered once: again, re-evaluated, even with the evaluation record gone (dedupe keys)
        assert use.deliver(store, "deliverer").delivered == 0
        assert use.evaluate(store).occurrences == 0
        with store.engine.begin() as conn:
            conn.execute(delete(alert_evaluated))
        assert use.evaluate(store).occurrences == 0
        assert use.deliver(store, "deliverer").delivered == 0
        assert len(hook.requests) == 1
        events = _deliveries(store)
        assert [e["after"]["outcome"] for e in events] == ["delivered"]
        with store.engine.connect() as conn:
            assert verify_chain(conn).ok
            assert list_outbox(conn)[0]["status"] == "delivered"


def test_retried_with_back_off_after_the_receiver_was_down(tmp_path: Path) -> None:
    port = free_port()
    with Store.open(str(tmp_path / "a.db")) as store:
        _allow(store)
        use.add_alert(store, "admin", "soc", "webhook", {"url": f"http://127.0.0.1:{port}/hook"}, ALL_RULES)
        _import(store, tmp_path)
        down = use.deliver(store, "deliverer", timeout=2)  # nothing listens on the port
        assert down.retrying == 1 and down.delivered == 0
        with store.engine.connect() as conn:
            row = list_outbox(conn)[0]
        assert row["status"] == "pending" and row["attempts"] == 1 and "Connection" in row["last_error"]
        wait = (row["next_attempt_at"] - dt.datetime.now(dt.UTC)).total_seconds()
        assert 20 < wait <= 30  # the first back-off step
        with webhook(port) as hook:
            hook.answers = [503]  # up, but failing once more
            assert use.deliver(store, "deliverer").results == []  # not due yet: nothing sent
            later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31)
            assert use.deliver(store, "deliverer", now=later).retrying == 1
            with store.engine.connect() as conn:
                row = list_outbox(conn)[0]
            assert row["attempts"] == 2 and "HTTP 503" in row["last_error"]
            assert 50 < (row["next_attempt_at"] - dt.datetime.now(dt.UTC)).total_seconds() <= 60  # doubled
            done = use.deliver(store, "deliverer", now=later + dt.timedelta(seconds=61))
            assert done.delivered == 1 and len(hook.requests) == 2  # the 503 and the good one
            assert hook.requests[0]["body"] == hook.requests[1]["body"]  # the same message, resent
        outcomes = [e["after"]["outcome"] for e in reversed(_deliveries(store))]
        assert outcomes == ["pending", "pending", "delivered"]


def test_a_deliverer_killed_while_sending_loses_nothing(tmp_path: Path) -> None:
    """Its claim expires and the next deliverer sends the row; the receiver can tell the repeat
    by X-Phaseout-Delivery."""
    from phaseout.store.alerts import claim

    with Store.open(str(tmp_path / "a.db")) as store, webhook() as hook:
        _allow(store)
        use.add_alert(store, "admin", "soc", "webhook", {"url": hook.url}, ALL_RULES)
        _import(store, tmp_path)
        taken = claim(store.engine, dt.datetime.now(dt.UTC), dt.timedelta(seconds=60), 10)
        assert len(taken) == 1  # ... and this deliverer dies here
        assert use.deliver(store, "deliverer").results == []  # the claim still holds
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
        assert use.deliver(store, "deliverer", now=later).delivered == 1
        assert len(hook.requests) == 1


SCRIPT = """
import os, signal, sys
from pathlib import Path
from phaseout.app import Phaseout
from phaseout.store import Store
import phaseout.app.alerts as alerts

mode, db, csv = sys.argv[1:4]
if mode == "before-evaluation":  # the import commits, the process dies before the rules run
    alerts.after_batch = lambda store: os.kill(os.getpid(), signal.SIGKILL)
with Store.open(db) as store:
    Phaseout(store).import_devices(Path(csv))
    os.kill(os.getpid(), signal.SIGKILL)  # after evaluation, before any delivery
"""


@pytest.mark.parametrize("mode", ["before-evaluation", "before-delivery"])
def test_nothing_is_lost_when_the_process_is_killed(db_url: str, tmp_path: Path, mode: str) -> None:
    with Store.open(db_url) as store, webhook() as hook:
        _allow(store)
        use.add_alert(store, "admin", "soc", "webhook", {"url": hook.url}, ALL_RULES)
        (tmp_path / "cams.csv").write_text(CSV.format(n=7), encoding="utf-8")
        script = tmp_path / "run.py"
        script.write_text(SCRIPT, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.run(
            [sys.executable, str(script), mode, db_url, str(tmp_path / "cams.csv")], env=env, timeout=120
        )
        assert proc.returncode == -signal.SIGKILL
        with store.engine.connect() as conn:
            assert conn.execute(text("select count(*) from devices")).scalar() == 1  # the import landed
            queued = conn.execute(select(alert_outbox.c.id)).all()
        assert len(queued) == (0 if mode == "before-evaluation" else 1)
        use.evaluate(store)  # what `phaseout alert deliver` does first: the missed batch is taken
        report = use.deliver(store, "deliverer")
        assert report.delivered == 1 and len(hook.requests) == 1
        assert use.deliver(store, "deliverer").delivered == 0 and len(hook.requests) == 1


def test_webhook_urls_outside_the_allow_list_are_refused_at_add_and_at_delivery(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "a.db")) as store, webhook() as hook:
        with pytest.raises(UsageError, match="outside what the admin allowed"):
            use.add_alert(store, "admin", "soc", "webhook", {"url": hook.url}, ALL_RULES)  # nothing allowed yet
        _allow(store, "hooks.example.org")
        with pytest.raises(UsageError, match="outside what the admin allowed"):
            use.add_alert(store, "admin", "soc", "webhook", {"url": hook.url}, ALL_RULES)
        with pytest.raises(UsageError, match="outside what the admin allowed"):
            use.add_alert(store, "admin", "soc", "webhook", {"url": "http://169.254.169.254/latest"}, ALL_RULES)
        _allow(store)
        use.add_alert(store, "admin", "soc", "webhook", {"url": hook.url}, ALL_RULES)
        _import(store, tmp_path)
        _allow(store, "hooks.example.org")  # the admin narrows the list before delivery
        report = use.deliver(store, "deliverer")
        assert report.retrying == 1 and "refused" in report.results[0]["detail"]
        assert hook.requests == []  # not one byte reached it
        ok, detail = use.send_test(store, "admin", "soc")
        assert not ok and "refused" in detail and hook.requests == []


def _mail(box_message: dict[str, object]) -> Message:
    return message_from_bytes(box_message["content"])  # type: ignore[arg-type]


def test_email_over_starttls(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "a.db")) as store, smtp_server(tmp_path) as (box, cert):
        config = {
            "to": ["sec@example.org"],
            "sender": "phaseout@example.org",
            "host": "127.0.0.1",
            "port": box.port,
            "ca": str(cert),
        }
        use.add_alert(store, "admin", "team", "email", config, ALL_RULES)
        ok, detail = use.send_test(store, "admin", "team")
        assert ok, detail
        _import(store, tmp_path)
        assert use.deliver(store, "deliverer").delivered == 1
        assert len(box.messages) == 2 and all(m["tls"] for m in box.messages)
        mail = _mail(box.messages[1])
        assert mail["Subject"].startswith("[phaseout] a covered device appeared")
        assert box.messages[1]["to"] == ["sec@example.org"]
        attachment = next(p for p in mail.walk() if p.get_filename() == "alert.json")
        assert json.loads(attachment.get_payload(decode=True))["rule"] == "covered-device-appears"


def test_email_without_starttls_is_never_sent_in_the_clear(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "a.db")) as store, smtp_server(tmp_path, starttls=False) as (box, _cert):
        config = {"to": ["sec@example.org"], "sender": "phaseout@example.org", "host": "127.0.0.1", "port": box.port}
        use.add_alert(store, "admin", "team", "email", config, ALL_RULES)
        ok, detail = use.send_test(store, "admin", "team")
        assert not ok and "does not offer STARTTLS" in detail and box.messages == []
        with pytest.raises(UsageError, match="STARTTLS"):
            use.add_alert(store, "admin", "plain", "email", config | {"plain": True}, ALL_RULES)
        set_setting(store.engine, "alert-smtp-plain-localhost", "yes", "admin")
        use.add_alert(store, "admin", "plain", "email", config | {"plain": True}, ALL_RULES)
        ok, detail = use.send_test(store, "admin", "plain")
        assert ok and len(box.messages) == 1 and not box.messages[0]["tls"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_syslog_rfc5424(tmp_path: Path, transport: str) -> None:
    with Store.open(str(tmp_path / "a.db")) as store, syslog_receiver(transport) as sink:
        config = {"transport": transport, "host": "127.0.0.1", "port": sink.port, "facility": "local3"}
        use.add_alert(store, "admin", "siem", "syslog", config, ALL_RULES)
        _import(store, tmp_path, 1)
        _import(store, tmp_path, 2)
        assert use.deliver(store, "deliverer").delivered == 2
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(sink.messages if transport == "udp" else sink.raw) < 2:
            time.sleep(0.05)
        time.sleep(0.2)
        messages = sink.messages if transport == "udp" else split_octet_counted(sink.raw)
        assert len(messages) == 2
        for msg in messages:
            found = RFC5424.match(msg)
            assert found, msg[:120]
            assert int(found["pri"]) == 19 * 8 + 4  # local3, warning
            assert found["app"] == b"phaseout" and found["msgid"] == b"covered-device-appears"
            assert json.loads(found["msg"])["count"] == 1
        with store.engine.connect() as conn:
            assert get_alert(conn, "siem")["config"]["facility"] == "local3"  # type: ignore[index]


def test_a_row_is_claimed_by_one_deliverer_and_marked_by_its_claimant_only(db_url: str, tmp_path: Path) -> None:
    from phaseout.store.alerts import claim, finish

    with Store.open(db_url) as store:
        use.add_alert(store, "admin", "log", "file", {"path": str(tmp_path / "a.jsonl")}, ALL_RULES)
        _import(store, tmp_path)
        now = dt.datetime.now(dt.UTC)
        first = claim(store.engine, now, dt.timedelta(seconds=60), 10)
        assert len(first) == 1 and claim(store.engine, now, dt.timedelta(seconds=60), 10) == []
        later = now + dt.timedelta(seconds=61)  # the first deliverer stalled past its lease
        second = claim(store.engine, later, dt.timedelta(seconds=60), 10)
        assert [r["id"] for r in second] == [first[0]["id"]] and second[0]["claim"] != first[0]["claim"]
        late = finish(store.engine, first[0], ok=True, detail="x", now=later, retry_at=None, actor="a")
        assert late == "lost-claim"  # the stalled one may not mark it
        assert finish(store.engine, second[0], ok=True, detail="y", now=later, retry_at=None, actor="b") == "delivered"
        with store.engine.connect() as conn:
            row = list_outbox(conn)[0]
        assert row["status"] == "delivered" and row["attempts"] == 1
        assert [e["actor"] for e in _deliveries(store)] == ["b"]
