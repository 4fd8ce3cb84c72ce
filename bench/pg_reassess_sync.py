"""Re-assess the built ``bench/pg_scale.py`` estate and time, inside the assessment, the copy of
each device's risk and policy status beside it (``store.device_risk.sync``, migration 0013).

A re-assessment that changes no risk writes no device row; one with other packs (or the first
after a large import) rewrites every device whose values change.  Prints the rows changed, the
step's seconds and the whole assessment's.  Run:
``python bench/pg_reassess_sync.py [--database scale] PACK [PACK ...]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import Connection

import phaseout.app.assessment as assessment
from phaseout.policy.packs import available_packs
from phaseout.store import Store, device_risk

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="scale")
    parser.add_argument("packs", nargs="+", help="policy packs to assess with (demo: org-template ...)")
    args = parser.parse_args()
    plain_sync = device_risk.sync

    def timed_sync(conn: Connection) -> int:
        t = time.perf_counter()
        changed = plain_sync(conn)
        print(f"device_risk.sync: {changed:,} rows changed in {time.perf_counter() - t:.1f} s", flush=True)
        return changed

    assessment.device_risk.sync = timed_sync
    packs = available_packs()
    with Store.open(f"{SERVER}/{args.database}") as store:
        t = time.perf_counter()
        assessment.run_assessment(store.engine, [packs[p] for p in args.packs], dt.date(2026, 12, 1))
        print(f"assessment with {args.packs}: {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
