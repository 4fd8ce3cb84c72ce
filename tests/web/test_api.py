"""Every route: login required, roles enforced, CSRF on forms, paging, sorting, filters,
downloads, escaping and security headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from phaseout.store import Store
from phaseout.store.users import create_token, revoke_token
from phaseout.web.app import create_app

from .conftest import PASSWORDS, XSS, login, login_csrf

#: /api/collector/enrol takes a one-time enrolment code instead of a login (the other collector
#: routes take the collector's own credential, so they answer 401 without one like the rest)
PUBLIC = {"/login", "/healthz", "/api/collector/enrol"}


def _concrete(path: str, client: TestClient) -> str:
    """A real URL for a route path with parameters."""
    if "{code" in path:
        return path.replace("{code:path}", "0001").replace("{code}", "0001")
    if "{device_id}" in path:
        device = client.get("/api/v1/devices?size=1").json()["items"][0]["id"] if client.cookies else 1
        return path.replace("{device_id}", str(device))
    if "{plan_id}" in path:
        return path.replace("{plan_id}", "1")
    if "{order_id}" in path:
        return path.replace("{order_id}", "1")
    return path


def _flat(routes: list[object]) -> list[object]:
    """Routes, with included routers opened (FastAPI keeps them as one entry each)."""
    out: list[object] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(_flat(list(inner.routes)) if inner is not None else [route])
    return out


def _routes(client: TestClient) -> list[tuple[str, str]]:
    out = []
    for route in _flat(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount) or not getattr(route, "methods", None):
            continue
        for method in sorted(route.methods):  # type: ignore[attr-defined]
            if method in ("HEAD", "OPTIONS"):
                continue
            out.append((method, route.path))  # type: ignore[attr-defined]
    return out


def test_nothing_but_login_and_healthz_without_a_login(client: TestClient) -> None:
    routes = _routes(client)
    assert len(routes) > 20
    for method, path in routes:
        if path in PUBLIC:
            continue
        r = client.request(method, _concrete(path, client), follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        else:
            assert r.status_code in (303, 401), (method, path, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login")
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/login").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/app.js").status_code == 401
    assert client.get("/api/v1/openapi.json").status_code == 401


ADMIN_ONLY = {"/api/v1/users", "/alerts", "/collectors"}  # alerts and collectors pages: admins only


def test_every_route_answers_a_viewer(client: TestClient) -> None:
    login(client, "vic")
    for method, path in _routes(client):
        if method != "GET" or path in ("/healthz",):
            continue
        r = client.get(_concrete(path, client))
        expected = 403 if path in ADMIN_ONLY else 200
        assert r.status_code == expected, (path, r.status_code, r.text[:300])


def test_wrong_passwords_are_limited(client: TestClient) -> None:
    for _ in range(5):
        r = client.post("/login", data={"name": "vic", "password": "nope", "next": "/", "csrf": login_csrf(client)})
        assert r.status_code == 401 and "wrong name or password" in r.text
    r = client.post(
        "/login", data={"name": "vic", "password": PASSWORDS["vic"], "next": "/", "csrf": login_csrf(client)}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_login_never_redirects_off_site(client: TestClient) -> None:
    r = client.post(
        "/login",
        data={"name": "vic", "password": PASSWORDS["vic"], "next": "//evil.example/", "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_roles_and_csrf(client: TestClient) -> None:
    csrf = login(client, "vic")
    r = client.put("/api/v1/policies", json={"packs": ["us-ndaa-889"]}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "planner" in r.json()["detail"]
    assert client.get("/api/v1/users").status_code == 403
    r = client.put("/api/v1/work-orders/1/status", json={"status": "scheduled"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403  # viewers read work orders, planners move them
    client.cookies.clear()
    csrf = login(client, "pat")
    assert client.put("/api/v1/policies", json={"packs": ["us-ndaa-889"]}).status_code == 403  # no CSRF token
    r = client.put(
        "/api/v1/policies", json={"packs": ["org-template", "uk-cabinet-office-2022"]}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["in_use"] == ["org-template", "uk-cabinet-office-2022"]
    assert client.put("/api/v1/policies", json={"packs": ["nope"]}, headers={"X-CSRF-Token": csrf}).status_code == 422
    r = client.post(
        "/settings/policies", data={"pack": ["org-template", "uk-cabinet-office-2022"]}, follow_redirects=False
    )
    assert r.status_code == 403  # a form without its CSRF field
    r = client.post(
        "/settings/policies",
        data={"pack": ["org-template", "uk-cabinet-office-2022"], "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (
        client.post("/api/v1/users", json={"name": "x", "role": "viewer"}, headers={"X-CSRF-Token": csrf}).status_code
        == 403
    )
    client.cookies.clear()
    csrf = login(client, "ada")
    r = client.post("/api/v1/users", json={"name": "newbie", "role": "viewer"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and len(r.json()["password"]) >= 12
    assert any(u["name"] == "newbie" for u in client.get("/api/v1/users").json())
    r = client.post("/settings/users", data={"name": "second", "role": "planner", "csrf": csrf})
    assert r.status_code == 200 and "give them this password once" in r.text
    r = client.put("/api/v1/work-orders/1/status", json={"status": "verified"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "only by evidence" in r.json()["detail"]
    r = client.post("/work/1/status", data={"status": "scheduled", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and client.get("/api/v1/work-orders/1").json()["status"] == "scheduled"
    trail = client.get("/api/v1/audit?entity=work-order&entity_id=1").json()
    assert trail[0]["actor"] == "ada" and trail[0]["after"]["status"] == "scheduled"
    r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/me").status_code == 401  # the session is gone


def test_bearer_tokens(store: Store, client: TestClient) -> None:
    token = create_token(store.engine, "pat", "ci")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).json()["role"] == "planner"
    r = client.put("/api/v1/policies", json={"packs": ["org-template", "uk-cabinet-office-2022"]}, headers=headers)
    assert r.status_code == 200  # no CSRF needed: a browser never sends a bearer token by itself
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer po_wrong"}).status_code == 401
    token_id = max(
        t["id"] for t in __import__("phaseout.store.users", fromlist=["list_tokens"]).list_tokens(store.engine)
    )
    revoke_token(store.engine, token_id)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_device_paging_sorting_filters_and_downloads(client: TestClient) -> None:
    login(client, "vic")
    first = client.get("/api/v1/devices?size=10&page=1&sort=id").json()
    second = client.get("/api/v1/devices?size=10&page=2&sort=id").json()
    assert first["total"] == second["total"] > 20
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 20
    dahua = client.get("/api/v1/devices?vendor=dahua&size=200").json()
    assert dahua["total"] > 0 and all(d["vendor"] == "dahua" for d in dahua["items"])
    risky = client.get("/api/v1/devices?sort=risk&order=desc&size=50").json()["items"]
    risks = [d["risk"] for d in risky if d["risk"] is not None]
    assert risks == sorted(risks, reverse=True)
    found = client.get("/api/v1/devices", params={"q": "127.30.0.9"}).json()
    assert found["total"] == 1 and found["items"][0]["model"] == XSS
    breach = client.get("/api/v1/devices?policy=due&size=5").json()
    assert all(d["policy_status"] == "due" for d in breach["items"])
    assert client.get("/api/v1/devices?sort=password").status_code == 422
    assert client.get("/api/v1/devices?size=100000").status_code == 422
    csv = client.get("/api/v1/devices", params={"q": "XSS", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "'=HYPERLINK(1)" in csv.text  # a formula is neutralised in the download
    sites = client.get("/api/v1/sites?sort=risk&order=desc&size=5").json()
    assert sites["total"] >= 12 and [s["risk"] for s in sites["items"]] == sorted(
        (s["risk"] for s in sites["items"]), reverse=True
    )
    assert client.get("/api/v1/sites?sensitivity=sensitive").json()["items"][0]["sensitivity"] == "sensitive"
    assert client.get("/api/v1/sites/NOWHERE").status_code == 404
    assert client.get("/api/v1/sites?format=csv").text.startswith("code,")
    findings = client.get("/api/v1/findings").json()
    assert findings["policy"] and findings["vulnerability"]
    plans = client.get("/api/v1/plans").json()
    plan = client.get(f"/api/v1/plans/{plans[0]['id']}").json()
    assert plan["burn_down"][-1]["devices_left"] >= 0 and plan["result"]["status"] in ("optimal", "feasible")
    site = client.get("/api/v1/sites/0001").json()
    assert site["devices"] and "runbook" in (site["plan"] or {})
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/devices" in spec["paths"] and "/api/v1/findings" in spec["paths"]


def test_hostile_values_show_as_text(client: TestClient) -> None:
    login(client, "vic")
    device = client.get("/api/v1/devices", params={"q": "127.30.0.9"}).json()["items"][0]
    for url in (f"/devices/{device['id']}", "/devices?q=127.30.0.9", "/sites/0001"):
        page = client.get(url).text
        assert XSS not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


def test_security_headers(client: TestClient) -> None:
    login(client, "vic")
    for url in ("/", "/api/v1/overview", "/login"):
        headers = client.get(url).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"


def test_secure_cookie_flag(store: Store) -> None:
    with TestClient(create_app(store.engine, secure_cookies=True), base_url="http://127.0.0.1") as c:
        r = c.post(
            "/login",
            data={"name": "vic", "password": PASSWORDS["vic"], "next": "/", "csrf": login_csrf(c)},
            follow_redirects=False,
        )
        assert "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "page", ["/", "/sites", "/devices", "/findings", "/plan", "/work", "/work/1", "/audit", "/imports", "/settings"]
)
def test_pages_render_for_every_role(client: TestClient, page: str) -> None:
    for name in ("vic", "pat", "ada"):
        client.cookies.clear()
        login(client, name)
        assert client.get(page).status_code == 200
