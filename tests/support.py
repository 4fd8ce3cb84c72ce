"""Helpers shared by tests (one module, instead of tests importing other tests)."""

from __future__ import annotations

import datetime as dt
import errno
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection
from typer.testing import CliRunner

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.app.planning import plan_stored_estate, save_plan
from phaseout.cli import app
from phaseout.cli.common import print_error
from phaseout.demo.run import run_demo
from phaseout.errors import PhaseoutError
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.users import add_user


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``phaseout ARGS`` in this process, as ``phaseout.cli.main`` would (a
    :class:`PhaseoutError` becomes its message and exit code): no interpreter start per call.
    Use a subprocess only where the process itself is under test (signals, exit on crash)."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), env=dict(env or {}), input=stdin, catch_exceptions=True)
    code, err = result.exit_code, result.stderr
    exc = result.exception
    if isinstance(exc, PhaseoutError):
        from io import StringIO

        from rich.console import Console

        from phaseout.cli import common

        buffer = StringIO()
        saved = common.err_console
        common.err_console = Console(file=buffer, width=200)
        try:
            print_error(exc)
        finally:
            common.err_console = saved
        code, err = exc.exit_code, err + buffer.getvalue()
    elif exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return subprocess.CompletedProcess(list(args), code, result.stdout, err)


def reported_serial(device: object) -> str:
    """The serial an emulated camera reports over ONVIF (what its label carries: real Hikvision
    firmware reports the model, the build date and the short serial run together)."""
    import re

    info = device.fill(device.profile.onvif["device_information"])  # type: ignore[attr-defined]
    found = re.search(r"<tds:SerialNumber>([^<]+)<", info)
    assert found, info[:200]
    return found.group(1)


# -- a small estate with users, shared by web, browser and report tests -----------------------

PACKS = ["org-template", "uk-cabinet-office-2022"]
TODAY = dt.date(2026, 11, 29)
PASSWORDS = {"ada": "admin-password-1", "pat": "planner-password-1", "vic": "viewer-password-1"}
XSS = "<script>alert(1)</script>"


def build_estate(work: Path) -> str:
    result = run_demo(work, stores=12, seed=11)
    hostile = work / "hostile.csv"
    hostile.write_text(
        f"Site,Make,Model,IP,Serial\n0001,Dahua,{XSS},127.30.0.9,XSS1\n0001,Hikvision,=HYPERLINK(1),127.30.0.10,XSS2\n",
        encoding="utf-8",
    )
    with Store.open(result.db) as store:
        Phaseout(store).import_devices(hostile)
        Phaseout(store).use_packs(PACKS)
        packs = available_packs()
        run_assessment(store.engine, [packs[p] for p in PACKS], TODAY)
        settings = PlanSettings(start=dt.date(2027, 1, 1), budget=(600_000.0,), crew_hours=2000.0)
        estate, _ = plan_stored_estate(store.engine, None, settings, TODAY)
        save_plan(store.engine, "baseline", estate, solve(estate.problem))

        Phaseout(store, actor="setup").generate_work()
        add_user(store.engine, "ada", "admin", PASSWORDS["ada"])
        add_user(store.engine, "pat", "planner", PASSWORDS["pat"])
        add_user(store.engine, "vic", "viewer", PASSWORDS["vic"])
    return result.db


# -- emulated devices in their own process, for CLI tests that scan them -----------------------


def _can_bind_low_ports() -> bool:
    """Whether this process may bind port 80.  Only a refusal of permission says no: the two
    pytest-xdist workers probe the same address while collecting, and the one that lost the race
    (address in use) used to skip its eleven emulator tests."""
    s = socket.socket()
    try:
        s.bind(("127.99.99.99", 80))
        return True
    except PermissionError:
        return False
    except OSError as exc:
        return exc.errno == errno.EADDRINUSE
    finally:
        s.close()


PHASEOUT = (sys.executable, "-m", "phaseout")


@contextmanager
def emulate_process(profiles: str, count: int, base: str, env: dict[str, str]) -> Iterator[None]:
    """``phaseout emulate`` in its own process, up before the block runs, stopped after it."""
    cmd = [*PHASEOUT, "emulate", "--profiles", profiles, "--count", str(count), "--base", base]
    emulator = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert emulator.stdout is not None
        assert "emulated devices" in emulator.stdout.readline()
        yield
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


needs_ports = pytest.mark.skipif(not _can_bind_low_ports(), reason="binding port 80 on loopback needs root here")


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``phaseout ARGS`` through the console entry point in this process: (exit code, out, err)."""
    from phaseout.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def plan_to_done_order(app: Phaseout, tmp_path: Path, today: dt.date, new_serial: str, new_mac: str) -> tuple[int, int]:
    """Assess, plan, make the work order, take it through scheduled and in-progress, and record
    the installer's return naming the new device: (work order id, old device id).  Shared by the
    tracking and exit-code tests (the packs must be chosen first)."""
    from phaseout.store.work import list_orders, show

    app.assess(today)
    estate, _ = plan_stored_estate(app.engine, None, PlanSettings(start=dt.date(2027, 1, 1)), today)
    save_plan(app.engine, "baseline", estate, solve(estate.problem))
    app.generate_work()
    with app.engine.connect() as conn:
        wo = list_orders(conn)[0]["id"]
        device_id = show(conn, wo)["devices"][0]["device_id"]
    for status in ("scheduled", "in-progress"):
        app.set_work_status(wo, status)
    (tmp_path / "return.csv").write_text(
        f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},,{new_serial},{new_mac},{today}\n",
        encoding="utf-8",
    )
    app.record_return(tmp_path / "return.csv")
    return int(wo), int(device_id)


def store_visit_plan(
    conn: Connection, name: str, created: dt.datetime, visits: Mapping[str, list[dict[str, object]]]
) -> int:
    """A stored plan with one visit per site swapping the given devices (swap dicts as the
    planner stores them), for tests and benches whose subject is what comes after the planner
    (work orders, verification); the planner's own choices are tested elsewhere."""
    import orjson

    from phaseout.store.schema import plan_visits, plans

    plan_id = int(
        conn.execute(
            plans.insert()
            .values(
                name=name,
                created_at=created,
                status="optimal",
                settings="{}",
                problem=orjson.dumps({"sites": [{"id": s, "region": "North"} for s in visits]}).decode(),
                result="{}",
                details="{}",
            )
            .returning(plans.c.id)
        ).scalar_one()
    )
    for site, swaps in visits.items():
        conn.execute(
            plan_visits.insert().values(
                plan_id=plan_id,
                package=f"{site}#1",
                site=site,
                period="2027-Q1",
                period_index=0,
                devices=len(swaps),
                risk=1.0,
                cost=1.0,
                hours=1.0,
                swaps=orjson.dumps(swaps).decode(),
            )
        )
    return plan_id
