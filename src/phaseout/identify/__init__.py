"""Observations -> Identification (pure): which maker built a device, under which label, what
model it is, how sure we are, and the evidence for each of those."""

from phaseout.identify.engine import Identifier
from phaseout.identify.result import Evidence, Identification

__all__ = ["Evidence", "Identification", "Identifier"]
