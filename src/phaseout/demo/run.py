"""Run the demo end to end: build an estate, write its spreadsheets, import them.

Each later stage (identify, assess, plan, serve) adds itself here as it lands, so
``make run`` always shows the whole product as it stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from phaseout.app import Phaseout
from phaseout.app.imports import ImportOptions, ImportResult, Progress
from phaseout.demo.estate import Estate, build_estate
from phaseout.demo.sheets import write_inventories, write_sites
from phaseout.store import Store


@dataclass(slots=True)
class DemoResult:
    workdir: Path
    db: str  # what Store.open() takes: a path or a URL
    db_url: str  # the same, for display (no password)
    estate: Estate
    files: list[Path] = field(default_factory=list)
    imports: list[ImportResult] = field(default_factory=list)


def run_demo(
    workdir: Path,
    *,
    stores: int = 300,
    seed: int = 2026,
    db: str | None = None,
    progress: Callable[[str], Progress] | None = None,
) -> DemoResult:
    """Write the estate's files into ``workdir`` and import them into ``db`` (default: a fresh
    ``workdir/phaseout-demo.db``).  ``progress(label)`` returns a callback per import."""
    workdir.mkdir(parents=True, exist_ok=True)
    if db is None:
        db_path = workdir / "phaseout-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        db = str(db_path)
    estate = build_estate(stores, seed)
    sites_file = write_sites(estate, workdir / "estate-sites.xlsx")
    inventories = write_inventories(estate, workdir, seed)
    result = DemoResult(workdir=workdir, db=db, db_url=db, estate=estate, files=[sites_file, *inventories])
    with Store.open(db) as store:
        result.db_url = store.url_for_display
        res, _ = Phaseout(store).import_sites(sites_file, progress=progress("sites") if progress else None)
        result.imports.append(res)
        for path in inventories:
            # The demo's one semicolon CSV carries a few Excel-mangled MACs on purpose: import
            # the good rows and report the bad, as a real team would.
            opts = ImportOptions(skip_bad=True)
            res, _ = Phaseout(store).import_devices(path, opts, progress=progress(path.name) if progress else None)
            result.imports.append(res)
    return result
