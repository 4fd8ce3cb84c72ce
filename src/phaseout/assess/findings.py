"""What every finding (policy, vulnerability, exposure) shares: how it is written out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


def finding_dict(finding: Any) -> dict[str, Any]:
    """A finding dataclass as the JSON object ``phaseout assess`` writes: tuples as lists,
    dates as ISO strings, field order kept."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(finding):
        value = getattr(finding, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[f.name] = value
    return out
