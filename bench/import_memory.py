"""Import memory benchmark: peak RSS of ``phaseout import`` on hostile and on large normal files,
against the target of issue 13 (peak <= 300 MB + 2 x the file size, whatever the file).

Each import runs in a child process on a fresh SQLite database; its peak resident memory comes
from ``wait4``.  The baseline in the same run is the same file imported by an older checkout of
the code (``--baseline-src``, e.g. the ``src`` of the commit before the caps, extracted with
``git archive``), held under an address-space cap (``--baseline-cap``, 4 GiB by default) and a
time limit so that it cannot take the machine down: a baseline that hits either is reported as
such, with the memory it had reached.

Run: ``python bench/import_memory.py [--baseline-src DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hardening import bombs  # noqa: E402  (the generators the tests use)

MB = 1024**2
CHILD = """
import resource, sys
cap = int(sys.argv[1])
if cap:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import phaseout.cli
phaseout.cli.main(sys.argv[2:])
"""


def measure(src: Path, path: Path, db: Path, cap: int, timeout: float) -> tuple[str, float, float]:
    """(outcome, peak RSS in MB, seconds) of one import in a child process (reaped with wait4,
    which gives that child's own peak)."""
    env = dict(os.environ, PYTHONPATH=str(src), COLUMNS="200")
    cmd = [sys.executable, "-c", CHILD, str(cap), "--db", str(db), "import", str(path)]
    log = db.with_suffix(".log")
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > timeout:
            proc.kill()
            killed = True
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    seconds = time.monotonic() - started
    text = " ".join(log.read_text("utf-8", "replace").split())
    log.unlink()
    code = proc.returncode
    outcome = f"killed after {timeout:.0f} s" if killed else f"exit {code if code >= 0 else 128 - code}"
    for marker in ("error:", "imported", "Error", "panicked"):
        at = text.find(marker)
        if at >= 0:
            outcome += ": " + text[at : at + 70]
            break
    return outcome, usage.ru_maxrss / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, help="src folder of the code before the caps")
    parser.add_argument("--baseline-cap", type=int, default=4096, help="MiB of address space for the baseline")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per import at most")
    parser.add_argument("--quick", action="store_true", help="smaller bombs and normal files")
    args = parser.parse_args()
    quick = args.quick
    cases: list[tuple[str, Callable[[Path], Path]]] = [
        ("far cell reference (XFD1048576)", lambda p: bombs.far_cell_xlsx(p / "far.xlsx")),
        ("1 GiB cell in a workbook", lambda p: bombs.huge_cell_xlsx(p / "huge.xlsx", 256 * MB if quick else 1024**3)),
        (
            "6.7 million compressed rows",
            lambda p: bombs.many_rows_xlsx(p / "many.xlsx", 1_000_000 if quick else 6_700_000),
        ),
        ("billion laughs (DTD entities)", lambda p: bombs.entity_xlsx(p / "entity.xlsx")),
        ("zip that lies about its size", lambda p: bombs.declared_size_lie_xlsx(p / "lie.xlsx")),
        ("64 MB cell in a CSV", lambda p: bombs.huge_cell_csv(p / "cell.csv", 64 * MB)),
        ("unbalanced quote, 200 rows after it", lambda p: bombs.unbalanced_quote_csv(p / "quote.csv")),
        (
            "normal CSV",
            lambda p: bombs.large_csv(p / "normal.csv", 100_000 if quick else 600_000),
        ),
        ("normal XLSX", lambda p: bombs.normal_xlsx(p / "normal.xlsx", 30_000 if quick else 200_000)),
    ]
    src = ROOT / "src"
    print(f"{'file':38} {'size MB':>8} {'target MB':>9}  {'peak MB':>8} {'s':>6}  outcome")
    with tempfile.TemporaryDirectory(prefix="phaseout-mem-") as tmp:
        work = Path(tmp)
        for label, make in cases:
            path = make(work)
            size = path.stat().st_size
            target = 300 + 2 * size / MB
            runs = [("after", src, 0)]
            if args.baseline_src:
                runs.insert(0, ("before", args.baseline_src, args.baseline_cap * MB))
            for name, code, cap in runs:
                db = work / f"{name}-{path.stem}.db"
                outcome, peak, seconds = measure(code, path, db, cap, args.timeout)
                flag = "ok" if peak <= target else "OVER"
                print(
                    f"{label + ' [' + name + ']':38} {size / MB:8.2f} {target:9.0f}  {peak:8.0f} {seconds:6.1f}  "
                    f"{flag}; {outcome}",
                    flush=True,
                )
                for leftover in work.glob(f"{db.name}*"):
                    leftover.unlink()
            path.unlink()


if __name__ == "__main__":
    main()
