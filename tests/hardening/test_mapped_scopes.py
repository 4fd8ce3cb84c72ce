"""The scope guard against the IPv4-mapped IPv6 form: ``::ffff:0:0/96`` is every IPv4 address
(a connection to ``::ffff:10.1.2.3`` is made to 10.1.2.3), so it must not pass as a narrow IPv6
/96 where the IPv4 ``0.0.0.0/0`` is refused, neither for a scan nor for a collector's scopes."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.discover.scope import in_scope, parse_scope
from phaseout.errors import UsageError
from phaseout.store import Store


@pytest.mark.parametrize("scope", ["::ffff:0:0/96", "::ffff:0.0.0.0/96", "::ffff:a00:0/104", "::FFFF:10.9.0.0/120"])
def test_mapped_scopes_are_refused_with_the_ipv4_form_as_hint(scope: str) -> None:
    with pytest.raises(UsageError, match="IPv4-mapped") as caught:
        parse_scope([scope])
    assert "0/" in (caught.value.hint or "")


def test_a_mapped_target_never_matches_an_ipv4_scope() -> None:
    with pytest.raises(UsageError, match="outside"):
        in_scope(["::ffff:10.9.0.5"], ["10.9.0.0/24"])


def test_a_collector_cannot_be_given_a_mapped_scope(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "s.db")) as store, pytest.raises(UsageError, match="IPv4-mapped"):
        use.new_code(Phaseout(store, actor="t"), "store-1", ["S1"], ["::ffff:0:0/96"])


def test_ordinary_ipv6_scopes_still_work() -> None:
    assert [str(n) for n in parse_scope(["fd00:1:2::/64"])] == ["fd00:1:2::/64"]
