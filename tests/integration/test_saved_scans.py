"""Saved scans run with no person (issue 19 item 5): ``phaseout scan --definition NAME`` as a
cron line would run it, and ``phaseout scans tick`` as a systemd timer would: due schedules
become jobs, the server's own jobs run, each stored as a scan."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from phaseout.store import Store
from phaseout.store.schema import devices, scan_jobs, scans
from tests.collectors.harness import env
from tests.support import emulate_process, needs_ports, run_cli


@needs_ports
def test_saved_scan_runs_by_name_and_on_schedule(tmp_path: Path) -> None:
    db = str(tmp_path / "saved.db")
    with emulate_process("hikvision-ipc,dahua-ipc", 2, "127.43.0.1", env()):
        added = run_cli(
            "--db", db, "scans", "add", "nightly", "-t", "127.43.0.1-3", "--scope", "127.43.0.0/24",
            "--ports", "80,8000,37777", "--site", "S043", "--schedule", "every 1h",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        shown = json.loads(run_cli("--db", db, "scans", "show", "nightly").stdout)
        assert shown["targets"] == ["127.43.0.1-3"] and shown["schedule"] == "every 1h"
        ran = run_cli("--db", db, "scan", "--definition", "nightly", "-f", "jsonl")
        assert ran.returncode == 0, ran.stderr
        rows = [json.loads(line) for line in ran.stdout.splitlines()]
        assert {r["vendor"] for r in rows} == {"hikvision", "dahua"}
        both = run_cli("--db", db, "scan", "127.43.0.1", "--definition", "nightly")
        assert both.returncode == 2 and "brings its own targets" in both.stderr
        tick = run_cli("--db", db, "scans", "tick")
        assert tick.returncode == 0 and "1 job(s) made" in tick.stderr and "1 server-side job(s) ran" in tick.stderr
        again = run_cli("--db", db, "scans", "tick")
        assert "0 job(s) made" in again.stderr  # not due for another hour
    with Store.open(db) as store, store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(scans)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(devices)).scalar_one() == 2
        job = conn.execute(select(scan_jobs)).one()
        assert job.status == "done" and job.scan_id is not None and job.reason == "schedule"
    assert run_cli("--db", db, "scans", "remove", "nightly").returncode == 0
    assert run_cli("--db", db, "scan", "--definition", "nightly").returncode == 2
