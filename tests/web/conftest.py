"""A small assessed and planned demo estate with three users, served in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from phaseout.store import Store
from phaseout.web.app import create_app
from tests.support import PACKS, PASSWORDS, TODAY, XSS, build_estate  # noqa: F401  (shared builders)


@pytest.fixture(scope="session")
def estate_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_estate(tmp_path_factory.mktemp("web-estate"))


@pytest.fixture(scope="session")
def store(estate_db: str) -> Iterator[Store]:
    with Store.open(estate_db) as opened:
        yield opened


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    from phaseout.store.schema import login_throttle
    from phaseout.web.security import limiter

    with store.engine.begin() as conn:
        conn.execute(login_throttle.delete())
    limiter.forget()
    with TestClient(create_app(store.engine), base_url="http://127.0.0.1") as c:
        yield c


def login(client: TestClient, name: str) -> str:
    """Log in; returns the session's CSRF token (read from a page, as a browser would)."""
    r = client.post(
        "/login",
        data={"name": name, "password": PASSWORDS[name], "next": "/", "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get("/settings").text
    marker = 'name="csrf" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def login_csrf(client: TestClient) -> str:
    """The login form's CSRF token (its cookie is kept by the client)."""
    page = client.get("/login").text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
