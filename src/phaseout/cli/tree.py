"""``phaseout devices --tree``: a site's or a recorder's devices as a tree that fits the terminal:
each recorder with the cameras on its channels, then the devices behind no recorder.

Every name comes from a device or a spreadsheet and may be hostile: labels are built as
:class:`rich.text.Text` (never parsed as markup), and JSON Lines carry the values as data."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import orjson
from rich.text import Text
from rich.tree import Tree

from phaseout.cli.common import console
from phaseout.errors import UsageError
from phaseout.estate.recorders import camera_words, with_words
from phaseout.queries import recorders
from phaseout.store import Store

#: the most devices one tree prints on screen (JSON Lines gives them all, up to the read cap)
SHOWN = 400


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError


def _tree_data(store: Store, site: str | None, recorder: int | None) -> tuple[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        if recorder is not None:
            found = recorders.recorder_subtree(conn, recorder)
            if found is None:
                raise UsageError(f"no device {recorder}", hint="phaseout devices --type recorder lists recorders")
            return f"device {recorder}", found
        assert site is not None
        return f"site {site}", recorders.site_tree(conn, site)


def _device_text(row: dict[str, Any]) -> Text:
    text = Text()
    text.append(f"[{row['id']}] ", style="dim")
    text.append(camera_words(row))
    maker = row.get("vendor") or ""
    if maker and maker != "unknown":
        text.append(f"  {maker}", style="bold red" if row.get("covered") else "")
        if row.get("label") and str(row["label"]).lower() != maker:
            text.append(f" ({row['label']})")
    if row.get("ip"):
        text.append(f"  {row['ip']}", style="cyan")
    return text


def print_tree(store: Store, site: str | None, recorder: int | None, fmt: str) -> None:
    """The tree on screen (``table``) or as JSON Lines (one object per recorder, then one for the
    devices behind no recorder)."""
    if site is None and recorder is None:
        raise UsageError("--tree needs --site CODE or --recorder ID", hint="phaseout devices --tree --site 0042")
    if fmt not in ("table", "jsonl"):
        raise UsageError("--tree prints a tree or JSON Lines", hint="--format jsonl, or leave --tree out for CSV/XLSX")
    name, found = _tree_data(store, site, recorder)
    nodes = [with_words(r) for r in found["recorders"]]
    if fmt == "jsonl":
        out = sys.stdout.buffer
        for node in nodes:
            out.write(orjson.dumps({"recorder": node}, default=_default) + b"\n")
        if recorder is None:
            out.write(orjson.dumps({"behind_no_recorder": found["loose"]}, default=_default) + b"\n")
        return
    behind = sum(len(n["children"]) for n in nodes)
    head = f"{name}: {len(nodes)} recorder(s), {behind} device(s) behind them"
    if recorder is None:
        head += f", {len(found['loose'])} behind no recorder"
    root = Tree(Text(head, style="bold"))
    shown = 0
    for node in nodes:
        label = Text(node["title"], style="bold")
        label.append(f"  [{node['id']}]", style="dim")
        if node.get("covered"):
            label.append(f"  {node.get('vendor')} covered", style="bold red")
        branch = root.add(label)
        for child in node["children"]:
            if shown >= SHOWN:
                break
            text = Text(f"{child['ch']:<8} ")
            text.append_text(_device_text(child))
            branch.add(text)
            shown += 1
    if recorder is None and found["loose"]:
        loose = root.add(Text("behind no recorder", style="bold"))
        for row in found["loose"]:
            if shown >= SHOWN:
                break
            loose.add(_device_text(row))
            shown += 1
    console.print(root)
    total = behind + (len(found["loose"]) if recorder is None else 0)
    if shown < total or found["cut"]:
        console.print(Text(f"{shown:,} devices shown; --format jsonl gives every one", style="dim"))
