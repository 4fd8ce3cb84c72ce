"""Every exit code means one thing, and the README, ``phaseout --help`` and errors.py agree."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

from phaseout.cli import EPILOG
from phaseout.errors import EXIT_CODES
from tests.support import plan_to_done_order, reported_serial, run_main

ROOT = Path(__file__).resolve().parents[2]


run = run_main  # the shared in-process runner (tests/support.py)


def test_tables_agree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in EPILOG
        assert re.search(rf"^\| {code} \| {re.escape(meaning)} \|", readme, re.M), (code, meaning)
    doc = sys.modules["phaseout.errors"].__doc__ or ""
    for code in EXIT_CODES:
        assert re.search(rf"^\s+{code} ", doc, re.M), code


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = str(tmp_path / "x.db")
    monkeypatch.setenv("PHASEOUT_DB", path)
    monkeypatch.setenv("COLUMNS", "200")
    return path


def test_0_ok_and_2_usage(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "devices")[0] == 0
    assert run(capsys, "devices", "--no-such-option")[0] == 2
    sites = tmp_path / "s.csv"
    sites.write_text("Store No,Store Name\n1,Leeds\n", encoding="utf-8")
    assert run(capsys, "sites", "import", str(sites))[0] == 0
    code, _, err = run(capsys, "plan", "--site", "STORE-0001")
    assert code == 2 and "no site 'STORE-0001'" in err and "0001" in err  # a close match is named
    code, _, err = run(capsys, "settings", "set", "currency", "pounds")
    assert code == 2 and "ISO 4217" in err


def test_3_input_file(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run(capsys, "import", str(tmp_path / "missing.csv"))
    assert code == 3


def test_4_bad_rows(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Site,Make,Model,IP\n1,Hikvision,DS-2CD2143G2-I,999.1.1.1\n", encoding="utf-8")
    code, _, _ = run(capsys, "import", str(bad))
    assert code == 4


def test_5_database(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASEOUT_DB", str(tmp_path))  # a directory is no database
    assert run(capsys, "devices")[0] == 5


def test_6_knowledge(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "k"
    broken.mkdir()
    (broken / "rules.toml").write_text("this is not = = toml", encoding="utf-8")
    code, _, _ = run(capsys, "knowledge", "check", str(broken))
    assert code == 6


def test_9_cannot_listen(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, _, err = run(capsys, "serve", "--port", str(port))
    assert code == 9 and "--port" in err


def test_10_missing_pango(db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pango(name: str, *args: object, **kwargs: object) -> object:
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    from phaseout.report.data import Report
    from phaseout.report.render import write

    monkeypatch.setattr(builtins, "__import__", no_pango)
    from phaseout.errors import MissingLibraryError

    with pytest.raises(MissingLibraryError) as caught:
        write(Report("board", "t", "s", "2026-01-01"), "pdf", Path("/nonexistent/x.pdf"))
    assert caught.value.exit_code == 10
    assert "apt-get install libpango-1.0-0" in (caught.value.hint or "")


def test_7_no_plan_meets_the_constraints(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    problem = {
        "periods": [{"id": "P1", "budget": 1000}],
        "regions": [{"id": "north", "crew_hours": [1]}],  # one hour of crew for four hours of work
        "sites": [{"id": "S0", "region": "north", "sensitive": True, "deadline": "P1"}],
        "packages": [{"id": "S0#1", "site": "S0", "risk": 10, "cost": 100, "hours": 4, "devices": ["d1"]}],
    }
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(problem), encoding="utf-8")
    code, out, _ = run(capsys, "plan", "budget", "--by", "P1", "--problem", str(path))
    assert code == 7 and "nothing finishes everything by P1" in out


def test_8_a_check_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`work verify` when the replacement is itself covered (an Annke camera is a Hikvision)."""
    import asyncio
    import datetime as dt

    from phaseout.app import Phaseout
    from phaseout.discover.scanner import ScanSettings, scan
    from phaseout.emulate.devices import Emulator, plan_devices
    from phaseout.store import Store

    today = dt.date(2026, 11, 29)
    ip = "127.49.0.1"
    old = plan_devices(["dahua-ipc"], 1, ip, seed=7)[0]
    new = plan_devices(["annke-ipc"], 1, ip, seed=9)[0]
    db = str(tmp_path / "v.db")
    (tmp_path / "d.csv").write_text(
        f"Site,Make,Model,IP,MAC,Serial\nS2,Dahua,IPC-HDW2431T-AS-S2,{ip},{old.mac},{old.serial}\n", encoding="utf-8"
    )
    with Store.open(db) as store:
        app = Phaseout(store, actor="t")
        app.import_devices(tmp_path / "d.csv")
        app.use_packs(["us-ndaa-889"])
        # the serial as the camera reports it (its label): the emulated profile copies real firmware
        plan_to_done_order(app, tmp_path, today, reported_serial(new), new.mac)

        async def run_scan() -> list:  # type: ignore[type-arg]
            async with Emulator([new]):
                return await scan([ip], ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80,)))

        app.record_results(asyncio.run(run_scan()), targets=[f"{ip}/32"], ports=(80,), site="S2")
    monkeypatch.setenv("PHASEOUT_DB", db)
    code, out, _ = run(capsys, "work", "verify")
    assert code == 8 and "exceptions" in out, out
