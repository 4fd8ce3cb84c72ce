"""The ``phaseout`` command as a user meets it: exit codes, messages, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tests.support import run_main

SITES = "Store No,Store Name,Region,Sensitive?\n1,Leeds Hyper,Yorkshire,no\n2,Camden,London,yes\n"
DEVICES = (
    "Inventory,,,,\n"
    "Store,Make,Model No,MAC Address,IP\n"
    "1,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:01,127.20.0.1\n"
    "2,Axis,=cmd|' /C calc'!A0,00:40:8C:00:00:02,127.20.0.2\n"
    "2,Dahua,<script>alert(1)</script>,3C:EF:8C:00:00:03,127.20.0.3\n"
)


run = run_main  # the shared in-process runner (tests/support.py)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = str(tmp_path / "cli.db")
    monkeypatch.setenv("PHASEOUT_DB", path)
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    devices = tmp_path / "devices.csv"
    devices.write_text(DEVICES, encoding="utf-8")
    return sites, devices


def test_help_teaches_and_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "Exit codes" in out and "import" in out and "devices" in out and "demo" in out
    code, out, _ = run(capsys, "import", "--help")
    assert code == 0 and "--dry-run" in out and "--skip-bad" in out and "Examples" in out


def test_import_and_list(capsys: pytest.CaptureFixture[str], db: str, files: tuple[Path, Path]) -> None:
    sites, devices = files
    assert run(capsys, "sites", "import", str(sites))[0] == 0
    code, out, _ = run(capsys, "import", str(devices))
    assert code == 0 and "created" in out
    code, out, _ = run(capsys, "devices", "--maker", "hikvision")
    assert code == 0 and "DS-2CD2143G2-I" in out and "devices: 1 of 1" in out
    code, out, _ = run(capsys, "devices", "--search", "script")
    assert "<script>alert(1)</script>" in out  # shown as text, not swallowed as markup
    code, out, _ = run(capsys, "imports")
    assert code == 0 and "devices.csv" in out


def test_dry_run_shows_mapping_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], db: str, files: tuple[Path, Path]
) -> None:
    _, devices = files
    code, out, _ = run(capsys, "import", str(devices), "--dry-run")
    assert code == 0
    assert "header on row 2" in out and "MAC Address" in out and "mac" in out and "first rows as parsed" in out
    code, out, _ = run(capsys, "db", "info")
    assert "devices" in out and "│ 0" in out.split("devices")[1][:40]


def test_bad_rows_exit_4_and_errors_file(
    capsys: pytest.CaptureFixture[str], db: str, files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, _devices = files
    bad = tmp_path / "bad.csv"
    bad.write_text(DEVICES + "1,Dahua,X,2.85712E+11,\n", encoding="utf-8")
    errors = tmp_path / "errors.csv"
    code, _, err = run(capsys, "import", str(bad), "--errors", str(errors))
    assert code == 4
    assert "nothing was imported" in err and "--skip-bad" in err and "Traceback" not in err
    assert "row 6" in err
    lines = errors.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,column,reason,values" and lines[1].startswith("6,MAC Address,")
    code, out, _ = run(capsys, "import", str(bad), "--skip-bad")
    assert code == 0 and "partial" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["import", "missing.csv"], 3, "no such file"),
        (["import", "{devices}", "--map", "Nope=model"], 2, "not in the header"),
        (["import", "{devices}", "--map", "junk"], 2, "COLUMN=FIELD"),
        (["import", "{devices}", "--site", "Atlantis"], 2, "no site 'Atlantis'"),
        (["--db", "mysql://x/y", "devices"], 5, "unsupported database"),
        (["devices", "--format", "xlsx"], 2, "needs --output"),
        (["devices", "--sort", "colour"], 2, "cannot sort"),
    ],
)
def test_user_errors_have_codes_and_hints(
    capsys: pytest.CaptureFixture[str], db: str, files: tuple[Path, Path], args: list[str], code: int, message: str
) -> None:
    args = [a.replace("{devices}", str(files[1])) for a in args]
    got, _, err = run(capsys, *args)
    assert got == code
    assert message in err and "Traceback" not in err


def test_exports(capsys: pytest.CaptureFixture[str], db: str, files: tuple[Path, Path], tmp_path: Path) -> None:
    sites, devices = files
    run(capsys, "sites", "import", str(sites))
    run(capsys, "import", str(devices))
    code, out, _ = run(capsys, "devices", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 3 and rows[1]["model"] == "=cmd|' /C calc'!A0"
    code, out, _ = run(capsys, "devices", "--format", "csv", "--site", "2")
    assert "'=cmd" in out and out.count("\n") == 3
    xlsx = tmp_path / "out.xlsx"
    assert run(capsys, "devices", "--format", "xlsx", "-o", str(xlsx))[0] == 0
    ws = openpyxl.load_workbook(xlsx).active
    assert ws.max_row == 4 and ws.freeze_panes == "A2" and ws.auto_filter.ref


def test_console_script_runs(tmp_path: Path) -> None:
    """The installed entry point (not just the function) works and exits non-zero on errors."""
    proc = subprocess.run(
        [sys.executable, "-m", "phaseout", "--db", str(tmp_path / "x.db"), "import", str(tmp_path / "nope.xlsx")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "no such file" in proc.stderr
