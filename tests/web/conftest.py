"""A small assessed and planned demo estate with three users, served in-process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.app.planning import plan_stored_estate, save_plan
from phaseout.demo.run import run_demo
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.users import add_user
from phaseout.web.app import create_app

PACKS = ["org-template", "uk-cabinet-office-2022"]
TODAY = dt.date(2026, 11, 29)
PASSWORDS = {"ada": "admin-password-1", "pat": "planner-password-1", "vic": "viewer-password-1"}
XSS = "<script>alert(1)</script>"


def build_estate(work: Path) -> str:
    result = run_demo(work, stores=12, seed=11)
    hostile = work / "hostile.csv"
    hostile.write_text(
        f"Site,Make,Model,IP,Serial\n0001,Dahua,{XSS},127.30.0.9,XSS1\n0001,Hikvision,=HYPERLINK(1),127.30.0.10,XSS2\n",
        encoding="utf-8",
    )
    with Store.open(result.db) as store:
        Phaseout(store).import_devices(hostile)
        Phaseout(store).use_packs(PACKS)
        packs = available_packs()
        run_assessment(store.engine, [packs[p] for p in PACKS], TODAY)
        settings = PlanSettings(start=dt.date(2027, 1, 1), budget=(600_000.0,), crew_hours=2000.0)
        estate, _ = plan_stored_estate(store.engine, None, settings, TODAY)
        save_plan(store.engine, "baseline", estate, solve(estate.problem))

        Phaseout(store, actor="setup").generate_work()
        add_user(store.engine, "ada", "admin", PASSWORDS["ada"])
        add_user(store.engine, "pat", "planner", PASSWORDS["pat"])
        add_user(store.engine, "vic", "viewer", PASSWORDS["vic"])
    return result.db


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
