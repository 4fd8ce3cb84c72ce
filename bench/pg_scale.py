"""PostgreSQL at real scale (issue 17 item 4): 1,000,000 devices over 30,000 sites.

Builds the estate once in a database of its own (``scale`` by default; ``--rebuild`` drops and
builds it again), timing each step: the sites register, the 1,000,000-row inventory import
(target <= 60 s), the assessment (target <= 120 s) and the planning; then settles it as
docs/deployment.md asks after bulk work (``VACUUM (ANALYZE)`` and ``phaseout db compact``,
timed apart).  Then starts
``phaseout serve --workers 2`` against it and requests every dashboard page and API list over
HTTP from ``--concurrency`` threads at once (pages logged in with a session cookie, the API with
a bearer token), and prints p50/p95 per route (target p95 <= 300 ms).

Baselines in the same run: ``/healthz`` under the same concurrency (the floor of a request
through two workers), and every free-text search timed in-process with and without the search
index (migration 0012) -- the same query code, ``indexed=False`` being the old leading-wildcard
``LIKE``.

Run: ``python bench/pg_scale.py [--devices 1000000] [--sites 30000] [--rebuild] [--skip-http]``.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx2 as httpx
from import_speed import write_inventory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.app.planning import plan_stored_estate, save_plan
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.queries.devices import DeviceQuery, count, page
from phaseout.store import Store
from phaseout.store.maintenance import compact
from phaseout.store.users import add_user, create_token, list_users

HERE = Path(__file__).resolve().parent
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PACKS = ["org-template", "uk-cabinet-office-2022"]
PASSWORD = "bench-password-123"
TODAY = dt.date(2026, 12, 1)
SEARCHES = ["DS-2CD", "sn000424242", "28:57:be:0a", "127.150.3.", "camera 77", "12345", "zz-nothing", "ds", "a"]
PAGES = [
    "/",
    "/sites",
    "/sites?sort=code&order=asc&page=500",
    "/sites/{site}",
    "/devices",
    "/devices?vendor=dahua&sort=risk&order=desc",
    "/devices?q=DS-2CD&page=50",
    "/devices?q=sn000424242",
    "/devices?q=ds",
    "/devices?page=19000",
    "/devices/{device}",
    "/findings",
    "/plan",
    "/imports",
    "/audit",
]
API = [
    "/api/v1/overview",
    "/api/v1/sites?size=100",
    "/api/v1/sites?q=1234&size=100",
    "/api/v1/sites?sort=code&order=asc&page=250&size=100",
    "/api/v1/sites/{site}",
    "/api/v1/devices?size=100",
    "/api/v1/devices?vendor=hikvision&sort=risk&order=desc&size=100",
    "/api/v1/devices?policy=breach&sort=risk&order=desc&size=100",
    "/api/v1/devices?site={site}&size=100",
    "/api/v1/devices?q=127.150.3.&size=100",
    "/api/v1/devices?q=camera%2077&sort=risk&order=desc&size=100",
    "/api/v1/devices?q=28:57:be:0a&size=100",
    "/api/v1/devices?q=a&size=100",
    "/api/v1/devices?sort=model&page=5000&size=100",
    "/api/v1/devices?page=9000&size=100",
    "/api/v1/devices/{device}",
    "/api/v1/findings",
    "/api/v1/plans",
    "/api/v1/imports",
]


def timed(label: str, fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    print(f"{label:44} {seconds:8.1f} s", flush=True)
    return seconds


def build(url: str, n_devices: int, n_sites: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="phaseout-pg-scale-"))
    sites_csv, inventory = work / "sites.csv", work / "inventory.csv"
    regions = ["North", "South", "East", "West", "Central"]
    sites_csv.write_text(
        "Store No,Name,Region\n" + "".join(f"{i:04d},Store {i},{regions[i % 5]}\n" for i in range(1, n_sites + 1))
    )
    write_inventory(inventory, n_devices, n_sites)
    print(f"inputs written to {work}", flush=True)
    figures: dict[str, float] = {}
    with Store.open(url) as store:
        app = Phaseout(store, actor="bench")
        figures["sites"] = timed(f"import {n_sites:,} sites", lambda: app.import_sites(sites_csv))
        figures["import"] = timed(f"import {n_devices:,} devices", lambda: app.import_devices(inventory))
        app.use_packs(PACKS)
        packs = available_packs()
        figures["assess"] = timed("assessment", lambda: run_assessment(store.engine, [packs[p] for p in PACKS], TODAY))

        def plan() -> None:
            settings = PlanSettings(start=dt.date(2027, 1, 1), budget=(80_000_000.0,), crew_hours=25_000.0)
            estate, _ = plan_stored_estate(store.engine, None, settings, TODAY)
            save_plan(store.engine, "bench", estate, solve(estate.problem, time_limit=60))

        figures["plan"] = timed("planning (build, solve <= 60 s, save)", plan)
        with store.engine.begin() as conn:  # committed: statistics are transactional
            conn.execute(text("ANALYZE"))

        def settle() -> None:
            # what docs/deployment.md asks after bulk work ("After a bulk load"): a vacuum, so an
            # index walk need not visit the table for every row the assessment rewrote (this
            # machine's PostgreSQL runs with autovacuum off), then ``phaseout db compact``
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE)"))
            compact(store.engine)

        figures["settle"] = timed("settle (VACUUM ANALYZE, phaseout db compact)", settle)
    for f in (sites_csv, inventory):
        f.unlink()
    return figures


def search_baseline(url: str, repeat: int) -> list[tuple[str, float, float]]:
    """Each search's first page and count, in-process, with and without the index (median ms)."""
    out = []
    with Store.open(url) as store, store.engine.connect() as conn:
        for q in SEARCHES:
            medians = []
            for indexed in (False, True):
                times = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    query = DeviceQuery(text=q)
                    page(conn, query, size=50, indexed=indexed)
                    count(conn, query, indexed=indexed)
                    times.append((time.perf_counter() - t) * 1000)
                medians.append(statistics.median(times))
            out.append((q, medians[0], medians[1]))
            print(f"search {q!r:16} without index {medians[0]:9.1f} ms   with index {medians[1]:9.1f} ms", flush=True)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(
    base: str, route: str, headers: dict[str, str], concurrency: int, repeat: int
) -> tuple[float, float, float]:
    """(first, p50, p95) in ms: one first request, then ``repeat`` spread over ``concurrency`` threads."""
    times: list[float] = []
    errors: list[str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        t = time.perf_counter()
        r = c.get(route)
        first = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise SystemExit(f"{route}: HTTP {r.status_code} {r.text[:200]}")

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            for _ in range(n):
                t = time.perf_counter()
                r = c.get(route)
                elapsed = (time.perf_counter() - t) * 1000
                if r.status_code != 200:
                    errors.append(f"{route}: HTTP {r.status_code}")
                times.append(elapsed)

    threads = [threading.Thread(target=worker, args=(repeat // concurrency,)) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise SystemExit(errors[0])
    times.sort()
    return first, statistics.median(times), times[max(int(0.95 * len(times)) - 1, 0)]


def serve_and_measure(
    url: str, concurrency: int, repeat: int, only: list[str] | None = None
) -> list[tuple[str, float, float, float]]:
    with Store.open(url) as store:
        if not any(u["name"] == "bench" for u in list_users(store.engine)):
            add_user(store.engine, "bench", "viewer", PASSWORD)
        token = create_token(store.engine, "bench", f"pg-scale-{time.time():.0f}", actor="bench")
        with store.engine.connect() as conn:
            middle = "select code from sites order by id limit 1 offset (select count(*) / 2 from sites)"
            site = conn.execute(text(middle)).scalar_one()
            device = conn.execute(text("select device_id from assessments order by risk desc limit 1")).scalar_one()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    server = subprocess.Popen(
        [sys.executable, "-m", "phaseout", "--db", url, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server too when stopped
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=60) as c:
            login = c.get("/login")
            csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            r = c.post("/login", data={"name": "bench", "password": PASSWORD, "next": "/", "csrf": csrf})
            if r.status_code not in (200, 303):
                raise SystemExit(f"login: HTTP {r.status_code}")
            session = c.cookies.get("phaseout_session")
        cookie = {"cookie": f"phaseout_session={session}"}
        bearer = {"authorization": f"Bearer {token}"}
        rows.append(("baseline: /healthz", *measure(base, "/healthz", {}, concurrency, repeat)))
        for route, headers in [*((p, cookie) for p in PAGES), *((a, bearer) for a in API)]:
            path = route.format(site=site, device=device)
            if only and not any(o in path for o in only):
                continue
            first, p50, p95 = measure(base, path, headers, concurrency, repeat)
            rows.append((path, first, p50, p95))
            print(f"{path[:70]:70} {first:8.1f} {p50:8.1f} {p95:8.1f}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server URL without a database")
    parser.add_argument("--database", default="scale", help="database this bench creates and owns")
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=30_000)
    parser.add_argument("--rebuild", action="store_true", help="drop the database and build the estate again")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=40, help="requests per route after the first")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--only", action="append", default=[], help="measure only routes containing this (repeatable)")
    parser.add_argument("--skip-search-baseline", action="store_true")
    parser.add_argument("--reassess", action="store_true", help="time the assessment again on the built estate")
    args = parser.parse_args()

    url = str(make_url(args.server).set(database=args.database))
    admin = create_engine(make_url(args.server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("select 1 from pg_database where datname = :d"), {"d": args.database}).scalar()
        if exists and args.rebuild:
            conn.execute(text(f'DROP DATABASE "{args.database}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    if not exists:
        figures = build(url, args.devices, args.sites)
        print(
            f"build: import {figures['import']:.1f} s (target <= 60), assessment {figures['assess']:.1f} s "
            f"(target <= 120), planning {figures['plan']:.1f} s"
        )
    with Store.open(url) as store, store.engine.connect() as conn:
        n_devices = conn.execute(text("select count(*) from devices")).scalar_one()
        n_sites = conn.execute(text("select count(*) from sites")).scalar_one()
    print(f"estate: {n_devices:,} devices, {n_sites:,} sites in PostgreSQL database {args.database!r}")
    if args.reassess:
        with Store.open(url) as store:
            packs = available_packs()
            timed(
                "assessment again (replaces every row)",
                lambda: run_assessment(store.engine, [packs[p] for p in PACKS], TODAY),
            )
    if not args.skip_search_baseline:
        search_baseline(url, 1)
    if args.skip_http:
        return
    rows = serve_and_measure(url, args.concurrency, args.repeat, args.only)
    print("\n| route | first (ms) | p50 (ms) | p95 (ms) |\n|---|---:|---:|---:|")
    for path, first, p50, p95 in rows:
        print(f"| `{path}` | {first:.1f} | {p50:.1f} | {p95:.1f} |")
    worst = max(rows[1:], key=lambda r: r[3])
    print(f"\nworst p95: {worst[3]:.1f} ms on {worst[0]} (target <= 300 ms)")


if __name__ == "__main__":
    main()
