"""The recorder tree and channel verification at size: pages, the terminal tree and `work verify`.

A fresh SQLite store gets S sites with R recorders each, every recorder with C IP channels as a
recorder reports them (stored through the scan path, ``Phaseout.record_results``; no network).
In the same run:

1. baseline: the site page's reads before this change (``queries.dashboard.site_detail``) and
   the same plus the recorder tree (``queries.recorders.site_tree``), per site;
2. the dashboard's site page and a recorder's device page over HTTP (in-process client),
   median and p95 of repeated requests;
3. ``work verify`` over one done work order per site that swaps half of one recorder's cameras
   (channel lists re-read since the work: every order passes through the channel check).

Printed: the sizes, and wall times.  Nothing is contacted.  Run:
``python bench/recorder_tree.py [--sites 50] [--recorders 4] [--channels 32]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the shared plan builder

from sqlalchemy import select, text

from phaseout.app import Phaseout
from phaseout.discover.channels import Channel
from phaseout.discover.scanner import HostResult
from phaseout.queries import dashboard, recorders
from phaseout.store import Store
from phaseout.store.schema import devices
from phaseout.store.users import add_user
from phaseout.store.work import list_orders
from tests.support import store_visit_plan


def _channels(site: int, rec: int, count: int, swapped: bool = False) -> list[Channel]:
    out = []
    for n in range(1, count + 1):
        replaced = swapped and n % 2 == 1
        model = "AXIS P3265-LV" if replaced else "DS-2CD2386G2-IU"
        serial = (
            f"ACCC8E{site:03d}{rec:02d}{n:03d}" if replaced else f"DS-2CD2386G2-IU2024S{site:03d}R{rec:02d}C{n:03d}"
        )
        out.append(Channel(n, address=f"192.168.{rec}.{n}", model=model, serial=serial, online=True))
    return out


def _timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--recorders", type=int, default=4)
    parser.add_argument("--channels", type=int, default=32)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tree-bench-"))
    db = str(folder / "tree.db")
    sites = [f"T{s:03d}" for s in range(args.sites)]
    (folder / "sites.csv").write_text("Code,Region\n" + "".join(f"{c},North\n" for c in sites), encoding="utf-8")
    rows = ["Site,Make,Model,IP,Type"]
    for s, code in enumerate(sites):
        for r in range(args.recorders):
            rows.append(f"{code},Hikvision,DS-7632NXI-K2,127.{100 + s // 200}.{s % 200}.{r + 1},recorder")
    (folder / "devices.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with Store.open(db) as store:
        app = Phaseout(store, actor="bench")
        app.import_sites(folder / "sites.csv")
        app.import_devices(folder / "devices.csv")
        app.use_packs(["us-ndaa-889"])
        start = time.perf_counter()
        for s, code in enumerate(sites):
            hosts = [
                HostResult(
                    f"127.{100 + s // 200}.{s % 200}.{r + 1}",
                    ports=[80],
                    channels=_channels(s, r, args.channels),
                    channel_kinds={"ip"},
                )
                for r in range(args.recorders)
            ]
            app.record_results(hosts, targets=[h.ip for h in hosts], ports=(80,), site=code)
        stored = time.perf_counter() - start
        total = store.counts()["devices"]
        print(f"{args.sites} sites x {args.recorders} recorders x {args.channels} channels: {total:,} devices")
        print(f"stored through the scan path in {stored:.1f} s")

        with store.engine.connect() as conn:
            base = _timed(lambda: [dashboard.site_detail(conn, c) for c in sites[:10]], 5)
            tree = _timed(
                lambda: [(dashboard.site_detail(conn, c), recorders.site_tree(conn, c)) for c in sites[:10]], 5
            )
        print(f"baseline site reads, 10 sites: {_p(base)}; with the recorder tree: {_p(tree)}")

        from fastapi.testclient import TestClient

        from phaseout.web.app import create_app

        add_user(store.engine, "bench", "viewer", "bench-password-1")
        with TestClient(create_app(store.engine), base_url="http://127.0.0.1") as client:
            page = client.get("/login").text
            token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"name": "bench", "password": "bench-password-1", "next": "/", "csrf": token})
            with store.engine.connect() as conn:
                rec_id = conn.execute(select(devices.c.id).where(devices.c.id_type == "recorder").limit(1)).scalar()
            site_times = _timed(lambda: client.get(f"/sites/{sites[0]}").raise_for_status(), 30)
            device_times = _timed(lambda: client.get(f"/devices/{rec_id}").raise_for_status(), 30)
        print(
            f"site page ({args.recorders * args.channels} cameras under {args.recorders} recorders): {_p(site_times)}"
        )
        print(f"recorder page ({args.channels} channels): {_p(device_times)}")

        # one done work order per site swapping the odd channels of its first recorder
        earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        with store.engine.begin() as conn:
            conn.execute(text("update devices set first_seen = :t, last_seen = :t"), {"t": earlier})
            visits = {}
            for s, code in enumerate(sites):
                ip = f"127.{100 + s // 200}.{s % 200}.1"
                parent = conn.execute(select(devices.c.id).where(devices.c.ip == ip)).scalar_one()
                kids = conn.execute(select(devices.c.id, devices.c.channel).where(devices.c.parent_id == parent)).all()
                visits[code] = [
                    {"device": k.id, "type": "camera", "old": "hikvision", "ip": None, "sku": "AX"}
                    for k in kids
                    if int(k.channel[1:]) % 2 == 1
                ]
            plan_id = store_visit_plan(conn, "bench", earlier, visits)
        app.generate_work(plan_id)
        today = dt.date.today()
        lines = ["work_order,device,old_serial,new_serial,new_mac,done_date"]
        with store.engine.connect() as conn:
            for order in list_orders(conn):
                s = sites.index(order["site"])
                for line in conn.execute(
                    text(
                        "select w.device_id, d.channel from work_order_devices w join devices d on d.id = w.device_id "
                        "where w.work_order_id = :o"
                    ),
                    {"o": order["id"]},
                ):
                    lines.append(f"{order['id']},{line[0]},,ACCC8E{s:03d}00{int(line[1][1:]):03d},,{today}")
        with store.engine.connect() as conn:
            orders = list_orders(conn)
        for order in orders:
            for status in ("scheduled", "in-progress"):
                app.set_work_status(order["id"], status)
        (folder / "return.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        app.record_return(folder / "return.csv")
        for s, code in enumerate(sites):  # the installers' work, read back from the recorders
            hosts = [
                HostResult(
                    f"127.{100 + s // 200}.{s % 200}.{r + 1}",
                    ports=[80],
                    channels=_channels(s, r, args.channels, swapped=r == 0),
                    channel_kinds={"ip"},
                )
                for r in range(args.recorders)
            ]
            app.record_results(hosts, targets=[h.ip for h in hosts], ports=(80,), site=code)
        start = time.perf_counter()
        result = app.verify()
        took = time.perf_counter() - start
        swapped = len(lines) - 1
        print(
            f"work verify: {len(sites)} orders, {swapped:,} camera swaps on recorder channels: "
            f"{len(result.verified)} verified, {len(result.exceptions)} exceptions, {len(result.pending)} pending "
            f"in {took:.2f} s"
        )


if __name__ == "__main__":
    main()
