"""The dashboard's alerts page: admins only, every form with the session's CSRF token, the
webhook secret shown once, a test sent to a local receiver, the outbox shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from phaseout.app import Phaseout
from phaseout.store import Store
from phaseout.store.alerts import list_alerts
from phaseout.store.audit import list_events
from phaseout.store.settings import set_setting
from phaseout.store.users import add_user
from phaseout.web.app import create_app
from tests.alerts.receivers import webhook
from tests.support import PASSWORDS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(str(tmp_path / "web.db")) as opened:
        for name, role in (("ada", "admin"), ("pat", "planner"), ("vic", "viewer")):
            add_user(opened.engine, name, role, PASSWORDS[name])
        yield opened


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    from phaseout.web.security import limiter

    limiter.forget()
    with TestClient(create_app(store.engine, warm=False), base_url="http://127.0.0.1") as c:
        yield c


def _login(client: TestClient, name: str) -> str:
    page = client.get("/login").text
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login",
        data={"name": name, "password": PASSWORDS[name], "next": "/", "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client.get("/settings").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("name", ["pat", "vic"])
def test_only_admins_see_or_change_alerts(client: TestClient, store: Store, name: str) -> None:
    csrf = _login(client, name)
    assert client.get("/alerts").status_code == 403
    assert 'href="/alerts"' not in client.get("/").text
    form = {"csrf": csrf, "name": "x", "kind": "syslog", "target": "udp://127.0.0.1:9"}
    assert client.post("/alerts", data=form).status_code == 403
    assert client.post("/alerts/deliver", data={"csrf": csrf}).status_code == 403
    with store.engine.connect() as conn:
        assert list_alerts(conn) == []


def test_admins_add_test_deliver_and_remove(client: TestClient, store: Store, tmp_path: Path) -> None:
    csrf = _login(client, "ada")
    page = client.get("/alerts")
    assert page.status_code == 200 and "No alerts yet" in page.text and "nowhere yet" in page.text
    assert 'href="/alerts"' in client.get("/").text
    with webhook() as hook:
        form = {"csrf": csrf, "name": "soc", "kind": "webhook", "target": hook.url}
        refused = client.post("/alerts", data=form)
        assert "outside what the admin allowed" in refused.text
        set_setting(store.engine, "alert-webhook-allow", "127.0.0.1/32", "cli:admin")
        # no CSRF token, or a wrong one: refused before anything is stored
        assert client.post("/alerts", data=form | {"csrf": ""}).status_code == 403
        assert client.post("/alerts", data=form | {"csrf": "x" * 43}).status_code == 403
        with store.engine.connect() as conn:
            assert list_alerts(conn) == []
        added = client.post("/alerts", data=form | {"rule": "covered-device-appears"})
        assert added.status_code == 200 and "shown once" in added.text
        secret = added.text.split('<code class="secret">', 1)[1].split("<", 1)[0]
        assert len(secret) >= 32 and secret not in client.get("/alerts").text  # once only
        file_form = {"csrf": csrf, "name": "f", "kind": "file", "target": str(tmp_path / "x")}
        assert "one of webhook, email, syslog" in client.post("/alerts", data=file_form).text
        tested = client.post("/alerts/soc/test", data={"csrf": csrf})
        assert "test alert delivered to soc" in tested.text and len(hook.requests) == 1
        (tmp_path / "d.csv").write_text("Site,Make,Model,IP\nS1,Dahua,IPC-HFW2431S,10.0.0.1\n", encoding="utf-8")
        Phaseout(store).import_devices(tmp_path / "d.csv")
        outbox = client.get("/alerts").text
        assert "a covered device appeared" in outbox and "pending: 1" in outbox
        sent = client.post("/alerts/deliver", data={"csrf": csrf})
        assert "delivered 1" in sent.text and len(hook.requests) == 2
    removed = client.post("/alerts/soc/remove", data={"csrf": csrf})
    assert "alert soc removed" in removed.text
    with store.engine.connect() as conn:
        trail = list_events(conn, entity="alert")
    assert {e["actor"] for e in trail if e["action"] in ("alert.add", "alert.test", "alert.remove")} == {"ada"}
