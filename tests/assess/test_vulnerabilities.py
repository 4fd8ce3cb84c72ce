"""Every curated vulnerability against its own examples: model families (examples must match,
counter-examples must not) and version decisions (affected, fixed, unknown, or none)."""

from __future__ import annotations

import pytest

from phaseout.assess.vulnerabilities import check, findings_for, load_vulnerabilities, severity_of
from phaseout.identify.models import normalize_model

VULNS = {v.cve: v for v in load_vulnerabilities()}


@pytest.mark.parametrize("cve", sorted(VULNS))
def test_entry_is_sourced_and_its_ranges_match_their_examples(cve: str) -> None:
    vuln = VULNS[cve]
    assert vuln.sources and vuln.summary and vuln.maker in ("hikvision", "dahua")
    for rng in vuln.ranges:
        assert rng.examples and rng.counter
        assert rng.first is not None or rng.before is not None or rng.built_before is not None or rng.unknown
        for model in rng.examples:
            assert rng.models.fullmatch(normalize_model(model)), (cve, model)
        for model in rng.counter:
            assert not rng.models.fullmatch(normalize_model(model)), (cve, model)


@pytest.mark.parametrize(("cve", "case"), [(cve, case) for cve, v in sorted(VULNS.items()) for case in v.decide])
def test_version_decisions(cve: str, case: dict[str, str]) -> None:
    assert VULNS[cve].decide, f"{cve} has no decision examples"
    label = VULNS[cve].labels[0] if VULNS[cve].labels else None
    found = check(VULNS[cve], VULNS[cve].maker, case["model"], case["firmware"] or None, label)
    assert (found.status if found else "none") == case["status"]


def test_oem_units_follow_their_maker() -> None:
    amcrest = findings_for("dahua", "IPC-HDW5831R-ZE", "2.800.0000016.0.R,build:2020-06-05", label="Amcrest")
    assert {f.ref: f.status for f in amcrest}["CVE-2021-33044"] == "affected"
    assert "sold as Amcrest" in amcrest[0].evidence[0]
    assert findings_for("axis", "IPC-HDW5831R-ZE", "2.800.0000016.0.R,build:2020-06-05") == []


def test_older_than_the_affected_range_is_not_a_finding() -> None:
    old = check(VULNS["CVE-2017-7921"], "hikvision", "DS-2CD2132F-IS", "V5.1.0 build 130101")
    assert old is None


def test_severity_bands() -> None:
    assert severity_of(5.0, kev=True) == "critical"
    assert [severity_of(s, kev=False) for s in (9.8, 7.5, 5.0, 2.0, None)] == [
        "critical",
        "high",
        "medium",
        "low",
        "medium",
    ]


def test_kev_entries_without_a_curated_range_follow_the_oem_chain() -> None:
    from pathlib import Path

    from phaseout.assess.feeds import read_kev

    from ..conftest import SHARED

    def entry(cve: str, vendor: str) -> dict[str, str]:
        return {
            "cve": cve,
            "vendor": vendor,
            "product": "Cameras",
            "name": f"{vendor} flaw",
            "date_added": "2026-01-01",
            "due_date": "2026-01-22",
            "required_action": "Apply updates.",
        }

    kev = {"CVE-2099-0001": entry("CVE-2099-0001", "Amcrest"), "CVE-2099-0002": entry("CVE-2099-0002", "Dahua")}
    amcrest = {f.ref: f for f in findings_for("dahua", "IP4M-1041B", None, "Amcrest", kev)}
    assert amcrest["CVE-2099-0001"].status == "unknown" and amcrest["CVE-2099-0001"].kev
    assert "this device's label" in amcrest["CVE-2099-0001"].evidence[0]
    assert "the maker of this device (sold as Amcrest)" in amcrest["CVE-2099-0002"].evidence[0]
    lorex = {f.ref for f in findings_for("dahua", "LNB8005-C", None, "Lorex", kev)}
    assert "CVE-2099-0002" in lorex and "CVE-2099-0001" not in lorex  # Dahua's flaw reaches Lorex; Amcrest's does not
    assert findings_for("axis", "P3245-LVE", None, "Axis", kev) == []
    sample = SHARED / "research" / "knowledge" / "cve_samples" / "kev_excerpt.json"
    if sample.exists():  # the real catalogue: curated CVEs are not reported twice
        real = {
            e.cve: {
                "cve": e.cve,
                "vendor": e.vendor,
                "product": e.product,
                "name": e.name,
                "date_added": str(e.date_added),
                "due_date": str(e.due_date),
                "required_action": e.required_action,
            }
            for e in read_kev(Path(sample)).entries.values()
        }
        refs = [f.ref for f in findings_for("dahua", "IPC-HDW5831R-ZE", None, "Amcrest", real)]
        assert len(refs) == len(set(refs))


def test_an_oem_flaw_reaches_only_that_label() -> None:
    amcrest = check(VULNS["CVE-2020-5735"], "dahua", "IP4M-1041B", None, "Amcrest")
    assert amcrest is not None and amcrest.status == "unknown" and amcrest.severity == "critical"
    assert check(VULNS["CVE-2020-5735"], "dahua", "IPC-HDW5831R-ZE", None, "Dahua") is None
