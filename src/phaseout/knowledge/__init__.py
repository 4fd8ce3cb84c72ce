"""Knowledge as data: makers, brands, MAC prefixes, model grammars and banner rules, each entry
with its source and each rule with examples (``data/``).  :func:`load_knowledge` reads, checks
and indexes them once per process."""

from __future__ import annotations

from phaseout.knowledge.index import Knowledge, load_knowledge

__all__ = ["Knowledge", "load_knowledge"]
