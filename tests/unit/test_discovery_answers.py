"""Every emulated discovery answer (WS-Discovery, SADP, DHDiscover) is identified as its maker,
and no other maker's answer is taken for a covered one."""

from __future__ import annotations

import pytest

from phaseout.discover.multicast import KIND, probe_payload, reply_text
from phaseout.emulate.devices import _discovery_answer, load_profiles, plan_devices
from phaseout.identify import Identifier

PROFILES = sorted(n for n, p in load_profiles().items() if p.discovery)


@pytest.mark.parametrize("name", PROFILES)
def test_discovery_answers_identify_the_maker(name: str) -> None:
    profile = load_profiles()[name]
    device = plan_devices([name], 1, "127.0.0.5")[0]
    identifier = Identifier()
    for protocol in ("wsd", "sadp", "dhdiscover"):
        if not profile.discovery.get(protocol):
            continue
        answer = _discovery_answer(device, protocol, probe_payload(protocol))
        assert answer is not None
        found = identifier.identify([{"kind": KIND[protocol], "raw": reply_text(protocol, answer)}])
        if profile.maker in ("hikvision", "dahua"):
            if protocol != "wsd":  # SADP and DHDiscover name the maker by themselves
                assert found.vendor == profile.maker, (protocol, found.as_dict())
        else:
            assert found.vendor not in ("hikvision", "dahua"), (protocol, found.as_dict())


def test_probes_are_what_the_protocols_expect() -> None:
    assert b"<Types>inquiry</Types>" in probe_payload("sadp")
    dh = probe_payload("dhdiscover")
    assert dh[4:8] == b"DHIP" and b'"DHDiscover.search"' in dh[32:]
    assert b"NetworkVideoTransmitter" in probe_payload("wsd")
    assert reply_text("dhdiscover", b"\x20\x00\x00\x00DHIP" + b"\x00" * 24 + b'{"a":1}') == '{"a":1}'
