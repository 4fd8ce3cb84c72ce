"""Scans are written in batches across hosts (issue 17: ingest at thousands of hosts per
second): the number of statements does not grow with the hosts, a device created and matched
again within one scan is one device, and the answer-facts cache gives what parsing gives."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from sqlalchemy import event, func, select

from phaseout.app import Phaseout
from phaseout.discover.channels import Channel
from phaseout.discover.scanner import HostResult
from phaseout.identify.engine import Identifier
from phaseout.identify.facts import AnswerFacts, ObservationError, gather, gather_cached
from phaseout.store import Store
from phaseout.store.schema import devices, evidence, observations, scan_hosts
from tests.corpus_loader import device_record, load_manifest

ISAPI = (
    'HTTP/1.1 200 OK\r\n\r\n<?xml version="1.0" encoding="UTF-8"?><DeviceInfo><model>DS-2CD2043G0-I</model>'
    "<serialNumber>DS-2CD2043G0-I20240101CCWR{serial}</serialNumber>"
    "<firmwareVersion>V5.7.3</firmwareVersion></DeviceInfo>"
)
RTSP = 'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm="{serial}"'
PAGE = "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: text/html\r\n\r\n<title>DS-2CD2043G0-I</title>"


def _camera(ip: str, serial: str) -> HostResult:
    return HostResult(
        ip,
        ports=[80, 554],
        observations=[
            {"kind": "http", "port": 80, "tls": False, "raw": PAGE},
            {"kind": "http", "port": 80, "tls": False, "path": "/ISAPI", "raw": ISAPI.format(serial=serial)},
            {
                "kind": "rtsp",
                "port": 554,
                "raw": f'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm="{serial}"',
            },
        ],
    )


def _sweep(block: str, answering: int) -> tuple[list[HostResult], list[str]]:
    """``answering`` cameras at the start of ``block``, as many silent hosts after them."""
    addresses = [str(a) for a in ipaddress.ip_network(block).hosts()][: 2 * answering]
    cams = [_camera(ip, f"{int(ipaddress.ip_address(ip)):09d}") for ip in addresses[:answering]]
    return cams, addresses[answering:]


def _statements(store: Store, run: Any) -> int:
    count = 0

    def seen(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    return count


def test_statements_do_not_grow_with_the_hosts(db_url: str) -> None:
    with Store.open(db_url) as store:
        app = Phaseout(store)
        small, quiet_small = _sweep("127.42.0.0/24", 5)
        large, quiet_large = _sweep("127.43.0.0/22", 200)
        app.record_results(*_sweep("127.44.0.0/24", 3)[:1], targets=["127.44.0.0/24"])  # earlier scans exist
        few = _statements(
            store, lambda: app.record_results(small, targets=["127.42.0.0/24"], silent=quiet_small, ports=(80, 554))
        )
        many = _statements(
            store, lambda: app.record_results(large, targets=["127.43.0.0/22"], silent=quiet_large, ports=(80, 554))
        )
        assert many <= few + 2, (few, many)  # one host at a time cost several statements per host
        again = _statements(
            store, lambda: app.record_results(large, targets=["127.43.0.0/22"], silent=quiet_large, ports=(80, 554))
        )
        assert again <= few + 4, (few, again)  # a re-scan: 200 matched devices, still a few statements
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(devices)).scalar() == 3 + 5 + 200
            kept = select(func.count()).select_from(observations).where(observations.c.kind != "inventory")
            assert conn.execute(kept).scalar() == 3 * (3 + 5 + 200)  # the re-scan replaced, never piled up
            vendors = set(conn.execute(select(devices.c.vendor)).scalars())
            assert vendors == {"hikvision"}


def test_a_device_created_and_matched_again_in_one_scan_is_one_device(db_url: str) -> None:
    twin = [_camera("127.45.0.1", "J12345678"), _camera("127.45.0.2", "J12345678")]  # one serial, two addresses
    with Store.open(db_url) as store:
        record = Phaseout(store).record_results(twin, targets=["127.45.0.0/30"], ports=(80, 554))
        assert (record.hosts, record.created, record.updated, record.observations) == (2, 1, 1, 6)
        with store.engine.connect() as conn:
            ids = set(conn.execute(select(devices.c.id)).scalars())
            assert len(ids) == 1
            linked = set(conn.execute(select(scan_hosts.c.device_id)).scalars())
            assert linked == ids
            owners = set(conn.execute(select(observations.c.device_id)).scalars())
            assert owners == ids
            assert conn.execute(select(devices.c.ip)).scalar() == "127.45.0.1"  # the first host made it


@pytest.fixture(scope="module")
def corpus() -> list[list[dict[str, Any]]]:
    return [device_record(c, i)["observations"] for i, c in enumerate(load_manifest())]


def test_cached_facts_are_the_parsed_facts(corpus: list[list[dict[str, Any]]]) -> None:
    cache = AnswerFacts()
    pairs = [obs + other for obs, other in zip(corpus, corpus[1:] + corpus[:1], strict=True)]
    for answers in [*corpus, *pairs, *corpus]:  # misses, mixes, then hits
        assert gather_cached(answers, cache) == gather(answers)
    assert cache.hits > len(corpus) and cache.misses <= len(corpus)
    ident = Identifier()
    sample = pairs[:40]
    assert [ident.identify(a) for a in sample] == [ident.identify_facts(gather(a)) for a in sample]


def _outcome(run: Any) -> object:
    try:
        return run()
    except ObservationError as exc:
        return f"error: {exc}"


def test_the_cache_keeps_no_errors_and_no_ambiguous_answers() -> None:
    cache = AnswerFacts()
    bad = {"kind": "tls", "subject": 5}
    for _ in range(2):
        with pytest.raises(ObservationError):
            gather_cached([bad], cache)
    assert (cache.misses, cache.hits, len(cache._facts)) == (2, 0, 0)  # an error is never kept
    for odd in (
        {"kind": "http", "port": 80, "raw": ("HTTP/1.1 200 OK",)},  # a tuple: its JSON is a list's
        {"kind": "inventory", "fields": {"model": ["DS-2CD2043G0-I"]}},
        {"kind": "http", "port": 80, "raw": "HTTP/1.1 200 OK", "extra": {"a": [1]}},
    ):
        assert _outcome(lambda o=odd: gather_cached([o], cache)) == _outcome(lambda o=odd: gather([o]))
    assert len(cache._facts) == 0 and cache.misses == 2  # parsed every time, never cached


def test_the_cache_is_bounded() -> None:
    cache = AnswerFacts(entries=3, size=10_000)
    for n in range(10):
        gather_cached([{"kind": "banner", "port": 23, "raw": f"login {n}"}], cache)
        assert len(cache._facts) <= 3
    gather_cached([{"kind": "banner", "port": 23, "raw": "x" * 20_000}], cache)
    assert cache._bytes <= 20_100


def test_new_hosts_after_a_recorder_keep_ids_apart_from_its_cameras(db_url: str) -> None:
    """A recorder's cameras are written while the scan's later hosts wait with ids taken up
    front: they must never collide (SQLite numbers the cameras after the largest id)."""
    recorder = _camera("127.46.0.1", "NVR000001")
    recorder.channels = [
        Channel(n, address=f"192.0.2.{n}", model="DS-2CD2043G0-I", serial=f"CAM{n:06d}", online=True)
        for n in range(1, 4)
    ]
    recorder.channel_kinds = {"ip"}
    later = [_camera(f"127.46.0.{n}", f"{n:09d}") for n in range(2, 6)]
    with Store.open(db_url) as store:
        record = Phaseout(store).record_results([recorder, *later], targets=["127.46.0.0/29"], ports=(80, 554))
        assert (record.created, record.updated) == (5, 0)
        with store.engine.connect() as conn:
            rows = conn.execute(select(devices.c.id, devices.c.parent_id, devices.c.ip)).all()
            assert len(rows) == 5 + 3 and len({r.id for r in rows}) == 8
            nvr = next(r.id for r in rows if r.ip == "127.46.0.1")
            assert sorted(r.ip for r in rows if r.parent_id == nvr) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            hosts = dict(conn.execute(select(scan_hosts.c.ip, scan_hosts.c.device_id)).all())
            assert len(set(hosts.values())) == 5 and all(hosts[ip] != nvr for ip in hosts if ip != "127.46.0.1")


def _identification_columns(store: Store) -> dict[int, tuple[Any, ...]]:
    cols = [devices.c[c] for c in ("vendor", "label", "relation", "id_model", "id_type", "form_factor")]
    cols += [devices.c[c] for c in ("megapixels", "confidence", "evidence_key", "knowledge")]
    with store.engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(select(devices.c.id, *cols).order_by(devices.c.id))}


def test_new_devices_are_written_identified_as_identify_rows_would(
    db_url: str, corpus: list[list[dict[str, Any]]]
) -> None:
    """New devices that only their own host describes are identified before they are written;
    identifying every device again afterwards (the general path: rows and answers read back)
    changes nothing, whatever the answers (every real capture, an inventory-kind answer, a vantage,
    a host matched twice, a recorder with channels)."""
    from phaseout.store.identification import identify_rows

    hosts = [HostResult(f"10.77.{n // 200}.{n % 200 + 1}", ports=[80], observations=o) for n, o in enumerate(corpus)]
    hosts[0].observations = [*hosts[0].observations, {"kind": "inventory", "fields": {"model": "DS-2CD2043G0-I"}}]
    hosts.append(_camera("10.77.9.1", "111111111"))
    hosts.append(_camera("10.77.9.2", "111111111"))  # the same camera at two addresses: one device
    recorder = _camera("10.77.9.3", "NVR000009")
    recorder.channels = [Channel(number=1, address="10.77.9.4", model="DS-2CD2386G2-IU")]
    recorder.channel_kinds = {"ip"}
    hosts.append(recorder)
    with Store.open(db_url) as store:
        app = Phaseout(store, actor="test")
        for vantage in ("hq", None):
            app.record_results(hosts, targets=["10.77.0.0/16"], ports=(80, 554), vantage=vantage)
            stored = _identification_columns(store)
            assert len(stored) >= len(corpus) and all(v[0] is not None for v in stored.values())
            with store.engine.begin() as conn:
                identify_rows(conn, app.identifier, sorted(stored))
            assert _identification_columns(store) == stored
            with store.engine.connect() as conn:
                kept = set(conn.execute(select(evidence.c.key)).scalars())
            assert {v[8] for v in stored.values()} <= kept  # every evidence list was written


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_vantage_with_tens_of_thousands_of_scans_still_merges(db_url: str) -> None:
    """A collector per store scanning every night gives one vantage tens of thousands of scans
    within weeks.  The merge named every earlier scan's batch in one statement: past 32,766
    (SQLite) or 65,535 (PostgreSQL) parameters every merge failed.  It now asks each answer's
    own batch, so the number of earlier scans does not reach the statement."""
    import datetime as dt

    from sqlalchemy import insert, text

    from phaseout.store.schema import import_batches, scans

    many = 66_000 if "postgresql" in db_url else 33_000
    with Store.open(db_url) as store:
        app = Phaseout(store)
        app.record_results([_camera("127.46.0.1", "000000001")], targets=["127.46.0.1"], ports=(80, 554))
        at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        with store.engine.begin() as conn:  # earlier nightly scans of other stores, same (no) vantage
            first = int(conn.execute(select(func.max(import_batches.c.id))).scalar_one()) + 1
            rows = range(first, first + many)
            common = {"kind": "scan", "file_name": "scan", "checksum": "0" * 64, "status": "ok", "started_at": at}
            conn.execute(insert(import_batches), [{"id": b, **common} for b in rows])
            conn.execute(insert(scans), [{"batch_id": b, "status": "complete", "started_at": at} for b in rows])
            if conn.dialect.name == "postgresql":  # ids given by hand: move the sequence past them
                conn.execute(text("SELECT setval(pg_get_serial_sequence('import_batches', 'id'), :v)"), {"v": rows[-1]})
        again = _camera("127.46.0.1", "000000001")
        again.observations = again.observations[1:]  # the page no longer answers
        record = app.record_results([again], targets=["127.46.0.1"], ports=(80, 554))
        assert record.updated == 1 and record.created == 0
        with store.engine.connect() as conn:
            kinds = conn.execute(select(observations.c.kind).order_by(observations.c.id)).scalars().all()
        assert kinds == ["http", "rtsp"]  # the first scan's three answers replaced by these two
