"""Run every rule's own examples: the same checks for the test suite and for a user who edits
the knowledge files (``phaseout knowledge check``).

- a grammar example must be matched first by its own rule (a rule earlier in the file that
  matches it too *shadows* it) and decode to the fields the example states;
- a banner example must match its rule, with the captures it states, and no rule of another
  maker on the same field may match it;
- a counter-example must not match its rule;
- every rule has examples and counter-examples, every entry a source (checked on load).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from phaseout.identify.models import match_model, normalize_model
from phaseout.knowledge.index import Knowledge
from phaseout.knowledge.load import load_raw


@dataclass(slots=True)
class CheckReport:
    folder: str
    rules: int = 0
    examples: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_grammar(k: Knowledge, report: CheckReport) -> None:
    for rule in k.grammar:
        report.rules += 1
        for ex in rule.examples:
            report.examples += 1
            decoded = match_model(k.grammar, ex.text)
            if decoded is None:
                report.problems.append(f"models.toml {rule.id}: example {ex.text!r} matches no rule")
                continue
            if decoded.rule.id != rule.id:
                report.problems.append(
                    f"models.toml {rule.id}: example {ex.text!r} is shadowed by earlier rule {decoded.rule.id}"
                )
                continue
            for key, want in ex.expect.items():
                got = getattr(decoded, key, None)
                if got != want:
                    report.problems.append(
                        f"models.toml {rule.id}: example {ex.text!r} decodes {key}={got!r}, expected {want!r}"
                    )
        for text in rule.counter:
            report.examples += 1
            if rule.pattern.fullmatch(normalize_model(text)):
                report.problems.append(f"models.toml {rule.id}: counter-example {text!r} matches")


def check_signals(k: Knowledge, report: CheckReport) -> None:
    for fld, rules in k.signals_by_field.items():
        for rule in rules:
            report.rules += 1
            for ex in rule.examples:
                report.examples += 1
                m = rule.pattern.search(ex.text)
                if not m:
                    report.problems.append(f"signals.toml {rule.id}: example {ex.text[:60]!r} does not match")
                    continue
                for key, want in ex.expect.items():
                    got = m.groupdict().get(key)
                    if got != want:
                        report.problems.append(
                            f"signals.toml {rule.id}: example captures {key}={got!r}, expected {want!r}"
                        )
                for other in rules:
                    if other is not rule and other.maker != rule.maker and other.pattern.search(ex.text):
                        report.problems.append(
                            f"signals.toml {rule.id}: example {ex.text[:60]!r} also matches {other.id} "
                            f"({other.maker}) on {fld}"
                        )
            for text in rule.counter:
                report.examples += 1
                if rule.pattern.search(text):
                    report.problems.append(f"signals.toml {rule.id}: counter-example {text[:60]!r} matches")


def check_knowledge(folder: str | Path | None = None) -> CheckReport:
    raw, problems = load_raw(folder)
    report = CheckReport(raw.folder, problems=list(problems))
    k = Knowledge(raw)
    check_grammar(k, report)
    check_signals(k, report)
    return report
