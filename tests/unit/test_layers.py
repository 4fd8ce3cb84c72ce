"""Dependencies point down only (issue 12): adapters -> app -> pure packages -> domain; the
store and the read side (queries) depend on the domain alone.  Every ``import`` in the package,
at module level or inside a function, is checked by walking the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "phaseout"

BASE = {"domain", "errors", "normalize", "__init__"}
PURE = {"knowledge", "identify", "assess", "policy", "plan", "track", "estate", "ingest", "discover", "emulate"}
PURE |= {"alert"}  # alert rules, destinations and messages (pure); its senders do I/O as discover's probes do
ADAPTERS = {"cli", "web", "report", "export", "demo", "__main__"}

#: what each layer may import from phaseout (by top-level package or module)
ALLOWED: dict[str, set[str]] = {
    "base": BASE,
    "store": BASE | {"store"},
    "queries": BASE | {"store", "queries"},
    "pure": BASE | PURE,
    "app": BASE | PURE | {"store", "queries", "app"},
    "adapters": BASE | PURE | {"store", "queries", "app"} | ADAPTERS,
}


def _layer(top: str) -> str:
    if top in BASE:
        return "base"
    if top in ("store", "queries", "app"):
        return top
    if top in PURE:
        return "pure"
    if top in ADAPTERS:
        return "adapters"
    raise AssertionError(f"phaseout.{top} belongs to no layer: add it to tests/unit/test_layers.py")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "phaseout" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_import(path: Path) -> None:
    rel = path.relative_to(SRC)
    top = rel.parts[0].removesuffix(".py")
    layer = _layer(top)
    bad = [f"line {line}: phaseout.{target}" for line, target in _imports(path) if target not in ALLOWED[layer]]
    assert not bad, f"{rel} ({layer}) imports upward: {', '.join(bad)}"


def test_the_walk_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself: a store module importing the identification engine is caught."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from phaseout.identify import Identifier\n", encoding="utf-8")
    assert [t for _l, t in _imports(module)] == ["identify"]
    assert "identify" not in ALLOWED["store"]
