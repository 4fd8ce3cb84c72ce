"""Saved scans, jobs and collector uploads on SQLite and PostgreSQL: safe concurrent claims,
leases that run out, scheduled jobs made once, uploads merged once and refused whole."""

from __future__ import annotations

import datetime as dt
import threading

import orjson
import pytest
from sqlalchemy import func, select

from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.discover.collector import wire
from phaseout.discover.scanner import HostResult
from phaseout.errors import UsageError
from phaseout.store import Store
from phaseout.store import collectors as db
from phaseout.store.audit import verify_chain
from phaseout.store.schema import devices, events, scan_jobs, scans


@pytest.fixture
def app(db_url: str):  # type: ignore[no-untyped-def]
    with Store.open(db_url) as store:
        yield Phaseout(store, actor="test")


def _collector(app: Phaseout, name: str = "store-1", scope: str = "10.1.0.0/24") -> dict:  # type: ignore[type-arg]
    code = use.new_code(app, name, ["S001"], [scope])
    token, _found = use.enrol(app, code, "test")
    found = use.authenticate(app, token)
    assert found is not None
    return found


def test_enrolment_code_is_one_time_and_hashed(app: Phaseout) -> None:
    code = use.new_code(app, "store-1", ["S001"], ["10.1.0.0/24"])
    with app.engine.connect() as conn:
        stored = conn.exec_driver_sql("select code_hash from collectors").scalar()
    assert stored == db.digest(code) and code not in stored
    token, found = use.enrol(app, code, "0.1.0")
    assert found["name"] == "store-1" and found["scopes"] == ["10.1.0.0/24"]
    with pytest.raises(use.Refused, match="unknown, used or expired"):
        use.enrol(app, code, "0.1.0")
    assert use.authenticate(app, token)["name"] == "store-1"  # type: ignore[index]
    assert use.authenticate(app, token + "x") is None
    expired = use.new_code(app, "store-2", [], ["10.2.0.0/24"], hours=1)
    with app.engine.begin() as conn:
        conn.execute(db.collectors.update().values(code_expires_at=db.now_utc() - dt.timedelta(minutes=1)))
    with pytest.raises(use.Refused):
        use.enrol(app, expired, "0.1.0")
    db.revoke(app.engine, "store-1", "test")
    assert use.authenticate(app, token) is None


def test_concurrent_claims_hand_each_job_out_once(app: Phaseout) -> None:
    use.define(app, use.Definition("d0", ["10.9.0.1"], ["10.9.0.0/24"], [80]))
    with app.engine.begin() as conn:
        row = conn.execute(select(db.scan_definitions)).one()
        for _ in range(30):
            conn.execute(
                scan_jobs.insert().values(
                    definition_id=row.id, spec="{}", status="pending", reason="manual", created_at=db.now_utc()
                )
            )
    got: list[int] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        while (job := db.claim(app.engine, None, f"claimer-{n}")) is not None:
            with lock:
                got.append(job["id"])

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 30 and len(set(got)) == 30


def test_a_dead_claimers_lease_runs_out_and_the_job_is_offered_again(app: Phaseout) -> None:
    use.define(app, use.Definition("d1", ["10.9.0.1"], ["10.9.0.0/24"], [80]))
    job = db.enqueue_named(app.engine, "d1")
    first = db.claim(app.engine, None, "dies", lease=dt.timedelta(seconds=0))
    assert first is not None and first["id"] == job
    again = db.claim(app.engine, None, "lives")
    assert again is not None and again["id"] == job and again["attempts"] == 2 and again["claimed_by"] == "lives"
    assert db.claim(app.engine, None, "third") is None  # the live lease holds
    assert db.enqueue_named(app.engine, "d1") is None  # one open job per definition


def test_scheduled_jobs_are_made_once_per_due_time(app: Phaseout) -> None:
    use.define(app, use.Definition("every", ["10.9.0.1"], ["10.9.0.0/24"], [80], schedule="every 1h"))
    use.define(app, use.Definition("manual", ["10.9.0.2"], ["10.9.0.0/24"], [80]))
    made = use.enqueue_due(app)
    assert len(made) == 1 and use.enqueue_due(app) == []  # the open job stops a pile-up
    job = db.claim(app.engine, None, "x")
    assert job is not None
    db.finish_job(app.engine, job["id"], "done", actor="test")
    assert use.enqueue_due(app) == []  # an hour has not passed
    with app.engine.begin() as conn:
        conn.execute(db.scan_definitions.update().values(last_run_at=db.now_utc() - dt.timedelta(hours=2)))
    assert len(use.enqueue_due(app)) == 1


