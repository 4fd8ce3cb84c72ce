"""Policy packs: the shipped packs load; bad packs are refused with line and reason; every rule
is evaluated as its text says (OEM labels covered, scope, dates)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from phaseout.errors import KnowledgeError
from phaseout.policy.evaluate import DeviceFacts, SiteFacts, evaluate
from phaseout.policy.packs import available_packs, packaged_dir, parse_pack
from tests.support import run_cli

PACKS = available_packs()
TODAY = dt.date(2026, 11, 29)
GOOD = (packaged_dir() / "org-template.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("pack_id", sorted(PACKS))
def test_shipped_packs_are_valid_and_sourced(pack_id: str) -> None:
    pack = PACKS[pack_id]
    assert pack.sources and pack.rules and pack.makers
    assert all(r.source and r.summary and r.effective > dt.date(2000, 1, 1) for r in pack.rules)


def test_expected_packs_ship() -> None:
    assert {"us-ndaa-889", "us-fcc-covered-list", "uk-cabinet-office-2022", "org-template"} <= set(PACKS)
    refs = {r.ref for r in PACKS["us-ndaa-889"].rules}
    assert {"NDAA-889(a)(1)(A)", "NDAA-889(a)(1)(B)", "NDAA-889(b) / 2 CFR 200.216"} == refs


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (('makers = ["hikvision", "dahua"]', 'makers = ["hikvision", "dahau"]'), "maker 'dahau' is not one of", 8),
        (("deadline = 2027-12-31", "deadline = 2027-02-30"), "Invalid date", None),
        (
            ('severity = "high"\nsource = "template"', 'severty = "high"\nsource = "template"'),
            "unknown field 'severty'",
            None,
        ),
        (('action = "do-not-procure"', 'action = "ban"'), "action 'ban' is not one of", None),
        (("deadline = 2026-06-30", "deadline = 2025-06-30"), "is before it takes effect", None),
        (('version = "2026-11-29"', 'versoin = "2026-11-29"'), "unknown field 'versoin'", 5),
    ],
)
def test_bad_packs_are_refused_with_line_and_reason(change: tuple[str, str], message: str, line: int | None) -> None:
    assert change[0] in GOOD
    with pytest.raises(KnowledgeError) as info:
        parse_pack(GOOD.replace(change[0], change[1], 1), "mine.toml")
    text = "\n".join(info.value.problems) or info.value.message
    assert message in text
    if line is not None:
        assert f"mine.toml:{line}:" in text


def _findings(vendor: str, sensitivity: str = "standard", pack: str = "org-template", **kw: object) -> dict[str, str]:
    device = DeviceFacts(
        vendor,
        kw.get("brand"),
        kw.get("relation"),
        str(kw.get("device_type", "camera")),  # type: ignore[arg-type]
        kw.get("zone"),
        0.9,
    )  # type: ignore[arg-type]
    site = SiteFacts(sensitivity, kw.get("next_maintenance"))  # type: ignore[arg-type]
    return {f.ref: f.status for f in evaluate(device, site, [PACKS[pack]], TODAY)}


def test_oem_labels_are_covered_and_other_makers_are_not() -> None:
    assert _findings("dahua", brand="Lorex", relation="formerly-owned")["ORG estate"] == "due"
    assert _findings("axis") == {}
    assert _findings("unknown") == {}


def test_scope_and_deadlines() -> None:
    standard = _findings("hikvision")
    assert standard == {"ORG estate": "due", "ORG no new installs": "applies"}
    sensitive = _findings("hikvision", "sensitive")
    assert sensitive["ORG sensitive sites"] == "breach"  # deadline 2026-06-30 has passed
    uk = _findings("hikvision", "sensitive", "uk-cabinet-office-2022", next_maintenance=dt.date(2027, 3, 1))
    assert uk == {"UK-WMS-2022 removal": "due", "UK-WMS-2022 core network": "unknown", "UK-WMS-2022 deploy": "applies"}
    no_visit = _findings("hikvision", "sensitive", "uk-cabinet-office-2022")
    assert no_visit["UK-WMS-2022 removal"] == "unknown"
    assert "UK-WMS-2022 core network" not in _findings("hikvision", "standard", "uk-cabinet-office-2022", zone="camera")
    assert (
        _findings("hikvision", "standard", "uk-cabinet-office-2022", zone="core")["UK-WMS-2022 core network"]
        == "breach"
    )


def test_rules_not_yet_in_effect_do_not_apply() -> None:
    text = GOOD.replace("effective = 2026-01-01", "effective = 2030-01-01")
    text = text.replace("deadline = 2026-06-30", "deadline = 2030-06-30").replace(
        "deadline = 2027-12-31", "deadline = 2031-12-31"
    )
    pack = parse_pack(text, "future.toml")
    assert evaluate(DeviceFacts("hikvision", device_type="camera"), SiteFacts(), [pack], TODAY) == []


def test_findings_carry_their_evidence() -> None:
    (finding, *_rest) = evaluate(
        DeviceFacts("dahua", "Amcrest", "oem", "camera", None, 0.88), SiteFacts(), [PACKS["us-ndaa-889"]], TODAY
    )
    data = finding.as_dict()
    assert data["status"] == "breach" and data["ref"] == "NDAA-889(a)(1)(B)"
    assert "sold as Amcrest (oem)" in data["evidence"][0]


def test_policy_commands(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path), "COLUMNS": "200", "PHASEOUT_DB": str(tmp_path / "p.db")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("policy", *args, env=env)  # in process: no interpreter start per call

    assert "no pack in use yet" in cli("list").stdout
    mine = tmp_path / "mine.toml"
    mine.write_text(GOOD.replace('id = "org-template"', 'id = "acme-2027"'), encoding="utf-8")
    assert cli("check", str(mine)).returncode == 0
    assert cli("add", str(mine)).returncode == 0
    used = cli("use", "acme-2027", "us-ndaa-889")
    assert used.returncode == 0 and "acme-2027, us-ndaa-889" in used.stdout
    assert "yes" in cli("list").stdout
    assert "NDAA-889(a)(1)(B)" in cli("show", "us-ndaa-889").stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("hikvision", "hikvisionn"), encoding="utf-8")
    refused = cli("check", str(bad))
    assert refused.returncode == 6 and "bad.toml:" in refused.stderr and "hikvisionn" in refused.stderr
    assert cli("use", "nope").returncode == 2
