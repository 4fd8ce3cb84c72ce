"""``/api/collector`` and the admins' collectors page: credentials checked before any body is
read, uploads capped, malformed JSON refused with a reason, the page for admins only with CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.store import Store
from phaseout.store import collectors as db
from phaseout.store.users import add_user
from phaseout.web.app import create_app

from .conftest import PASSWORDS, login


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, Phaseout]]:
    with Store.open(str(tmp_path / "c.db")) as store:
        add_user(store.engine, "ada", "admin", PASSWORDS["ada"])
        add_user(store.engine, "vic", "viewer", PASSWORDS["vic"])
        with TestClient(create_app(store.engine, warm=False), base_url="http://127.0.0.1") as client:
            yield client, Phaseout(store, actor="test")


def _enrolled(client: TestClient, app: Phaseout) -> dict[str, str]:
    code = use.new_code(app, "store-9", ["S009"], ["10.9.0.0/24"])
    r = client.post("/api/collector/enrol", json={"code": code, "version": "0.1.0"})
    assert r.status_code == 200, r.text
    assert r.json()["scopes"] == ["10.9.0.0/24"]
    return {"Authorization": f"Bearer {r.json()['token']}", "X-Phaseout-Version": "9.9", "X-Phaseout-Queue": "3"}


def test_enrol_claim_and_contact(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    assert client.post("/api/collector/enrol", json={"code": "pe_nope"}).status_code == 403
    assert client.post("/api/collector/enrol", content=b"{").status_code == 400
    headers = _enrolled(client, app)
    use.define(app, use.Definition("s9", ["10.9.0.0/28"], ["10.9.0.0/24"], [80], collector="store-9"))
    db.enqueue_named(app.engine, "s9")
    r = client.post("/api/collector/claim", json={"health": {"host": "pi"}}, headers=headers)
    assert r.status_code == 200 and r.json()["job"]["spec"]["targets"] == ["10.9.0.0/28"]
    assert client.post("/api/collector/claim", json={}, headers=headers).json()["job"] is None
    (row,) = db.list_collectors(app.engine)
    assert (row["version"], row["queue_length"], row["health"]) == ("9.9", 3, {})  # the last call sent no health
    assert row["last_contact"] is not None


def test_calls_without_a_collector_credential_are_refused_before_the_body(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    assert client.post("/api/collector/uploads", content=b"x" * 100).status_code == 401
    # a user's session or API token is not a collector's credential
    login(client, "ada")
    assert client.post("/api/collector/claim", json={}).status_code == 401
    headers = _enrolled(client, app)
    db.revoke(app.engine, "store-9", "test")
    r = client.post("/api/collector/claim", json={}, headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_uploads_capped_and_malformed_refused_with_a_reason(
    fresh: tuple[TestClient, Phaseout], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    r = client.post("/api/collector/uploads", content=b"{not json", headers=headers)
    assert r.status_code == 400 and "not JSON" in r.json()["detail"]
    r = client.post(
        "/api/collector/uploads", content=orjson.dumps({"upload_id": "x" * 32, "job_id": 5}), headers=headers
    )
    assert r.status_code == 403 and "not this collector's" in r.json()["detail"]
    client.app.state.collector_limits = (8192, 1000)  # type: ignore[attr-defined]
    r = client.post("/api/collector/uploads", content=b"{" + b" " * 2000 + b"}", headers=headers)
    assert r.status_code == 413


def test_the_collectors_page_is_for_admins_and_revoke_needs_csrf(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    _enrolled(client, app)
    login(client, "vic")
    assert client.get("/collectors").status_code == 403
    client.post("/logout", data={})
    client.cookies.clear()
    csrf = login(client, "ada")
    page = client.get("/collectors").text
    assert "store-9" in page and "enrolled" in page and "9.9" not in page
    assert client.post("/collectors/store-9/revoke", data={}).status_code == 403  # no CSRF token
    assert not db.collector_named(app.engine, "store-9")["revoked"]  # type: ignore[index]
    r = client.post("/collectors/store-9/revoke", data={"csrf": csrf})
    assert r.status_code == 200 and "collector store-9 revoked" in r.text
    assert db.collector_named(app.engine, "store-9")["revoked"]  # type: ignore[index]
