"""Exposure, risk and mitigations (pure), and `phaseout assess` over a stored estate."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.assess.exposure import exposure_findings
from phaseout.assess.risk import device_risk, mitigations_for
from phaseout.policy.packs import available_packs
from phaseout.store import Store

TODAY = dt.date(2026, 11, 29)


def test_exposure_findings() -> None:
    sadp = {"kind": "sadp", "raw": "<ProbeMatch><HCPlatformEnable>true</HCPlatformEnable></ProbeMatch>"}
    found = {
        f.ref
        for f in exposure_findings(
            "8.8.4.4", "V5.4.0 build 160530", [{"kind": "http", "tls": False, "raw": ""}, sadp, {"kind": "upnp"}], TODAY
        )
    }
    assert found == {"public-address", "old-firmware", "http-without-tls", "p2p-cloud", "upnp"}
    assert exposure_findings("127.0.0.5", "V5.7.3 build 250101", [{"kind": "http", "tls": True}], TODAY) == []


def test_risk_is_traceable_and_weighs_role_and_site() -> None:
    findings = [
        {"kind": "policy", "ref": "ORG sensitive sites", "status": "breach", "severity": "critical"},
        {
            "kind": "vulnerability",
            "ref": "CVE-2021-33044",
            "status": "affected",
            "severity": "critical",
            "kev": True,
            "cvss": 9.8,
        },
        {"kind": "exposure", "ref": "upnp", "status": "exposed", "severity": "medium"},
        {"kind": "policy", "ref": "ORG no new installs", "status": "applies", "severity": "high"},
    ]
    camera, parts = device_risk(findings, "camera", 0, sensitive=False)
    assert camera == round(40 + 9.8 * 3 + 25 + 8, 1)
    assert {p.ref for p in parts} == {"ORG sensitive sites", "CVE-2021-33044", "upnp"}
    recorder, parts = device_risk(findings, "recorder", 32, sensitive=True)
    assert recorder == round(camera * 3 * 1.5, 1)
    assert {p.ref for p in parts} >= {"role", "site"}
    assert sum(p.points for p in parts) == recorder or abs(sum(p.points for p in parts) - recorder) < 0.1


def test_mitigations_say_how_to_verify() -> None:
    found = [
        {"kind": "exposure", "ref": "p2p-cloud", "status": "exposed", "severity": "high"},
        {"kind": "vulnerability", "ref": "CVE-2017-7921", "status": "unknown", "severity": "critical"},
        {"kind": "policy", "ref": "X", "status": "breach", "severity": "high"},
    ]
    actions = {m["action"]: m for m in mitigations_for(found, "hikvision")}
    assert {"isolate", "block-outbound", "disable-p2p", "update-firmware", "rotate-passwords"} <= set(actions)
    assert all(m["verify"] for m in actions.values())
    assert mitigations_for([], "axis") == []


def test_assessment_over_the_store(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("Code,Name,Sensitive\nA,Depot,yes\nB,Shop,no\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text(
        "Site,Make,Model,MAC,IP,Firmware,Name,Recorder\n"
        'A,Amcrest,IPC-HDW5831R-ZE,9C:8E:CD:00:00:01,127.30.0.1,"2.800.0000016.0.R,build:2020-06-05",Gate,NVR\n'
        "A,Dahua,DHI-NVR4108HS-8P-4KS2,3C:EF:8C:00:00:02,127.30.0.2,,NVR,\n"
        "B,Axis,P3245-LVE,00:40:8C:00:00:03,127.30.1.1,10.12.199,Till,\n",
        encoding="utf-8",
    )
    packs = available_packs()
    with Store.open(db_url) as store:
        Phaseout(store).import_sites(tmp_path / "s.csv")
        Phaseout(store).import_devices(tmp_path / "c.csv")
        results = {a.model: a for a in run_assessment(store.engine, [packs["org-template"]], TODAY)}
        again = run_assessment(store.engine, [packs["org-template"]], TODAY)  # replaced, not added
        assert len(again) == 3 and store.counts()["devices"] == 3
    amcrest = results["IPC-HDW5831R-ZE"]
    refs = {f["ref"]: f["status"] for f in amcrest.findings}
    assert refs["ORG sensitive sites"] == "breach" and refs["CVE-2021-33044"] == "affected"
    assert amcrest.vendor == "dahua" and amcrest.brand == "Amcrest"
    nvr = results["DHI-NVR4108HS-8P-4KS2"]
    assert any(p["ref"] == "role" for p in nvr.risk_parts)  # the recorder holds the camera
    axis = results["P3245-LVE"]
    assert axis.findings == [] and axis.risk == 0


def test_assess_command_jsonl(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path), "COLUMNS": "200", "PATH": "", "PHASEOUT_DB": str(tmp_path / "a.db")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "phaseout", *args], capture_output=True, text=True, timeout=120, env=env
        )

    (tmp_path / "c.csv").write_text(
        "Site,Make,Model,Firmware\nS1,Hikvision,DS-2CD2132F-IS,V5.3.0 build 150513\n", encoding="utf-8"
    )
    assert cli("import", str(tmp_path / "c.csv")).returncode == 0
    assert cli("policy", "use", "us-ndaa-889").returncode == 0
    table = cli("assess", "--today", "2026-11-29")
    assert table.returncode == 0 and "riskiest sites" in table.stdout
    lines = [json.loads(x) for x in cli("assess", "-f", "jsonl").stdout.splitlines()]
    (device,) = lines
    assert set(device) >= {"device", "site", "vendor", "brand", "risk", "findings", "mitigations"}
    kinds = {(f["kind"], f["ref"], f["status"]) for f in device["findings"]}
    assert ("vulnerability", "CVE-2017-7921", "affected") in kinds
    assert ("policy", "NDAA-889(a)(1)(B)", "breach") in kinds
    assert device["risk"] > 0 and device["mitigations"]
