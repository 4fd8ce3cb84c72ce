"""CLI listings at 80 and 200 columns: key columns (ids, IPs, MACs, SKUs, timestamps, pack ids)
are never cut, data is printed literally (no emoji from ``:ab:`` in a MAC, no markup from
``[bold]``), and --format csv|jsonl gives scripts every row."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from phaseout.cli import render
from tests.support import run_main

SITES = "Store No,Store Name,Region,Sensitive?\n1,Leeds Hyper,Yorkshire,no\n2,Camden,London,yes\n"
# MACs with :ab: and :cd: (Rich turns those into emoji unless told not to); a model that is markup
DEVICES = (
    "Store,Make,Model No,MAC Address,IP,Serial,Description\n"
    "1,Hikvision,DS-2CD2143G2-I,00:40:8C:AB:CD:EF,127.20.0.1,S1,Camera over the loading bay door\n"
    "2,Axis,[bold]P3245[/bold],00:40:8c:ab:cd:01,127.20.0.2,S2,Entrance\n"
    "2,Dahua,IPC-HFW3549T1-AS-PV-0280B-S3,3C:EF:8C:AB:00:03,127.200.200.203,S3,Till 4 — very long description text\n"
)


run = run_main  # the shared in-process runner (tests/support.py)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "cli.db")
    monkeypatch.setenv("PHASEOUT_DB", path)
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    devices = tmp_path / "devices.csv"
    devices.write_text(DEVICES, encoding="utf-8")
    assert run(capsys, "sites", "import", str(sites))[0] == 0
    assert run(capsys, "import", str(devices))[0] == 0
    return path


def width_of(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """The terminal width the CLI sees (tests/conftest.py gives the consoles 200 at import)."""
    from phaseout.cli.common import console

    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(console, "_width", width)


def _rows(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    code, out, _ = run(capsys, *args, "--format", "csv")
    assert code == 0
    return list(csv.DictReader(io.StringIO(out)))


@pytest.mark.parametrize("width", [80, 200])
def test_devices_keeps_key_columns_whole(
    db: str, width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows(capsys, "devices")
    width_of(monkeypatch, width)
    code, out, _ = run(capsys, "devices")
    assert code == 0
    assert all(len(line) <= width for line in out.splitlines()), [
        line for line in out.splitlines() if len(line) > width
    ]
    for row in rows:
        for key in ("id", "ip", "mac"):
            assert re.search(rf"(^|\s){re.escape(row[key])}(\s|$)", out, re.M), (key, row[key], out)
    assert "🆎" not in out and "00:40:8C:AB:CD:EF" in out
    if width == 80:
        assert "not shown at 80 columns" in out
    else:
        assert "[bold]P3245[/bold]" in out  # markup from data shown as typed
        assert "not shown" not in out


def test_wide_shows_every_column_at_80(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    width_of(monkeypatch, 80)
    code, out, _ = run(capsys, "devices", "--wide")
    assert code == 0 and "maker as written" in out and "confidence" in out and "[bold]P3245[/bold]" in out


@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (("imports",), ("batch", "sha256")),
        (("policy", "list"), ("id",)),
        (("audit",), ("id", "action")),
        (("plan", "catalogue"), ("sku", "price")),
        (("sites", "list"), ("code",)),
    ],
)
@pytest.mark.parametrize("width", [80, 200])
def test_listings_fit_and_keep_keys(
    db: str,
    args: tuple[str, ...],
    keys: tuple[str, ...],
    width: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = _rows(capsys, *args)
    assert rows
    width_of(monkeypatch, width)
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert all(len(line) <= width for line in out.splitlines()), [
        line for line in out.splitlines() if len(line) > width
    ]
    for row in rows:
        for key in keys:
            value = row[key]
            if key == "sha256":
                value = value[:12]
            if key == "price":
                value = f"{float(value):,.2f}"
            assert value in out, (args, key, value)


def test_jsonl_keeps_values_exactly(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sites", "list", "--format", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert {line["code"] for line in lines} == {"0001", "0002"} or len(lines) == 2
    assert isinstance(lines[0]["devices"], int)


def test_render_listing_literal_and_fitted() -> None:
    cols = [
        render.Column("id", key=True),
        render.Column("mac", key=True),
        render.Column("note"),
        render.Column("extra"),
    ]
    rows = [[1, "00:40:8C:AB:CD:EF", "[red]not red[/red] :ab: :smile:", "x" * 60]]
    buf = io.StringIO()
    render.listing("t", cols, rows, out=Console(file=buf, width=40, emoji=True, highlight=True))
    text = buf.getvalue()
    assert "00:40:8C:AB:CD:EF" in text and "🆎" not in text and "😄" not in text
    assert "[red]not" in text  # markup kept as typed
    assert "extra" in text.split("not shown at 40 columns:")[1]
    wide = io.StringIO()
    render.listing("t", cols, rows, out=Console(file=wide, width=40), wide=True)
    assert "x" * 60 in wide.getvalue()


@pytest.mark.parametrize("args", [("audit",), ("imports",), ("sites", "list"), ("devices",), ("policy", "list")])
def test_jsonl_and_csv_give_the_same_rows(db: str, args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    """Every listing's jsonl is one JSON object per row, as many as its csv (``audit -f jsonl``
    once crashed on SQLAlchemy's str-subclass column names)."""
    code, out, err = run(capsys, *args, "--format", "jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and all(isinstance(line, dict) for line in lines)
    assert len(lines) == len(_rows(capsys, *args))


def test_site_is_read_as_imports_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``devices --site 12`` finds site ``0012``, as ``import --site 12`` does; by name too; an
    unknown site is an error that says where the codes are, not an empty list."""
    monkeypatch.setenv("PHASEOUT_DB", str(tmp_path / "cli.db"))
    sites = tmp_path / "sites.csv"
    sites.write_text("Code,Name\n0012,Leeds Hyper\n0120,Camden\n", encoding="utf-8")
    devices = tmp_path / "devices.csv"
    devices.write_text("Site,Make,Model,MAC\n0012,Hikvision,DS-2CD2143G2-I,00:11:22:33:44:12\n", encoding="utf-8")
    assert run(capsys, "sites", "import", str(sites))[0] == 0
    assert run(capsys, "import", str(devices))[0] == 0
    for ref in ("0012", "12", "Store 12", "leeds hyper"):
        code, out, _err = run(capsys, "devices", "--site", ref, "-f", "jsonl")
        assert code == 0, ref
        assert [json.loads(line)["site"] for line in out.splitlines()] == ["0012"], ref
    code, _out, err = run(capsys, "devices", "--site", "99")
    assert code == 2 and "no site '99'" in err and "sites list" in err
