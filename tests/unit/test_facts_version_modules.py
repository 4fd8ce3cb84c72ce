"""The facts version (a digest of the parsers' source) covers every module whose code decides an
answer's facts: a collector whose printout layer differs from the server's must not claim the
server's version (its facts would be trusted though read otherwise)."""

from __future__ import annotations

import sys

from phaseout.identify import facts
from phaseout.identify.facts_wire import PARSER_MODULES


def test_every_reader_facts_calls_is_in_the_digest() -> None:
    used = {
        getattr(value, "__module__", None) or getattr(value, "__name__", None)
        for value in vars(facts).values()
        if callable(value) or type(value).__name__ == "module"
    }
    readers = {name for name in used if name and name.startswith("phaseout.identify.") and name != facts.__name__}
    digested = {module.__name__ for module in PARSER_MODULES}
    assert readers <= digested, f"not in the facts version: {sorted(readers - digested)}"
    assert all(name in sys.modules for name in digested)
