"""A scope that allows everything is no scope: ``0.0.0.0/0``, ``::/0`` and the typo
``127.0.0.0/0`` (every IPv4 address) were accepted silently before; now they are refused with
the reason, unless --allow-wide-scope says the breadth is meant."""

from __future__ import annotations

import pytest

from phaseout.cli import main
from phaseout.discover.scope import in_scope, parse_scope
from phaseout.errors import UsageError


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ("0.0.0.0/0", "every IPv4 address"),
        ("::/0", "every IPv6 address"),
        ("127.0.0.0/0", "every IPv4 address"),
        ("10.0.0.0/7", "10.0.0.0/7"),
        ("fd00::/32", "fd00::/32"),
    ],
)
def test_wide_scopes_are_refused_with_the_reason(scope: str, says: str) -> None:
    with pytest.raises(UsageError, match="wider than") as info:
        parse_scope([scope])
    assert says in info.value.message
    assert info.value.hint is not None and "--allow-wide-scope" in info.value.hint
    assert info.value.exit_code == 2


def test_the_typo_gets_what_was_probably_meant() -> None:
    with pytest.raises(UsageError) as info:
        parse_scope(["127.0.0.0/0"])
    assert info.value.hint is not None and "127.0.0.0/8" in info.value.hint


def test_sane_scopes_and_forced_wide_ones_are_accepted() -> None:
    assert [str(n) for n in parse_scope(["10.0.0.0/8", "127.20.0.0/16", "fd00:1::/48"])] == [
        "10.0.0.0/8",
        "127.20.0.0/16",
        "fd00:1::/48",
    ]
    assert str(parse_scope(["0.0.0.0/0"], allow_wide=True)[0]) == "0.0.0.0/0"
    assert in_scope(["127.20.0.1"], ["127.0.0.0/0"], allow_wide=True) == ["127.20.0.1"]


def test_scan_cli_refuses_before_sending(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--db", f"{tmp_path}/t.db", "scan", "127.20.0.1", "--scope", "127.0.0.0/0", "--no-store"])
    assert info.value.code == 2
    assert "wider than /8" in " ".join(capsys.readouterr().err.split())
