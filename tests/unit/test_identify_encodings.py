"""``phaseout identify`` reads JSON Lines as Windows tools write them: a UTF-8 byte order mark
(Notepad, PowerShell ``Out-File -Encoding utf8``), UTF-16LE with its mark (Windows PowerShell's
``>``), UTF-16 without a mark, UTF-16BE and UTF-32; an over-long line is skipped in every one."""

from __future__ import annotations

import codecs
import io
import json

import pytest

from phaseout.identify import jsonl
from phaseout.identify.engine import Identifier

RECORDS = (
    '{"id":"c1","observations":[{"kind":"inventory","fields":{"manufacturer":"Hik vision",'
    '"model":"DS-2CD2143G2-I"}}]}\n'
    "\n"
    '{"id":2,"observations":[{"kind":"banner","raw":"caf\\u00e9 \\u2603 non-ASCII"}]}\n'
    '{"id":"last","observations":[]}'  # no line end after the last record
)


def _out(data: bytes) -> list[bytes | None]:
    return [line for _n, line in jsonl.read_lines(io.BytesIO(data))]


@pytest.mark.parametrize(
    "data",
    [
        RECORDS.encode(),
        codecs.BOM_UTF8 + RECORDS.encode(),
        codecs.BOM_UTF16_LE + RECORDS.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + RECORDS.encode("utf-16-be"),
        RECORDS.encode("utf-16-le"),
        RECORDS.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + RECORDS.encode("utf-32-le"),
        RECORDS.encode("utf-16"),  # Python's own: mark in the machine's order
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16le", "utf16be", "utf32le-bom", "utf16"],
)
def test_every_encoding_gives_the_same_utf8_lines(data: bytes) -> None:
    lines = _out(data)
    assert [ln.strip() if ln else ln for ln in lines] == [ln.encode().strip() for ln in RECORDS.split("\n")]
    sink = io.BytesIO()
    done, errors = jsonl.run(Identifier(), io.BytesIO(data), sink)
    assert (done, errors) == (3, 0)
    assert b'"vendor":"hikvision"' in sink.getvalue().splitlines()[0]


def test_over_long_utf16_line_is_skipped_and_the_stream_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    data = codecs.BOM_UTF16_LE + ("x" * 5000 + "\n" + '{"id":1,"observations":[]}\n').encode("utf-16-le")
    numbered = list(jsonl.read_lines(io.BytesIO(data)))
    assert numbered[0] == (1, None)
    assert numbered[1][0] == 2 and numbered[1][1] is not None and b'"id":1' in numbered[1][1]


def test_a_cut_utf16_stream_is_read_with_replacement() -> None:
    data = codecs.BOM_UTF16_LE + '{"id":1,"observations":[]}\n'.encode("utf-16-le") + b"{"  # odd byte at the end
    numbered = list(jsonl.read_lines(io.BytesIO(data)))
    assert numbered[0][1] is not None and numbered[0][1].strip() == b'{"id":1,"observations":[]}'
    assert len(numbered) == 2  # the stray byte is a (bad) last line, not a crash


def test_utf8_over_long_line_still_skipped_after_a_bom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 100)
    data = codecs.BOM_UTF8 + b"y" * 500 + b"\n" + b'{"id":1,"observations":[]}\n'
    numbered = list(jsonl.read_lines(io.BytesIO(data)))
    assert numbered[0] == (1, None)
    assert numbered[1] == (2, b'{"id":1,"observations":[]}\n')


def test_a_flat_record_is_read_as_one_inventory_row() -> None:
    """``phaseout devices --format jsonl | phaseout identify``: an exported device (or a register
    row written as JSON) has its fields at the top level, not in ``observations``."""
    exported = (
        '{"id": 7, "site": "S1", "ip": "127.0.0.5", "mac": "28:57:BE:12:34:56", "manufacturer": "HiLook", '
        '"model": "IPC-T240H", "device_type": "unknown", "vendor": "dahua", "id_model": "X"}\n'
        '{"id": 8, "site": "S1"}\n'
    )
    sink = io.BytesIO()
    jsonl.run(Identifier(), io.BytesIO(exported.encode()), sink)
    first, second = (json.loads(line) for line in sink.getvalue().splitlines())
    assert (first["id"], first["vendor"], first["brand"]) == (7, "hikvision", "HiLook")  # not the stale "vendor"
    assert second["id"] == 8 and "observations must be a list" in second["error"]
