"""Runs of blank lines, escaped line ends or one character per line cost linear time in every
reader.  Patterns anchored at each line start that let a leading ``\\s*`` run over the following
lines cost quadratic time: a 256 KiB banner of newlines took 14 s (``_PASTED_TITLE``, helper
adv6 found the same in ``_KV_LINE``).  A device in scope can send such an answer, so this is a
hang guard, not a timing: the bound is a hundred times what a linear read takes here."""

from __future__ import annotations

import time

import pytest

from phaseout.identify.facts import gather

SIZE = 262144
HOSTILE = {
    "newlines": "\n" * SIZE,
    "escaped-newlines": "'" + "\\n" * (SIZE // 3) + "'",
    "crlf": "\r\n" * (SIZE // 2),
    "blank-then-newline": " \n" * (SIZE // 2),
    "tab-then-newline": "\t\n" * (SIZE // 2),
    "pipe-lines": "|\n" * (SIZE // 2),
    "quote-lines": "> \n" * (SIZE // 3),
    "brace-lines": "{\n" * (SIZE // 2),
}
KINDS = ("banner", "dhdiscover", "onvif", "sadp", "upnp", "http", "rtsp", "snmp")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_runs_of_lines_are_read_in_linear_time(kind: str, name: str) -> None:
    started = time.perf_counter()
    gather([{"kind": kind, "raw": HOSTILE[name]}])
    assert time.perf_counter() - started < 5.0
