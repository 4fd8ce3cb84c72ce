"""CSV exports read by column names: VMS camera lists, SADP/ConfigTool device lists, NetBox
device exports, runZero CSV, Windows DHCP and Kea lease files, switch tables as CSV.

Each format is a :class:`TableSpec`: the header names that recognise it, the names each
field goes by, what every row of it is (a camera, say), and optionally a function that
turns a row into answers (``sadp``, ``dhdiscover``, stream URLs).  Unmapped columns are kept
as evidence, except any column that looks like a secret (password, token...), which is
dropped: evidence must never hold credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaseout.ingest.formats.common import (
    cell,
    header_index,
    header_score,
    ip_or_none,
    mac_or_none,
    stream_observation,
    url_host,
)
from phaseout.ingest.formats.record import RecordError, SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item
from phaseout.ingest.formats.safe import iter_csv

FIELDS = (
    "site",
    "ip",
    "mac",
    "serial",
    "asset_id",
    "hostname",
    "manufacturer",
    "brand",
    "model",
    "firmware",
    "description",
    "device_type",
    "parent",
)
_SECRET = re.compile(r"pass|secret|token|credential|pwd|key$", re.I)
HEADER_SEARCH = 20
MAX_EXTRA_COLUMNS = 40
RowObservations = Callable[[dict[str, str], SourceRecord], list[dict[str, Any]]]


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    required: tuple[str, ...]  # header names that must all be there to recognise the format
    columns: Mapping[str, tuple[str, ...]]  # field (or "url") -> header names it goes by
    optional: tuple[str, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    observe: RowObservations | None = None
    extensions: tuple[str, ...] = (".csv",)
    example: str = ""
    excluded: tuple[str, ...] = ()  # headers whose presence means another format


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _find_header(rows: list[tuple[int, list[str]]], spec: TableSpec) -> int | None:
    need = {_key(r) for r in spec.required}
    for i, (_line, cells) in enumerate(rows):
        if need <= {_key(c) for c in cells}:
            return i
    return None


def sniffer(spec: TableSpec) -> Callable[[str, str], float]:
    def sniff(head: str, name: str) -> float:
        lines = head.splitlines()[:HEADER_SEARCH]
        best = 0.0
        for i in range(len(lines)):
            text = "\n".join(lines[i : i + 1])
            if spec.excluded and any(_key(x) in _key(text) for x in spec.excluded):
                continue
            best = max(best, header_score(text, spec.required, spec.optional))
        return best

    return sniff


def row_record(spec: TableSpec, file: str, line: int, header: list[str], cells: list[str]) -> Item:
    index = header_index(header, spec.columns)
    values = {f: v for f in [*FIELDS, "url"] if (v := cell(cells, index, f))}
    for multi in ("ip", "mac"):  # runZero and others list every address in one cell: the first is the device's
        if multi in values and "://" not in values[multi]:
            values[multi] = re.split(r"[\s,;]+", values[multi].strip())[0]
    where = f"row {line}"
    rec = SourceRecord(spec.name, file, where)
    raw_ip = values.get("ip")
    url = values.get("url")
    if raw_ip and "://" in raw_ip:
        url, raw_ip = url or raw_ip, url_host(raw_ip) or ""
    rec.ip = ip_or_none(raw_ip)
    if raw_ip and rec.ip is None:
        rec.hostname = clip(raw_ip)
    if url and rec.ip is None and (host := url_host(url)):
        rec.ip = ip_or_none(host)
        rec.hostname = rec.hostname or (clip(host) if rec.ip is None else None)
    if values.get("mac"):
        rec.mac = mac_or_none(values["mac"])
        if rec.mac is None:
            return RecordError(where, f"not a MAC address: {values['mac'][:40]!r}")
        rec.observations.append({"kind": "mac", "value": rec.mac})
    for name in ("site", "serial", "asset_id", "manufacturer", "brand", "model", "firmware", "description", "parent"):
        setattr(rec, name, values.get(name))
    rec.hostname = values.get("hostname") or rec.hostname
    rec.device_type = values.get("device_type") or spec.defaults.get("device_type")
    for name, value in spec.defaults.items():
        if name != "device_type" and getattr(rec, name, None) is None:
            setattr(rec, name, value)
    if url:
        rec.observations.append(stream_observation(url))
    used = set(index.values())
    kept = 0
    row = {}
    for i, head in enumerate(header):
        if i >= len(cells) or not head:
            continue
        row[head] = cells[i]
        if i in used or _SECRET.search(head) or kept >= MAX_EXTRA_COLUMNS:
            continue
        if kept_value := clip(cells[i]):
            rec.extra[head[:64]] = kept_value
            kept += 1
    if spec.observe is not None:
        rec.observations.extend(spec.observe(row, rec))
    if not (rec.has_identity() or rec.description):
        return RecordError(where, "no address, name, serial or model")
    return rec


def reader(spec: TableSpec) -> Callable[[Path], Iterator[Item]]:
    def read(path: Path) -> Iterator[Item]:
        rows = iter_csv(path)
        head: list[tuple[int, list[str]]] = []
        for row in rows:
            head.append(row)
            if len(head) >= HEADER_SEARCH:
                break
        at = _find_header(head, spec)
        if at is None:
            yield RecordError("header", f"no header with the columns {', '.join(spec.required)}")
            return
        header = [h.strip() for h in head[at][1]]

        def body() -> Iterator[tuple[int, list[str]]]:
            yield from head[at + 1 :]
            yield from rows

        for line, cells in body():
            if not any(c.strip() for c in cells):
                continue
            yield row_record(spec, path.name, line, header, cells)

    return read


def table_format(spec: TableSpec) -> Format:
    return Format(spec.name, spec.title, spec.extensions, sniffer(spec), reader(spec), spec.example)
