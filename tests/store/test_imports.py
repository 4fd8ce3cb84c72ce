"""Imports against a real database (SQLite and PostgreSQL): merging, atomicity, evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.app.imports import ImportOptions
from phaseout.errors import DataError, UsageError
from phaseout.queries import records
from phaseout.queries.devices import DeviceQuery, count_devices, iter_devices
from phaseout.store import Store
from phaseout.store.schema import devices, sites

SITES_CSV = """Estate register
Store No,Store Name,Region,Sensitive?,Next Maintenance,Maintenance Cycle (months),Lat,Long
0001,Leeds Hyper,Yorkshire,No,01/03/2027,12,53.8,-1.55
0002,Camden Express,London,yes,2027-06-30,6,51.54,-0.14
DC01,Leeds DC,Yorkshire,Yes,,,,
"""

DEVICES_CSV = """Camera register,,,,,,
Store No,Make,Model No,MAC Address,IP Address,Serial No,Recorder,Camera Name
1,Hikvision,DS-7616NI-Q2/16P,28:57:BE:00:00:01,127.20.0.10,DS-7616NI-Q2/16P20200101CCWR1,,NVR 1
Store 0001,Hikvison,DS-2CD2143G2-I,28-57-be-00-00-02,127.20.0.11,DS-2CD2143G2-I20200101CCWR2,NVR 1,Entrance 1
0001,Axis,P3245-LVE,00408c000003,127.20.0.12,ACCC8E000003,NVR 1,Till 2
Camden Express,HiLook,IPC-B140H-M,,127.20.1.10,HL0004,,Door
"""


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store.open(db_url)
    yield s
    s.close()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _seed_sites(store: Store, tmp_path: Path) -> None:
    Phaseout(store).import_sites(_write(tmp_path, "sites.csv", SITES_CSV))


def test_sites_import_parses_and_updates(store: Store, tmp_path: Path) -> None:
    result, _ = Phaseout(store).import_sites(_write(tmp_path, "sites.csv", SITES_CSV))
    assert (result.created, result.updated, result.rows_bad) == (3, 0, 0)
    by_code = {s["code"]: s for s in records.list_sites(store.engine)}
    assert by_code["0002"]["sensitivity"] == "sensitive"
    assert by_code["0001"]["next_maintenance"].isoformat() == "2027-03-01"  # day first
    assert by_code["0002"]["maintenance_cycle_months"] == 6
    assert by_code["0001"]["latitude"] == pytest.approx(53.8)
    again, _ = Phaseout(store).import_sites(_write(tmp_path, "sites2.csv", "Store No,Region\n1,North\n"))
    assert (again.created, again.updated) == (0, 1)
    by_code = {s["code"]: s for s in records.list_sites(store.engine)}
    assert by_code["0001"]["region"] == "North"
    assert by_code["0001"]["name"] == "Leeds Hyper"  # untouched fields keep their values


def test_device_import_stores_devices_evidence_and_batch(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    path = _write(tmp_path, "cams.csv", DEVICES_CSV)
    result, _ = Phaseout(store).import_devices(path)
    assert (result.rows_total, result.rows_imported, result.created, result.updated) == (4, 4, 4, 0)
    assert result.sites_created == []  # "1", "Store 0001" and the name all resolve to existing sites
    rows = {
        r["mac"]: r
        for r in iter_devices(
            store.engine,
        )
    }
    assert rows["28:57:BE:00:00:02"]["site"] == "0001"
    assert rows["00:40:8C:00:00:03"]["manufacturer"] == "Axis"
    hilook = next(r for r in iter_devices(store.engine, DeviceQuery(text="IPC-B140H")))
    assert hilook["site"] == "0002"
    obs = records.device_observations(store.engine, rows["28:57:BE:00:00:02"]["id"])
    assert len(obs) == 1
    payload = json.loads(obs[0]["payload"])
    assert payload["kind"] == "inventory"
    assert payload["fields"]["manufacturer"] == "Hikvison"  # evidence kept as written
    assert obs[0]["source"] == "import:cams.csv#row=4"
    batch = records.list_batches(store.engine)[0]  # newest first; the sites import is the other
    assert batch["status"] == "ok" and batch["rows_imported"] == 4 and len(batch["checksum"]) == 64
    assert json.loads(batch["mapping"])["MAC Address"] == "mac"


def test_recorders_are_linked(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV))
    with store.engine.connect() as conn:
        parent = dict(conn.execute(select(devices.c.mac, devices.c.parent_id)).all())
        ids = dict(conn.execute(select(devices.c.mac, devices.c.id)).all())
    nvr = ids["28:57:BE:00:00:01"]
    assert parent["28:57:BE:00:00:02"] == nvr and parent["00:40:8C:00:00:03"] == nvr
    assert parent["28:57:BE:00:00:01"] is None


def test_reimport_merges_without_duplicates(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    path = _write(tmp_path, "cams.csv", DEVICES_CSV)
    Phaseout(store).import_devices(path)
    result, _ = Phaseout(store).import_devices(path)
    assert (result.created, result.updated) == (0, 4)
    assert store.counts()["devices"] == 4
    assert store.counts()["observations"] == 8  # every sighting is kept


def test_updated_file_merges_by_mac_then_serial_then_site_ip(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV))
    update = """Site,MAC,Serial,IP,Firmware,Model
