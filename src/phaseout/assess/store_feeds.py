"""Keep loaded KEV and CVE feeds in the user's knowledge folder, normalised to small JSON files.

Everything is parsed and validated before anything is written, and each file is replaced
atomically, so a bad download changes nothing."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from phaseout.assess.feeds import CveRecord, KevCatalog
from phaseout.knowledge.oui import user_registry_path


def feeds_dir() -> Path:
    return user_registry_path().parent


def _write_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, default=str, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def save_kev(catalog: KevCatalog) -> Path:
    path = feeds_dir() / "kev.json"
    _write_atomic(
        path,
        {
            "catalogVersion": catalog.version,
            "dateReleased": catalog.released,
            "entries": [asdict(e) for e in catalog.entries.values()],
        },
    )
    return path


def save_cves(records: list[CveRecord]) -> tuple[Path, int]:
    """Merge records into ``cves.json`` by id (a newer download replaces an older record)."""
    path = feeds_dir() / "cves.json"
    existing: dict[str, Any] = {}
    if path.exists():
        existing = {r["cve"]: r for r in json.loads(path.read_text(encoding="utf-8")).get("records", [])}
    for record in records:
        existing[record.cve] = asdict(record)
    _write_atomic(path, {"records": sorted(existing.values(), key=lambda r: r["cve"])})
    return path, len(existing)


def load_saved_kev() -> dict[str, dict[str, Any]]:
    """The KEV catalogue loaded with ``knowledge update --kev``, by CVE id (empty if none)."""
    path = feeds_dir() / "kev.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {e["cve"]: e for e in data.get("entries", [])}
    except (ValueError, KeyError, TypeError):
        return {}
