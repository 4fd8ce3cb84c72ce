"""Collectors end to end on loopback (issue 17): the central server (``phaseout serve``, on
PostgreSQL when it is reachable), collectors as separate processes, emulated devices: enrol,
claim, scan, upload, merge; a collector killed mid-upload and restarted loses nothing and
doubles nothing; a revoked collector is refused; a job outside a collector's scopes is refused
on both ends."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from phaseout.store.schema import collector_uploads, devices, events, scan_jobs, scans, sites
from tests.collectors.harness import PHASEOUT, Proxy, env, free_port, server
from tests.conftest import pg_unavailable
from tests.support import emulate_process, needs_ports, run_cli

LEAN = [sys.executable, "-m", "phaseout.discover.collector"]  # the phaseout-collector entry point
BASE = "127.41.0.1"
SCOPE = "127.41.0.0/28"
PORTS = "80,554,8000,37777"


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if pg_unavailable() is None:
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "central.db")


def _count(engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_ports
def test_collector_enrols_claims_scans_uploads_and_survives_a_kill(db: str, tmp_path: Path) -> None:
    engine = create_engine(db if "://" in db else f"sqlite:///{db}")
    state = tmp_path / "collector"
    port = free_port()
    proc_env = env()
    with emulate_process("hikvision-ipc,dahua-ipc,lorex-nvr,axis-ipc", 4, BASE, proc_env), server(db, port) as url:
        code = _ok(run_cli("--db", db, "collector", "code", "store-41", "--site", "S041", "--scope", SCOPE)).strip()
        assert code.startswith("pe_")
        # a job outside the collector's scopes is refused on the server's end when it is saved
        far = run_cli(
            "--db", db, "scans", "add", "far", "-t", "127.42.0.1", "--scope", "127.42.0.0/24", "--collector", "store-41"
        )
        assert far.returncode == 2, far.stderr  # the collector is not enrolled yet, or refused: never saved
        proxy = Proxy(port)
        _ok(
            run_cli(
                "collector",
                "enrol",
                "--server",
                f"http://127.0.0.1:{proxy.port}",
                "--code",
                code,
                "--state-dir",
                str(state),
            )
        )
        assert stat.S_IMODE((state / "state.json").stat().st_mode) == 0o600
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        again = run_cli("collector", "enrol", "--server", url, "--code", code, "--state-dir", str(tmp_path / "other"))
        assert again.returncode != 0 and "unknown, used or expired" in again.stderr
        far = run_cli(
            "--db", db, "scans", "add", "far", "-t", "127.42.0.1", "--scope", "127.42.0.0/24", "--collector", "store-41"
        )
        assert far.returncode == 2 and "outside collector store-41's scopes" in far.stderr
        _ok(
            run_cli(
                "--db",
                db,
                "scans",
                "add",
                "s041",
                "-t",
                f"{BASE}-5",
                "--scope",
                SCOPE,
                "--site",
                "S041",
                "--ports",
                PORTS,
                "--collector",
                "store-41",
            )
        )

        # 1. claim, scan, upload, merge
        _ok(run_cli("--db", db, "scans", "run", "s041"))
        run = run_cli("collector", "run", "--once", "--state-dir", str(state), "--host-deadline", "4")
        assert run.returncode == 0 and "1 job(s) scanned" in run.stderr and "1 upload(s) merged" in run.stderr, (
            run.stderr
        )
        assert _count(engine, scans) == 1
        with engine.connect() as conn:
            rows = conn.execute(
                select(devices.c.ip).join(sites, sites.c.id == devices.c.site_id).where(sites.c.code == "S041")
            ).all()
            assert sorted(r.ip for r in rows) == [f"127.41.0.{i}" for i in range(1, 5)]
            scan = conn.execute(select(scans)).one()
            assert scan.status == "complete" and scan.hosts_probed == 5  # 4 answered, .5 silent
        listing = _ok(run_cli("--db", db, "collector", "list"))
        assert "store-41" in listing and "enrolled" in listing and "0.1.0" in listing

        # 2. killed after the server merged an upload but before the collector heard: resent, merged once
        _ok(run_cli("--db", db, "scans", "run", "s041"))
        proxy.mode = "hold"
        proxy.tripped.clear()
        collector = subprocess.Popen(
            [*LEAN, "run", "--once", "--state-dir", str(state), "--host-deadline", "4"],
            env=proc_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert proxy.tripped.wait(60), "the upload never reached the server"
        time.sleep(0.5)
        collector.send_signal(signal.SIGKILL)
        collector.wait()
        assert len(list((state / "queue").glob("*.json"))) == 1  # still queued: never acknowledged
        assert _count(engine, scans) == 2  # the server merged it
        proxy.mode = "pass"
        run = run_cli("collector", "run", "--once", "--state-dir", str(state))
        assert "1 already merged" in run.stderr and "0 still queued" in run.stderr, run.stderr
        assert _count(engine, scans) == 2 and _count(engine, collector_uploads) == 2

        # 3. killed with the upload cut before it reached the server: resent, merged once
        _ok(run_cli("--db", db, "scans", "run", "s041"))
        proxy.mode = "drop"
        proxy.tripped.clear()
        collector = subprocess.Popen(
            [*PHASEOUT, "collector", "run", "--once", "--state-dir", str(state), "--host-deadline", "4"],
            env=proc_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert proxy.tripped.wait(60)
        collector.send_signal(signal.SIGKILL)
        collector.wait()
        assert _count(engine, scans) == 2
        proxy.mode = "pass"
        run = run_cli("collector", "run", "--once", "--state-dir", str(state))
        assert "1 upload(s) merged" in run.stderr, run.stderr
        assert _count(engine, scans) == 3 and _count(engine, collector_uploads) == 3
        assert _count(engine, devices) == 4  # every scan matched the same devices
        assert _count(engine, scan_jobs, scan_jobs.c.status == "done") == 3

        # 4. a job outside the scopes the collector was enrolled for is refused on its own end
        saved = json.loads((state / "state.json").read_text())
        saved["scopes"] = ["127.41.0.8/29"]  # the server now says more than the collector accepts
        (state / "state.json").write_text(json.dumps(saved))
        _ok(run_cli("--db", db, "scans", "run", "s041"))
        run = run_cli("collector", "run", "--once", "--state-dir", str(state))
        assert "1 refused" in run.stderr, run.stderr
        with engine.connect() as conn:
            job = conn.execute(select(scan_jobs).order_by(scan_jobs.c.id.desc()).limit(1)).one()
        assert job.status == "refused" and "refused by the collector" in job.error
        assert _count(engine, scans) == 3

        # 5. revoked: refused at once, and recorded
        _ok(run_cli("--db", db, "collector", "revoke", "store-41"))
        run = run_cli("collector", "run", "--once", "--state-dir", str(state))
        assert run.returncode != 0 and "refused this collector's credential" in run.stderr, run.stderr
        assert _count(engine, events, events.c.action == "collector.refused") >= 1
        proxy.close()
    engine.dispose()
