"""The catalogue: bad lines refused with their number; covered makers refused under any label;
makers on other lists, or unknown ones, flagged; like-for-like matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseout.errors import DataError
from phaseout.knowledge import load_knowledge
from phaseout.plan.catalogue import check_item, covered_makers, parse_rows, read_catalogue, sample_catalogue_path
from phaseout.plan.replace import DeviceSpec, Matcher, best_match
from phaseout.policy.packs import available_packs

HEADER = "sku,maker,brand,type,form_factor,megapixels,outdoor,ir,audio,channels,unit_price,install_hours,approved"


def _rows(text: str) -> list[tuple[int, list[object]]]:
    return [(i, line.split(",")) for i, line in enumerate(text.strip().splitlines(), start=1)]


def _packs() -> list:  # type: ignore[type-arg]
    packs = available_packs()
    return [packs["us-ndaa-889"]]


def test_the_sample_catalogue_refuses_the_oem_label_and_flags_uniview() -> None:
    cat = read_catalogue(sample_catalogue_path(), load_knowledge(), _packs())
    refused = {item.sku: reason for item, reason in cat.refused}
    flagged = {item.sku: reason for item, reason in cat.flagged}
    assert list(refused) == ["ANX-BUL-4-IR"]
    assert "Hikvision" in refused["ANX-BUL-4-IR"] and "us-ndaa-889" in refused["ANX-BUL-4-IR"]
    assert "UV-BUL-4-IR" in flagged and "Texas" in flagged["UV-BUL-4-IR"]
    assert [i.sku for i in cat.not_approved] == ["AX-BUL-4-OLD"]
    assert "ANX-BUL-4-IR" not in {i.sku for i in cat.items}
    assert "UV-BUL-4-IR" in {i.sku for i in cat.items}


def test_without_packs_nothing_is_refused() -> None:
    cat = read_catalogue(sample_catalogue_path(), load_knowledge(), [])
    assert not cat.refused


@pytest.mark.parametrize(
    ("maker", "brand", "verdict"),
    [
        ("Dahua", "", "refused"),
        ("Zhejiang Dahua Technology Co Ltd", "", "refused"),
        ("Lorex", "Lorex", "refused"),  # a Dahua label (at the times the knowledge records)
        ("Axis", "HiLook", "refused"),  # a covered label in the brand column is enough
        ("Axis", "Axis", "ok"),
        ("Made-Up Optics Ltd", "", "flagged"),
    ],
)
def test_items_are_checked_through_the_brand_relations(maker: str, brand: str, verdict: str) -> None:
    text = f"{HEADER}\nX1,{maker},{brand},camera,dome,4,yes,yes,no,,300,2,yes"
    (item, approved), *_ = parse_rows(_rows(text))
    assert approved
    assert check_item(item, load_knowledge(), covered_makers(_packs()))[0] == verdict


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("X1,Axis,,camera,dome,4,maybe,yes,no,,300,2,yes", "line 2: outdoor must be yes or no"),
        ("X1,Axis,,camera,dome,4.5,yes,yes,no,,300,2,yes", "line 2: megapixels must be a whole number"),
        ("X1,Axis,,camera,dome,4,yes,yes,no,,-3,2,yes", "line 2: unit_price must be a number >= 0"),
        ("X1,Axis,,spaceship,dome,4,yes,yes,no,,300,2,yes", "line 2: type must be one of"),
        (",Axis,,camera,dome,4,yes,yes,no,,300,2,yes", "line 2: sku is empty"),
        ("X1,Axis,,recorder,,0,no,no,no,,900,2,yes", "line 2: a recorder needs its number of channels"),
    ],
)
def test_bad_lines_are_refused_with_their_number(line: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_rows(_rows(f"{HEADER}\n{line}"))
    assert message in (caught.value.hint or "")


def test_missing_and_misspelt_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        parse_rows(_rows("sku,maker,typo_column\nX,Axis,1"))
    assert "missing column(s)" in (caught.value.hint or "") and "typo_column" in (caught.value.hint or "")
    dup = f"{HEADER}\nX1,Axis,,camera,dome,4,yes,yes,no,,300,2,yes\nX1,Axis,,camera,dome,4,yes,yes,no,,300,2,yes"
    with pytest.raises(DataError, match="already on line 2"):
        parse_rows(_rows(dup))


def test_like_for_like_meets_or_beats_the_old_device() -> None:
    cat = read_catalogue(sample_catalogue_path(), load_knowledge(), _packs())
    match = Matcher(cat.items, labour_rate=50)
    dome4 = match(DeviceSpec("camera", "dome", 4))
    assert dome4.item is not None and dome4.item.sku == "HW-DOM-4-IR"
    dome6 = match(DeviceSpec("camera", "dome", 6))
    assert dome6.item is not None and dome6.item.megapixels >= 6 and dome6.item.form_factor == "dome"
    bullet = match(DeviceSpec("camera", "bullet", 4))
    assert bullet.item is not None and bullet.item.sku == "UV-BUL-4-IR"  # cheapest approved, flagged
    indoor_audio = match(DeviceSpec("camera", "cube", 2, audio=True))
    assert indoor_audio.item is not None and indoor_audio.item.audio
    nvr = match(DeviceSpec("recorder", channels=8, cameras_recorded=12))
    assert nvr.item is not None and nvr.item.channels >= 12
    assert match(DeviceSpec("camera", "dome", 40)).item is None
    assert "no approved catalogue item" in match(DeviceSpec("camera", "dome", 40)).reason
    assert best_match(DeviceSpec("unknown"), cat.items, 50).item is None
