"""The rules on real scans of emulated devices on loopback: a device answering a scan from the
guest network, a replaced camera answering again after its verification, a deadline passed with
covered devices left; and the CLI as a user runs it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from sqlalchemy import text

from phaseout.app import Phaseout
from phaseout.app import alerts as use
from phaseout.discover.scanner import HostResult, ScanSettings, scan
from phaseout.emulate.devices import Emulator, plan_devices
from phaseout.store import Store
from phaseout.store.alerts import list_outbox
from phaseout.store.audit import list_events
from tests.support import plan_to_done_order, run_cli

TODAY = dt.date(2026, 11, 29)


def _scan(profile: str, ip: str, seed: int) -> list[HostResult]:
    devices = plan_devices([profile], 1, ip, seed=seed)

    async def run() -> list[HostResult]:
        async with Emulator(devices):
            return await scan([d.ip for d in devices], ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80,)))

    return asyncio.run(run())


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_exposure_return_and_deadline_from_scans(tmp_path: Path) -> None:
    ip, new_ip, guest_ip = "127.219.0.1", "127.219.0.2", "127.219.0.9"
    sink = tmp_path / "alerts.jsonl"
    old = plan_devices(["hikvision-ipc"], 1, ip, seed=7)[0]
    new = plan_devices(["axis-ipc"], 1, new_ip, seed=8)[0]
    with Store.open(str(tmp_path / "w.db")) as store:
        app = Phaseout(store, actor="tester")
        (tmp_path / "sites.csv").write_text("Code,Region\nS9,North\n", encoding="utf-8")
        (tmp_path / "devices.csv").write_text(
            f"Site,Make,Model,IP,MAC,Type\nS9,Hikvision,DS-2CD2143G2-I,{ip},{old.mac},camera\n", encoding="utf-8"
        )
        app.import_sites(tmp_path / "sites.csv")
        app.import_devices(tmp_path / "devices.csv")
        app.record_results(_scan("hikvision-ipc", ip, 7), targets=[ip], ports=(80,), site="S9")
        # days before the work's done date (TODAY), whatever the date the tests run on: from the
        # clock, the scan fell on the done date itself once the clock passed TODAY + 3 days
        earlier = dt.datetime.combine(TODAY - dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
        with store.engine.begin() as conn:
            conn.execute(text("update observations set observed_at = :t where kind <> 'inventory'"), {"t": earlier})
            conn.execute(text("update scans set started_at = :t, finished_at = :t"), {"t": earlier})
        app.use_packs(["us-ndaa-889"])
        # the alert starts watching here: the estate so far is not news
        rules = [{"rule": "covered-device-appears"}, {"rule": "device-exposed"}]
        use.add_alert(store, "admin", "watch", "file", {"path": str(sink)}, rules)
        wo, old_id = plan_to_done_order(app, tmp_path, TODAY, new.serial, new.mac)
        app.record_results(_scan("axis-ipc", new_ip, 8), targets=[new_ip], ports=(80,), site="S9")
        app.record_results([], targets=[ip], ports=(80,), site="S9", silent=[ip])
        assert app.verify().verified == [wo]
        assert use.deliver(store, "d").delivered == 0  # an Axis camera and a silence: nothing to say

        # a device answers a scan run from the guest network
        app.record_results(_scan("dahua-ipc", guest_ip, 3), targets=[guest_ip], ports=(80,), vantage="guest")
        # the replaced Hikvision camera answers again
        app.record_results(_scan("hikvision-ipc", ip, 7), targets=[ip], ports=(80,), site="S9")
        assert use.deliver(store, "d").delivered == 3
        got = {(a["rule"], o["event"]): o for a in _lines(sink) for o in a["occurrences"]}  # type: ignore[attr-defined]
        assert set(got) == {
            ("covered-device-appears", "new"),  # the Dahua camera the guest scan found is new
            ("device-exposed", "reachable"),
            ("covered-device-appears", "came-back"),
        }, got
        assert got[("device-exposed", "reachable")]["zone"] == "guest"
        assert got[("covered-device-appears", "came-back")]["device"]["id"] == old_id
        assert got[("covered-device-appears", "came-back")]["work_order"] == wo

        # the same camera answering once more is the same occurrence: no second alert
        app.record_results(_scan("hikvision-ipc", ip, 7), targets=[ip], ports=(80,), site="S9")
        assert use.deliver(store, "d").delivered == 0

        # a deadline passes with covered devices left (the NDAA's is long past; evaluated "on the day")
        app.assess(TODAY)
        use.add_alert(store, "admin", "deadlines", "file", {"path": str(sink)}, [{"rule": "deadline-passed"}])
        with store.engine.connect() as conn:
            first = conn.execute(text("select min(deadline) from assessments")).scalar()
        assert first is not None
        deadline = first if isinstance(first, dt.date) else dt.date.fromisoformat(str(first))
        assert use.evaluate(store, today=deadline).occurrences == 0  # on the day: not passed yet
        assert use.evaluate(store, today=deadline + dt.timedelta(days=1)).occurrences == 1
        assert use.evaluate(store, today=deadline + dt.timedelta(days=2)).occurrences == 0  # once
        use.deliver(store, "d")
        last = _lines(sink)[-1]
        assert last["rule"] == "deadline-passed" and last["occurrences"][0]["deadline"] == deadline.isoformat()  # type: ignore[index]


def test_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    env = {"PHASEOUT_DB": db}
    sink = tmp_path / "a.jsonl"
    refused = run_cli("alert", "add", "soc", "--webhook", "https://hooks.example.org/x", env=env)
    assert refused.returncode == 2 and "outside what the admin allowed" in refused.stderr
    assert run_cli("alert", "add", "two", "--file", "x", "--syslog", "udp://127.0.0.1", env=env).returncode == 2
    bad_rule = run_cli("alert", "add", "x", "--file", str(sink), "--rule", "nope", env=env)
    assert bad_rule.returncode == 2 and "no alert rule" in bad_rule.stderr
    assert run_cli("settings", "set", "alert-webhook-allow", "127.0.0.1/32", env=env).returncode == 0
    added = run_cli("alert", "add", "soc", "--webhook", "http://127.0.0.1:9/hook", env=env)
    assert added.returncode == 0 and "webhook secret (shown once" in added.stdout
    logged = run_cli("alert", "add", "log", "--file", str(sink), "--rule", "covered-device-appears", env=env)
    assert logged.returncode == 0
    listed = run_cli("alert", "list", "--format", "jsonl", env=env)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["name"] for r in rows] == ["log", "soc"]
    assert all("secret" not in r for r in rows) and "shown once" not in listed.stdout
    assert run_cli("alert", "test", "log", env=env).returncode == 0
    failed = run_cli("alert", "test", "soc", env=env)  # nothing listens on port 9
    assert failed.returncode == 8 and "not delivered" in failed.stderr
    (tmp_path / "d.csv").write_text("Site,Make,Model,IP\nS1,Hikvision,DS-2CD2143G2-I,10.0.0.1\n", encoding="utf-8")
    imported = run_cli("import", str(tmp_path / "d.csv"), env=env)
    assert imported.returncode == 0 and "alerts: 2 occurrence(s) queued" in imported.stdout  # one for each alert
    outbox = run_cli("alert", "outbox", "--format", "jsonl", env=env)
    pending = [json.loads(line) for line in outbox.stdout.splitlines()]
    assert sorted(r["alert"] for r in pending) == ["log", "soc"] and {r["status"] for r in pending} == {"pending"}
    sent = run_cli("alert", "deliver", "--timeout", "2", env=env)
    assert sent.returncode == 8 and "delivered 1, retrying later 1" in sent.stdout  # the file yes, port 9 no
    assert _lines(sink)[-1]["rule"] == "covered-device-appears"
    removed = run_cli("alert", "remove", "soc", env=env)
    assert removed.returncode == 0 and "1 undelivered message(s) dropped" in removed.stdout
    assert run_cli("alert", "remove", "soc", env=env).returncode == 2
    assert run_cli("alert", "deliver", env=env).returncode == 0
    for command in ("add", "deliver", "outbox", "test"):
        helped = run_cli("alert", command, "--help", env=env)
        assert helped.returncode == 0 and "Example" in helped.stdout
    with Store.open(db) as store, store.engine.connect() as conn:
        assert {r["status"] for r in list_outbox(conn)} == {"delivered"}
        actions = {e["action"] for e in list_events(conn, entity="alert")}
    assert {"alert.add", "alert.test", "alert.delivery", "alert.remove"} <= actions