0001,28:57:BE:00:00:01,,127.20.0.99,V4.62.210 build 230619,
0001,,ACCC8E000003,,10.12.199,
0002,,,127.20.1.10,V5.5.800 build 210628,
0002,,,127.20.1.11,,New camera
"""
    result, _ = Phaseout(store).import_devices(_write(tmp_path, "update.csv", update))
    assert (result.created, result.updated) == (1, 3)
    rows = {
        r["id"]: r
        for r in iter_devices(
            store.engine,
        )
    }
    nvr = next(r for r in rows.values() if r["mac"] == "28:57:BE:00:00:01")
    assert nvr["ip"] == "127.20.0.99" and nvr["firmware"] == "V4.62.210 build 230619"
    assert nvr["model"] == "DS-7616NI-Q2/16P"  # blank cells never erase known values
    axis = next(r for r in rows.values() if r["serial"] == "ACCC8E000003")
    assert axis["firmware"] == "10.12.199" and axis["mac"] == "00:40:8C:00:00:03"
    hilook = next(r for r in rows.values() if r["ip"] == "127.20.1.10")
    assert hilook["firmware"] == "V5.5.800 build 210628" and hilook["model"] == "IPC-B140H-M"
    assert len(rows) == 5


def test_bad_rows_refuse_the_whole_import_and_change_nothing(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV))
    before = store.table_rows(["sites", "devices", "observations"])
    bad = DEVICES_CSV + "0001,Dahua,IPC-HDW2431T-AS,2.85712E+11,,,,\n0002,Dahua,X,,not-an-ip!,,,\n"
    with pytest.raises(DataError) as info:
        Phaseout(store).import_devices(_write(tmp_path, "bad.csv", bad))
    assert [e.row for e in info.value.row_errors] == [7, 8]
    assert "nothing was imported" in info.value.message
    assert store.table_rows(["sites", "devices", "observations"]) == before
    failed = records.list_batches(store.engine)[0]
    assert failed["status"] == "failed" and failed["rows_bad"] == 2


def test_skip_bad_imports_the_rest(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    bad = DEVICES_CSV + "0001,Dahua,IPC-HDW2431T-AS,2.85712E+11,,,,\n"
    result, _ = Phaseout(store).import_devices(_write(tmp_path, "bad.csv", bad), ImportOptions(skip_bad=True))
    assert (result.status, result.rows_imported, result.rows_bad) == ("partial", 4, 1)
    assert store.counts()["devices"] == 4


def test_unknown_sites_are_created_and_reported(store: Store, tmp_path: Path) -> None:
    result, _ = Phaseout(store).import_devices(_write(tmp_path, "c.csv", "Site,Make,Model\nNew Store 9,Axis,M3106\n"))
    assert result.sites_created == ["New Store 9"]
    assert [s["code"] for s in records.list_sites(store.engine)] == ["New Store 9"]


def test_site_option(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    path = _write(tmp_path, "store2.csv", "Make,Model,MAC\nAxis,M3106,00:40:8C:00:00:09\n")
    with pytest.raises(UsageError, match="no site column"):
        Phaseout(store).import_devices(path)
    with pytest.raises(UsageError, match="no site 'Nowhere'"):
        Phaseout(store).import_devices(path, ImportOptions(site="Nowhere"))
    Phaseout(store).import_devices(path, ImportOptions(site="Store 2"))
    assert (
        next(
            iter_devices(
                store.engine,
            )
        )["site"]
        == "0002"
    )


def test_ambiguous_site_name_is_a_row_error(store: Store, tmp_path: Path) -> None:
    Phaseout(store).import_sites(_write(tmp_path, "s.csv", "Code,Name\nA1,Leeds Express\nA2,Leeds Express\n"))
    with pytest.raises(DataError, match="several sites"):
        Phaseout(store).import_devices(_write(tmp_path, "c.csv", "Site,Make,Model\nLeeds Express,Axis,M3106\n"))


def test_second_import_allocates_fresh_ids(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "a.csv", DEVICES_CSV))
    Phaseout(store).import_devices(
        _write(tmp_path, "b.csv", "Site,Make,Model,MAC\n0001,Bosch,NDE-5503-AL,00:04:63:00:00:01\n")
    )
    Phaseout(store).import_sites(_write(tmp_path, "s.csv", "Code,Name\nZ9,New\n"))  # single-row insert after bulk ids
    with store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(devices.c.id).order_by(devices.c.id))]
        codes = [r[0] for r in conn.execute(select(sites.c.code))]
    assert ids == [1, 2, 3, 4, 5]
    assert "Z9" in codes


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    result, _ = Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV), ImportOptions(dry_run=True))
    assert result.status == "dry-run" and result.rows_imported == 4 and len(result.preview) == 4
    assert set(store.counts().values()) == {0}


def test_device_filters(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV))
    assert count_devices(store.engine, DeviceQuery(site="0001")) == 3
    assert count_devices(store.engine, DeviceQuery(reported_maker="AXIS")) == 1
    assert count_devices(store.engine, DeviceQuery(reported_type="unknown")) == 4
    assert count_devices(store.engine, DeviceQuery(text="ds-2cd")) == 1
    assert count_devices(store.engine, DeviceQuery(text="%")) == 0  # LIKE wildcards are literal
    assert next(r["site"] for r in iter_devices(store.engine, sort="site", descending=True)) == "0002"


def test_same_file_twice_is_noted(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    path = _write(tmp_path, "cams.csv", DEVICES_CSV)
    first, _ = Phaseout(store).import_devices(path)
    again, _ = Phaseout(store).import_devices(path)
    assert first.same_file_as is None and again.same_file_as == first.batch_id


def test_hostile_cell_values_are_stored_as_text(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    long_note = "x" * 100_000
    text = f'Site,Make,Model,Notes\n1,"<script>alert(1)</script>","=HYPERLINK(""http://evil"")","{long_note}"\n'
    Phaseout(store).import_devices(_write(tmp_path, "evil.csv", text))
    row = next(
        iter_devices(
            store.engine,
        )
    )
    assert row["manufacturer"] == "<script>alert(1)</script>"
    assert row["model"] == '=HYPERLINK("http://evil")'
    assert len(row["description"]) == 2000  # cells are capped on read


def test_devices_are_identified_on_import_with_evidence(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV))
    rows = {
        r["mac"]: r
        for r in iter_devices(
            store.engine,
        )
    }
    hik = rows["28:57:BE:00:00:02"]  # written "Hikvison"
    assert (hik["vendor"], hik["label"], hik["id_type"], hik["form_factor"], hik["megapixels"]) == (
        "hikvision",
        "Hikvision",
        "camera",
        "dome",
        4,
    )
    hilook = next(r for r in rows.values() if r["model"] == "IPC-B140H-M")
    assert (hilook["vendor"], hilook["label"], hilook["relation"]) == ("hikvision", "HiLook", "sub-brand")
    assert rows["00:40:8C:00:00:03"]["vendor"] == "axis"
    assert count_devices(store.engine, DeviceQuery(vendor="hikvision")) == 3
    rules = {e["rule"] for e in records.device_evidence(store.engine, hik["id"])}
    assert {"name:hikvision", "hikvision.ipc.ds-2cd", "oui:2857BE"} <= rules


def test_merged_devices_are_identified_from_merged_fields(store: Store, tmp_path: Path) -> None:
    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "a.csv", "Site,MAC,Model\n0001,00:11:22:33:44:55,\n"))
    assert (
        next(
            iter_devices(
                store.engine,
            )
        )["vendor"]
        == "unknown"
    )
    Phaseout(store).import_devices(_write(tmp_path, "b.csv", "Site,MAC,Model\n0001,00:11:22:33:44:55,DS-2CD2143G2-I\n"))
    assert (
        next(
            iter_devices(
                store.engine,
            )
        )["vendor"]
        == "hikvision"
    )


def test_stale_identifications_are_redone(store: Store, tmp_path: Path) -> None:

    _seed_sites(store, tmp_path)
    Phaseout(store).import_devices(_write(tmp_path, "cams.csv", DEVICES_CSV))
    from phaseout.store.identification import record_version

    with store.engine.begin() as conn:  # as if identified by an older version of the knowledge
        conn.execute(devices.update().values(knowledge="old", vendor=None))
        record_version(conn, "old")
    assert Phaseout(store).reidentify() == 4
    assert Phaseout(store).reidentify() == 0
    assert count_devices(store.engine, DeviceQuery(vendor="hikvision")) == 3
