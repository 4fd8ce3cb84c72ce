"""The synthetic estate is deterministic and realistic in shape."""

from __future__ import annotations

from collections import Counter

from phaseout.demo.estate import build_estate


def test_same_seed_same_estate() -> None:
    a, b = build_estate(20, seed=5), build_estate(20, seed=5)
    assert [(d.mac, d.model, d.site.code) for d in a.devices] == [(d.mac, d.model, d.site.code) for d in b.devices]
    assert [d.mac for d in build_estate(20, seed=6).devices] != [d.mac for d in a.devices]


def test_shape_of_a_retail_estate() -> None:
    estate = build_estate(300, seed=2026)
    assert len(estate.sites) == 306
    sensitive = [s for s in estate.sites if s.sensitive]
    assert {s.site_type for s in sensitive} == {"distribution centre", "office", "data centre"}
    cams = Counter(d.site.code for d in estate.devices if d.device_type == "camera")
    by_type = {s.code: s.site_type for s in estate.sites}
    hyper = [n for code, n in cams.items() if by_type[code] == "hypermarket"]
    conv = [n for code, n in cams.items() if by_type[code] == "convenience"]
    assert min(hyper) >= 100 and max(hyper) <= 140 and min(conv) >= 8 and max(conv) <= 16
    types = Counter(d.device_type for d in estate.devices)
    assert set(types) == {"camera", "recorder", "body-worn", "intercom", "access-control"}
    vendors = Counter(d.vendor for d in estate.devices)
    assert vendors["hikvision"] > vendors["dahua"] > 0 and vendors["axis"] > 0
    brands = {d.brand for d in estate.devices}
    assert {"HiWatch", "HiLook", "EZVIZ", "LTS", "Annke", "Lorex", "Amcrest", "Imou", "Uniview"} <= brands
    assert len({d.mac for d in estate.devices}) == len(estate.devices)
    assert all(d.ip.startswith("127.") for d in estate.devices)  # demo traffic can only reach this machine
