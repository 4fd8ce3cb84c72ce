"""Dashboard and API speed over a large estate in SQLite: p50 and p95 per route.

Builds the demo estate at ~3,250 stores (about 150,000 devices), assesses it with the demo's
packs, stores a plan, then serves the dashboard with uvicorn on 127.0.0.1 and requests every page
and API list over real HTTP, logged in, each N times (after one warm-up request, which is
reported separately: the first request after a change computes the cached aggregates).

Baseline in the same run: ``SELECT count(*) FROM devices`` through the same connection pool,
the floor any page pays for touching the table.

Run: ``python bench/web_speed.py [--stores 3250] [--repeat 30] [--db PATH]`` (``--db`` reuses an
estate built earlier).  Target (README): every page and API list <= 300 ms at p95.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx2 as httpx
import uvicorn
from sqlalchemy import text

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.app.planning import plan_stored_estate, save_plan
from phaseout.demo.run import run_demo
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.users import add_user, list_users
from phaseout.web.app import create_app

PACKS = ["org-template", "uk-cabinet-office-2022"]
PASSWORD = "bench-password-123"
ROUTES = [
    "/",
    "/sites",
    "/sites?sort=code&order=asc&page=20",
    "/sites/{site}",
    "/devices",
    "/devices?vendor=dahua&sort=risk&order=desc",
    "/devices?q=DS-2CD&page=50",
    "/devices?page=2000",
    "/devices/{device}",
    "/findings",
    "/plan",
    "/imports",
    "/api/v1/overview",
    "/api/v1/sites?size=100",
    "/api/v1/devices?size=100",
    "/api/v1/devices?vendor=hikvision&sort=risk&order=desc&size=100",
    "/api/v1/devices?q=127.100&size=100",
    "/api/v1/findings",
    "/api/v1/plans",
    "/api/v1/imports",
]


def build(stores: int, db: str) -> None:
    t0 = time.perf_counter()
    run_demo(Path(db).parent, stores=stores, seed=2026, db=db)
    t1 = time.perf_counter()
    with Store.open(db) as store:
        Phaseout(store).use_packs(PACKS)
        packs = available_packs()
        run_assessment(store.engine, [packs[p] for p in PACKS], dt.date.today())
        t2 = time.perf_counter()
        settings = PlanSettings(start=dt.date(2027, 1, 1), budget=(8_000_000.0,), crew_hours=2_500.0)
        estate, _ = plan_stored_estate(store.engine, None, settings, dt.date.today())
        save_plan(store.engine, "bench", estate, solve(estate.problem, time_limit=60))
        t3 = time.perf_counter()
    print(f"estate built: import {t1 - t0:.1f} s, assess {t2 - t1:.1f} s, plan {t3 - t2:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=3250)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp(prefix="phaseout-web-bench-")) / "estate.db")
    if not Path(db).exists():
        build(args.stores, db)
    store = Store.open(db)
    if not any(u["name"] == "bench" for u in list_users(store.engine)):
        add_user(store.engine, "bench", "viewer", PASSWORD)
    with store.engine.connect() as conn:
        n_devices = conn.execute(text("select count(*) from devices")).scalar()
        n_sites = conn.execute(text("select count(*) from sites")).scalar()
        biggest = "select s.code from sites s join devices d on d.site_id = s.id group by s.code order by count(*) desc"
        site = conn.execute(text(biggest + " limit 1")).scalar()
        device = conn.execute(text("select device_id from assessments order by risk desc limit 1")).scalar()
    print(f"estate: {n_devices:,} devices, {n_sites:,} sites (SQLite {db})")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store.engine), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/login", data={"name": "bench", "password": PASSWORD, "next": "/"})
        assert r.status_code in (200, 303), r.status_code
        baseline = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            with store.engine.connect() as conn:
                conn.execute(text("select count(*) from devices")).scalar()
            baseline.append((time.perf_counter() - t) * 1000)
        print(
            f"baseline SELECT count(*) FROM devices: p50 {statistics.median(baseline):.1f} ms, "
            f"p95 {sorted(baseline)[int(0.95 * len(baseline)) - 1]:.1f} ms"
        )
        print(f"{'route':60} {'first':>8} {'p50':>8} {'p95':>8}  status")
        worst = 0.0
        for route in ROUTES:
            url = route.format(site=site, device=device)
            t = time.perf_counter()
            first = client.get(url)
            first_ms = (time.perf_counter() - t) * 1000
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                resp = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
                assert resp.status_code == 200, (url, resp.status_code)
            p95 = sorted(times)[max(int(0.95 * len(times)) - 1, 0)]
            worst = max(worst, p95)
            print(f"{url[:60]:60} {first_ms:8.1f} {statistics.median(times):8.1f} {p95:8.1f}  {first.status_code}")
        print(f"worst p95: {worst:.1f} ms (target <= 300 ms)")
    server.should_exit = True
    store.close()


if __name__ == "__main__":
    main()
