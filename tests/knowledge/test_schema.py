"""The knowledge files are checked by a schema: a misspelt key fails `phaseout knowledge check`
with its file and line (issue 12), identification weights are data, and "covered" is decided by
the policy packs alone."""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from phaseout.identify import Identifier
from phaseout.knowledge.check import check_knowledge
from phaseout.knowledge.index import Knowledge
from phaseout.knowledge.load import data_folder, load_raw
from phaseout.policy.packs import available_packs, covered_makers


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(data_folder(), folder)
    return folder


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` line; returns its 1-based line number."""
    lines = path.read_text("utf-8").split("\n")
    number = lines.index(old)
    lines[number] = new
    path.write_text("\n".join(lines), "utf-8")
    return number + 1


def test_packaged_knowledge_passes() -> None:
    report = check_knowledge()
    assert report.ok, report.problems


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("signals.toml", "weight = 0.9", "wieght = 0.9", "unknown key 'wieght'"),
        ("signals.toml", "ignore_case = true", "ignore_cse = true", "unknown key 'ignore_cse'"),
        ("models.toml", "weight = 0.9", "weigth = 0.9", "unknown key 'weigth'"),
        ("brands.toml", 'confidence = "confirmed"', 'confidense = "confirmed"', "unknown key 'confidense'"),
        ("makers.toml", "registrant_weight = 0.8", "covered = true", "'covered' is no longer read"),
        ("weights.toml", "registry = 0.6", "registri = 0.6", "unknown key 'registri'"),
    ],
)
def test_a_misspelt_key_fails_with_its_line(copy: Path, file: str, old: str, new: str, message: str) -> None:
    line = _edit(copy / file, old, new)
    report = check_knowledge(copy)
    assert not report.ok
    hits = [p for p in report.problems if message in p]
    assert hits, report.problems
    assert hits[0].startswith(f"{file}:{line}:"), hits[0]


def test_an_unknown_oui_column_fails(copy: Path) -> None:
    path = copy / "oui.csv"
    text = path.read_text("utf-8").replace("prefix,registrant,maker,", "prefix,registrant,makr,", 1)
    path.write_text(text, "utf-8")
    _raw, problems = load_raw(copy)
    assert any("unknown column 'makr'" in p for p in problems)
    assert any("missing column 'maker'" in p for p in problems)


def test_weights_are_data(copy: Path) -> None:
    """Raising min_score in weights.toml turns a one-signal identification into unknown."""
    observations = [{"kind": "http", "raw": "HTTP/1.1 200 OK\r\nServer: App-webs/\r\n\r\n"}]
    assert Identifier().identify(observations).vendor == "hikvision"
    _edit(copy / "weights.toml", "min_score = 0.35", "min_score = 0.9")
    raw, problems = load_raw(copy)
    assert not problems
    assert Identifier(Knowledge(raw)).identify(observations).vendor == "unknown"


def test_a_weight_out_of_range_is_refused(copy: Path) -> None:
    line = _edit(copy / "weights.toml", "model_prefix = 0.6", "model_prefix = 1.6")
    _raw, problems = load_raw(copy)
    assert any(p.startswith(f"weights.toml:{line}:") and "model_prefix" in p for p in problems)


def test_covered_is_decided_by_the_packs() -> None:
    packs = available_packs()
    covered = covered_makers([packs["us-ndaa-889"]])
    assert {"hikvision", "dahua"} <= set(covered)
    assert "axis" not in covered
    assert covered_makers([]) == {}


def test_every_citation_resolves_inside_the_repository_or_to_a_public_source() -> None:
    """No knowledge entry, vulnerability or policy pack cites a file outside the repository
    (../shared, research notes)."""
    outside = re.compile(
        r"\.\./shared|\.\./\.\./|shared/research|(?<![\w/])(?:signals|brands|models|oui|policies)\.md\b"
    )
    folder = data_folder()
    vulnerabilities = Path(str(resources.files("phaseout.assess").joinpath("data/vulnerabilities.toml")))
    packs = sorted(Path(str(resources.files("phaseout.policy").joinpath("packs"))).glob("*.toml"))
    offenders = [
        f"{path.name}:{n}"
        for path in [*sorted(folder.iterdir()), vulnerabilities, *packs]
        if path.suffix in (".toml", ".csv")
        for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if outside.search(line)
    ]
    assert not offenders, offenders
