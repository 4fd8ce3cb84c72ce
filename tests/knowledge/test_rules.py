"""Every knowledge rule against its own examples (one generic test per rule), and the checker
itself: a rule without examples, a shadowed rule or a failing example must be reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from phaseout.identify.models import Grammar, match_model, normalize_model
from phaseout.knowledge import load_knowledge
from phaseout.knowledge.check import CheckReport, check_grammar, check_knowledge, check_signals
from phaseout.knowledge.index import Knowledge
from phaseout.knowledge.load import data_folder, load_raw

K = load_knowledge()
GRAMMAR_IDS = [r.id for r in K.grammar]
SIGNAL_IDS = [r.id for rules in K.signals_by_field.values() for r in rules]


def _problems_for(rule_id: str) -> list[str]:
    report = CheckReport("packaged")
    check_grammar(K, report)
    check_signals(K, report)
    return [p for p in report.problems if f" {rule_id}:" in p]


@pytest.mark.parametrize("rule_id", GRAMMAR_IDS)
def test_grammar_rule_examples(rule_id: str) -> None:
    rule = next(r for r in K.grammar if r.id == rule_id)
    assert rule.examples and rule.counter and rule.source
    assert _problems_for(rule_id) == []


@pytest.mark.parametrize("rule_id", SIGNAL_IDS)
def test_signal_rule_examples(rule_id: str) -> None:
    rule = next(r for rules in K.signals_by_field.values() for r in rules if r.id == rule_id)
    assert rule.examples and rule.counter and rule.source
    assert _problems_for(rule_id) == []


def test_whole_knowledge_checks_clean() -> None:
    report = check_knowledge()
    assert report.problems == []
    assert report.rules == len(GRAMMAR_IDS) + len(SIGNAL_IDS)


def test_every_entry_has_a_source() -> None:
    raw, problems = load_raw()
    assert problems == []
    assert all(m.sources for m in raw.makers.values())
    assert all(b.sources for b in raw.brands.values())
    assert all(o.source for o in raw.ouis.values())


def test_combined_grammar_agrees_with_rule_by_rule() -> None:
    combined = Grammar(K.grammar)
    texts = [ex.text for r in K.grammar for ex in r.examples] + [t for r in K.grammar for t in r.counter]
    for text in texts:
        one = match_model(K.grammar, text)
        both = combined.match(normalize_model(text))
        assert (one and (one.rule.id, one.megapixels, one.form_factor)) == (
            both and (both.rule.id, both.megapixels, both.form_factor)
        ), text


def test_curated_prefixes_cover_hikvision_blocks_missing_from_netaddr() -> None:
    from phaseout.knowledge.oui import netaddr_registry

    registry = netaddr_registry()
    hik = [p for p, o in K.raw.ouis.items() if o.maker == "hikvision" and len(p) == 6]
    missing = [p for p in hik if p not in registry]
    assert len(hik) >= 100 and missing  # the curated list is what catches them
    for prefix in missing:
        assert K.oui.lookup(prefix + "000000").curated is not None


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(data_folder(), target)
    return target


def test_checker_reports_missing_examples_and_shadowing(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    models = folder / "models.toml"
    text = models.read_text(encoding="utf-8")
    shadow = """
[[rule]]
id = "test.too-broad"
maker = "hikvision"
weight = 0.5
device_type = "camera"
pattern = 'DS-.*'
source = "test"
examples = [{ model = "DS-XYZ" }]
counter = ["AB-1"]
"""
    # put the broad rule first so it shadows the real DS-2CD rule, and add a rule with no examples
    text = text.replace("# ---------------------------------------------------------------- Hikvision", shadow, 1)
    text += (
        '\n[[rule]]\nid = "test.no-examples"\nmaker = "dahua"\nweight = 0.5\ndevice_type = "camera"\n'
        'pattern = "ZZ-\\\\d+"\nsource = "test"\n'
    )
    models.write_text(text, encoding="utf-8")
    report = check_knowledge(folder)
    joined = "\n".join(report.problems)
    assert "hikvision.ipc.ds-2cd: example 'DS-2CD2143G2-I' is shadowed by earlier rule test.too-broad" in joined
    assert "test.no-examples: has no examples" in joined
    assert "test.no-examples: has no counter-examples" in joined


def test_checker_reports_bad_references_and_patterns(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    signals = folder / "signals.toml"
    signals.write_text(
        signals.read_text(encoding="utf-8")
        + """
[[rule]]
id = "test.broken"
field = "nowhere"
maker = "nobody"
weight = 2
pattern = '(unclosed'
source = "test"
examples = [{ text = "x" }]
counter = ["y"]
""",
        encoding="utf-8",
    )
    joined = "\n".join(check_knowledge(folder).problems)
    for part in ("unknown maker 'nobody'", "weight must be", "does not compile", "field must be one of"):
        assert part in joined


def test_knowledge_loads_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy(tmp_path)
    monkeypatch.setenv("PHASEOUT_KNOWLEDGE", str(folder))
    raw, _ = load_raw()
    assert raw.folder == str(folder)
    assert isinstance(Knowledge(raw), Knowledge)
