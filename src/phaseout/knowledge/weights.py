"""Identification weights read from ``weights.toml``: the numbers the engine combines, kept as
data next to the rules so that a change is reviewed (and checked) like any other knowledge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phaseout.knowledge.schema import key_line

#: Every key weights.toml must hold, by table.  All are required: a missing weight is a mistake,
#: not a default.
WEIGHT_KEYS: dict[str, tuple[str, ...]] = {
    "combine": ("min_score",),
    "name": ("device_exact", "device_near", "inventory_exact", "inventory_near"),
    "brand_confidence": ("confirmed", "reported", "suspected"),
    "oui": ("own_confirmed", "formerly_owned_reported", "oem_reported", "oem_suspected", "registry"),
    "serial": ("model_prefix",),
}


@dataclass(frozen=True, slots=True)
class Weights:
    min_score: float
    name: dict[tuple[str, bool], float]  # ("device" | "inventory", exact) -> weight
    brand_confidence: dict[str, float]
    oui: dict[tuple[str, str], float]  # (relation, confidence) -> weight
    oui_registry: float
    serial_model_prefix: float


def parse_weights(text: str, data: dict[str, Any], problems: list[str]) -> Weights:
    """The weights, after checking every table and key (unknown, missing, out of range)."""
    lines = text.splitlines()
    values: dict[tuple[str, str], float] = {}
    for table in data:
        if table not in WEIGHT_KEYS:
            line = key_line(lines, table, 1, len(lines) + 1)
            problems.append(f"weights.toml:{line}: unknown table [{table}] (tables: {', '.join(WEIGHT_KEYS)})")
    for table, keys in WEIGHT_KEYS.items():
        section = data.get(table)
        if not isinstance(section, dict):
            problems.append(f"weights.toml: missing table [{table}]")
            continue
        for key in section:
            if key not in keys:
                line = key_line(lines, key, 1, len(lines) + 1)
                problems.append(f"weights.toml:{line}: [{table}] unknown key {key!r} (keys: {', '.join(keys)})")
        for key in keys:
            value = section.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                line = key_line(lines, key, 1, len(lines) + 1) if key in section else 0
                where = f"weights.toml:{line}" if line else "weights.toml"
                problems.append(f"{where}: [{table}] {key} must be a number in (0, 1]")
                value = 0.5
            values[(table, key)] = float(value)
    return Weights(
        min_score=values[("combine", "min_score")],
        name={
            ("device", True): values[("name", "device_exact")],
            ("device", False): values[("name", "device_near")],
            ("inventory", True): values[("name", "inventory_exact")],
            ("inventory", False): values[("name", "inventory_near")],
        },
        brand_confidence={k: values[("brand_confidence", k)] for k in WEIGHT_KEYS["brand_confidence"]},
        oui={
            ("own", "confirmed"): values[("oui", "own_confirmed")],
            ("formerly-owned", "reported"): values[("oui", "formerly_owned_reported")],
            ("oem", "reported"): values[("oui", "oem_reported")],
            ("oem", "suspected"): values[("oui", "oem_suspected")],
        },
        oui_registry=values[("oui", "registry")],
        serial_model_prefix=values[("serial", "model_prefix")],
    )
