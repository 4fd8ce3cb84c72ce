"""``phaseout import FILE`` for other tools' exports, end to end: devices stored with their
answers as observations and identified from them, one transaction, no duplicates on
re-import, bad records reported by position with nothing written."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from phaseout.app import Phaseout
from phaseout.cli import app
from phaseout.errors import DataError, InputFileError, UsageError
from phaseout.ingest.formats.registry import by_name, detect
from phaseout.store.schema import devices, observations
from phaseout.store.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def _counts(store: Store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(devices)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(observations)).scalar_one()),
        )


def test_nmap_hosts_stored_with_answers_and_reimport_does_not_duplicate(store: Store) -> None:
    path = DATA / "nmap" / "full_sudo6.xml"
    first = Phaseout(store).import_source(path, detect(path))
    assert (first.created, first.updated, first.rows_bad) == (4, 0, 0)
    after_first = _counts(store)
    second = Phaseout(store).import_source(path, detect(path))
    assert (second.created, second.updated) == (0, 4) and second.same_file_as == first.batch_id
    devices_now, obs_now = _counts(store)
    assert devices_now == 4
    # the same file's answers are replaced, not added again (one more inventory row per device)
    assert obs_now == after_first[1] + 4
    with store.engine.connect() as conn:
        sources = set(conn.execute(select(observations.c.source).where(observations.c.kind == "tls")).scalars())
    assert sources == {"nmap:full_sudo6.xml#host 253 (192.168.1.1)"}


def test_identification_uses_the_answers(store: Store) -> None:
    path = DATA / "go2rtc" / "isapi_readme.yaml"
    Phaseout(store).import_source(path, detect(path), site="12")
    with store.engine.connect() as conn:
        row = conn.execute(select(devices.c.vendor, devices.c.ip, devices.c.device_type)).one()
    assert row.vendor == "hikvision" and row.ip == "192.168.1.123" and row.device_type == "camera"


def test_cameras_linked_to_their_recorder_within_the_file(store: Store, tmp_path: Path) -> None:
    # a VMS camera report whose camera names its recorder (listed in the same file) by IP
    vms = tmp_path / "cams.csv"
    vms.write_text(
        '"Name","HardwareName","Model","Address","MAC","Firmware","DriverFamily","RecorderName"\n'
        '"NVR","NVR","DS-7608NI-K2/8P","http://192.0.2.65/","C056E3AABBCC","V4.30","Hikvision","-"\n'
        '"Cam 1","Cam 1","DS-2CD2143G2-I","http://192.0.2.64/","2857BE123456","V5.7.3","Hikvision","192.0.2.65"\n'
    )
    result = Phaseout(store).import_source(vms, detect(vms), site="12")
    assert result.parents_unresolved == 0
    with store.engine.connect() as conn:
        parent_of = {r[0]: r[1] for r in conn.execute(select(devices.c.ip, devices.c.parent_id))}
        id_of = {r[0]: r[1] for r in conn.execute(select(devices.c.ip, devices.c.id))}
    assert parent_of["192.0.2.64"] == id_of["192.0.2.65"]


def test_merges_with_a_spreadsheet_device_by_mac_and_keeps_its_site(store: Store, tmp_path: Path) -> None:
    from phaseout.app.imports import ImportOptions

    sheet = tmp_path / "inv.csv"
    sheet.write_text("Store,Make,Model,MAC\n12,Hikvision,DS-2CD2143G2-I,28:57:BE:12:34:56\n")
    Phaseout(store).import_devices(sheet, ImportOptions())
    path = DATA / "listing" / "arp_scan_from_docs.txt"
    result = Phaseout(store).import_source(path, detect(path))
    assert result.updated == 1 and result.created == 2
    with store.engine.connect() as conn:
        row = conn.execute(select(devices.c.site_id, devices.c.ip).where(devices.c.mac == "28:57:BE:12:34:56")).one()
    assert row.site_id is not None and row.ip == "192.0.2.64"


def test_bad_record_refuses_the_whole_file_and_skip_bad_keeps_the_good(store: Store, tmp_path: Path) -> None:
    good = '{"ip_str": "192.0.2.9", "port": 80, "data": "HTTP/1.1 200 OK\\r\\nServer: App-webs/\\r\\n\\r\\n"}'
    path = tmp_path / "banners.json"
    path.write_text(good + "\n{broken\n")
    with pytest.raises(DataError, match=r"1 of 2 records .* line 2") as err:
        Phaseout(store).import_source(path, by_name("shodan"))
    assert err.value.row_errors[0].reason.startswith("line 2:")
    assert _counts(store) == (0, 0)
    result = Phaseout(store).import_source(path, by_name("shodan"), skip_bad=True)
    assert (result.status, result.created, result.rows_bad) == ("partial", 1, 1)


def test_truncated_file_writes_nothing(store: Store, tmp_path: Path) -> None:
    text = (DATA / "nmap" / "full_sudo6.xml").read_text()
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: int(len(text) * 0.8)])
    with pytest.raises(Exception, match="XML broken"):
        Phaseout(store).import_source(cut, by_name("nmap"))
    assert _counts(store) == (0, 0)


def test_device_type_library_is_listed_not_stored(store: Store) -> None:
    path = DATA / "netbox-devicetype" / "DS-2CD2143G2-I.yaml"
    with pytest.raises(UsageError, match="model knowledge"):
        Phaseout(store).import_source(path, detect(path))
    listed = Phaseout(store).import_source(path, detect(path), dry_run=True)
    assert listed.preview == [
        {"manufacturer": "Hikvision", "model": "DS-2CD2143G2-I", "source": path.name + "#document 1"}
    ]
    assert _counts(store) == (0, 0)


def test_dry_run_writes_nothing(store: Store) -> None:
    path = DATA / "milestone" / "camera_report_from_docs.csv"
    result = Phaseout(store).import_source(path, detect(path), dry_run=True)
    assert result.status == "dry-run" and result.rows_imported == 3 and len(result.preview) == 3
    assert _counts(store) == (0, 0)


def test_cli_lists_formats_and_imports_with_detection(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["import", "--formats"])
    assert listed.exit_code == 0
    for name in ("nmap", "nessus", "openvas", "runzero", "shodan", "censys", "milestone", "sadp", "dhcpd-leases"):
        assert name in listed.stdout
    db = str(tmp_path / "p.db")
    scan = tmp_path / "scan.xml"
    shutil.copy(DATA / "nmap" / "full_sudo6.xml", scan)
    done = runner.invoke(app, ["--db", db, "import", str(scan)])
    assert done.exit_code == 0, done.stdout
    assert "format: nmap" in done.stdout
    out = runner.invoke(app, ["--db", db, "devices", "--format", "jsonl"])
    assert len([json.loads(line) for line in out.stdout.splitlines() if line.strip()]) == 4
    forced = runner.invoke(app, ["--db", db, "import", str(scan), "--format", "listing"])
    assert forced.exit_code == 0 and "format: listing" in forced.stdout  # --format wins over detection
    unknown = tmp_path / "x.bin"
    unknown.write_text("nothing here\n")
    refused = runner.invoke(app, ["--db", db, "import", str(unknown)])
    assert isinstance(refused.exception, InputFileError) and refused.exception.exit_code == 3
    assert "closest" in str(refused.exception)