def test_definitions_for_a_collector_must_lie_in_its_scopes(app: Phaseout) -> None:
    _collector(app)
    with pytest.raises(use.Refused, match="outside collector store-1's scopes"):
        use.define(app, use.Definition("far", ["10.2.0.0/24"], ["10.0.0.0/8"], [80], collector="store-1"))
    with pytest.raises(use.Refused, match="site S999"):
        use.define(app, use.Definition("s", ["10.1.0.0/28"], ["10.1.0.0/24"], [80], site="S999", collector="store-1"))
    with pytest.raises(UsageError, match="outside the declared scope"):
        use.define(app, use.Definition("x", ["10.3.0.1"], ["10.1.0.0/24"], [80]))
    use.define(app, use.Definition("near", ["10.1.0.0/28"], ["10.1.0.0/24"], [80], collector="store-1"))


def test_a_job_outside_the_collectors_scopes_is_refused_when_claimed(app: Phaseout) -> None:
    collector = _collector(app)
    use.define(app, use.Definition("near", ["10.1.0.0/28"], ["10.1.0.0/24"], [80], collector="store-1"))
    job = db.enqueue_named(app.engine, "near")
    with app.engine.begin() as conn:  # someone edits the job behind the server's back
        conn.execute(scan_jobs.update().values(spec=orjson.dumps({"targets": ["10.7.0.1"], "ports": [80]}).decode()))
    assert use.claim_for(app, collector) is None
    assert db.job(app.engine, job)["status"] == "refused"  # type: ignore[index]


def _upload(job_id: int, upload_id: str, ips: list[str], silent: list[str] = ()) -> bytes:  # type: ignore[assignment]
    hosts = [
        HostResult(
            ip,
            ports=[80],
            observations=[
                {"kind": "http", "port": 80, "tls": False, "raw": "HTTP/1.1 200 OK\r\nServer: App-webs/\r\n\r\n"}
            ],
        )
        for ip in ips
    ]
    return wire.encode_upload(upload_id, job_id, hosts, list(silent), False)


def _counts(app: Phaseout) -> tuple[int, int]:
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(scans)).scalar_one(), conn.execute(
            select(func.count()).select_from(devices)
        ).scalar_one()


def test_an_upload_is_merged_once_through_the_scan_path(app: Phaseout) -> None:
    collector = _collector(app)
    use.define(app, use.Definition("near", ["10.1.0.0/28"], ["10.1.0.0/24"], [80], site="S001", collector="store-1"))
    db.enqueue_named(app.engine, "near")
    job = use.claim_for(app, collector)
    assert job is not None
    body = _upload(job["id"], "u" * 32, ["10.1.0.5", "10.1.0.6"], ["10.1.0.7"])
    first = use.ingest(app, collector, body)
    assert first["status"] == "merged" and first["hosts"] == 2 and first["created"] == 2
    again = use.ingest(app, collector, body)
    assert again == {"status": "duplicate", "upload_id": "u" * 32, "scan_id": first["scan_id"]}
    assert _counts(app) == (1, 2)
    stored = db.job(app.engine, job["id"])
    assert stored["status"] == "done" and stored["scan_id"] == first["scan_id"]  # type: ignore[index]
    with app.engine.connect() as conn:
        scan = conn.execute(select(scans)).one()
        assert scan.site_code == "S001" and scan.status == "complete" and scan.hosts_probed == 3
    # another upload for the finished job is refused (a replay with a new id)
    with pytest.raises(use.Refused, match="is done"):
        use.ingest(app, collector, _upload(job["id"], "v" * 32, ["10.1.0.5"]))


def test_uploads_outside_scopes_or_for_others_are_refused_whole_and_audited(app: Phaseout) -> None:
    one = _collector(app)
    two = _collector(app, "store-2", "10.2.0.0/24")
    use.define(app, use.Definition("near", ["10.1.0.0/28"], ["10.1.0.0/24"], [80], collector="store-1"))
    db.enqueue_named(app.engine, "near")
    job = use.claim_for(app, one)
    assert job is not None
    with pytest.raises(wire.UploadError, match="outside this collector's scopes"):
        use.ingest(app, one, _upload(job["id"], "a" * 32, ["10.1.0.5", "10.2.0.5"]))
    with pytest.raises(wire.UploadError, match="not among the job's targets"):
        use.ingest(app, one, _upload(job["id"], "b" * 32, ["10.1.0.100"]))
    with pytest.raises(use.Refused, match="not this collector's"):
        use.ingest(app, two, _upload(job["id"], "c" * 32, ["10.1.0.5"]))
    with pytest.raises(wire.UploadError, match="not JSON"):
        use.ingest(app, one, b"{oops")
    assert _counts(app) == (0, 0)  # nothing partially merged
    with app.engine.connect() as conn:
        refused = conn.execute(select(func.count()).where(events.c.action == "collector.upload-refused")).scalar_one()
        assert refused == 4
        assert verify_chain(conn).ok
    assert db.job(app.engine, job["id"])["status"] == "claimed"  # type: ignore[index]  # still open for a good upload
    assert use.ingest(app, one, _upload(job["id"], "d" * 32, ["10.1.0.5"]))["status"] == "merged"
