"""Hostile and broken files get a clear error, in bounded memory; an unknown file names the
formats tried and the closest one; encodings real exports come in are detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseout.errors import InputFileError, UsageError
from phaseout.ingest.formats import safe
from phaseout.ingest.formats.record import RecordError, SourceRecord
from phaseout.ingest.formats.registry import by_name, detect

NMAP_HEAD = '<?xml version="1.0"?>\n<nmaprun scanner="nmap" args="nmap -oX x.xml" version="7.94">\n'
HOST = (
    '<host><status state="up"/><address addr="192.0.2.{n}" addrtype="ipv4"/>'
    '<address addr="28:57:BE:00:00:{n:02X}" addrtype="mac" vendor="Hangzhou Hikvision Digital Technology"/>'
    "<ports/></host>\n"
)


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_xml_entity_bomb_is_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE nmaprun [\n<!ENTITY a "aaaaaaaaaa">\n'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n]>\n'
        '<nmaprun><host><address addr="&c;" addrtype="ipv4"/></host></nmaprun>\n'
    )
    path = _write(tmp_path, "bomb.xml", bomb)
    with pytest.raises(InputFileError, match="refused XML construct"):
        list(by_name("nmap").read(path))  # type: ignore[misc]


def test_plain_doctype_of_real_nmap_output_is_allowed(tmp_path: Path) -> None:
    text = NMAP_HEAD.replace("<nmaprun", "<!DOCTYPE nmaprun>\n<nmaprun") + HOST.format(n=5) + "</nmaprun>\n"
    (rec,) = list(by_name("nmap").read(_write(tmp_path, "scan.xml", text)))  # type: ignore[misc]
    assert isinstance(rec, SourceRecord) and rec.mac == "28:57:BE:00:00:05"


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.xml", NMAP_HEAD + "<host>" + "<x>" * 500 + "</x>" * 500 + "</host></nmaprun>")
    with pytest.raises(InputFileError, match="nested deeper"):
        list(by_name("nmap").read(path))  # type: ignore[misc]


def test_one_huge_record_is_refused_without_reading_it_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe, "MAX_RECORD_BYTES", 1 << 20)
    huge = NMAP_HEAD + '<host><address addr="192.0.2.1" addrtype="ipv4"/><hostnames><hostname name="' + "a" * (4 << 20)
    path = _write(tmp_path, "huge.xml", huge + '"/></hostnames></host></nmaprun>')
    with pytest.raises(InputFileError, match="without a complete record"):
        list(by_name("nmap").read(path))  # type: ignore[misc]


def test_truncated_xml_names_the_line(tmp_path: Path) -> None:
    text = NMAP_HEAD + HOST.format(n=1) + HOST.format(n=2)[:60]
    with pytest.raises(InputFileError, match=r"broken at line 4, column \d+ inside <host>") as err:
        list(by_name("nmap").read(_write(tmp_path, "cut.xml", text)))  # type: ignore[misc]
    assert "truncated" in (err.value.hint or "")


def test_hundred_megabyte_line_is_an_error_not_a_memory_spike(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    with path.open("wb") as fh:
        fh.write(b"192.0.2.1 28:57:be:00:00:01 Hikvision\n192.0.2.2 ")
        fh.write(b"x" * (safe.MAX_LINE_CHARS + 10))
        fh.write(b"\n")
    with pytest.raises(InputFileError, match="line 2 is longer than"):
        list(by_name("listing").read(path))  # type: ignore[misc]


def test_json_lines_bad_line_is_reported_with_its_position(tmp_path: Path) -> None:
    good = '{"ip_str": "192.0.2.9", "port": 80, "data": "HTTP/1.1 200 OK\\r\\nServer: App-webs/\\r\\n\\r\\n"}'
    path = _write(tmp_path, "banners.json", good + "\n{not json\n" + good + "\n")
    items = list(by_name("shodan").read(path))  # type: ignore[misc]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [e.position for e in errors] == ["line 2"]
    (rec,) = [i for i in items if isinstance(i, SourceRecord)]
    assert rec.observations[0]["kind"] == "http" and "Server: App-webs/" in rec.observations[0]["raw"]


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    deep = '{"ip_str": "192.0.2.1", "port": 1, "data": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(InputFileError, match="depth limit"):
        list(by_name("shodan").read(_write(tmp_path, "deep.json", deep)))  # type: ignore[misc]
    good = '{"ip_str": "192.0.2.2", "port": 1, "data": "x"}'
    items = list(by_name("shodan").read(_write(tmp_path, "deep.jsonl", good + "\n" + deep + "\n")))  # type: ignore[misc]
    assert [i.position for i in items if isinstance(i, RecordError)] == ["line 2"]


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i % 20)}{i}: &n{i} [" + ", ".join(["*a"] * 10) + "]" for i in range(20)]
    path = _write(tmp_path, "go2rtc.yaml", "streams:\n  cam: rtsp://192.0.2.1/x\n" + "\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match="aliases"):
        list(by_name("go2rtc").read(path))  # type: ignore[misc]


def test_unknown_file_names_formats_tried_and_the_closest(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.bin", "hello\nthis is not an export\n")
    with pytest.raises(InputFileError) as err:
        detect(path)
    assert "format not recognised (tried" in str(err.value) and "closest:" in str(err.value)
    assert "mac-table" in str(err.value) and "--format" in (err.value.hint or "")


def test_forced_format_and_unknown_format_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.txt", "192.0.2.7 28:57:be:00:00:07 Hikvision\n")
    assert detect(path, "listing").name == "listing"
    with pytest.raises(UsageError, match="unknown format"):
        detect(path, "pcap")


def test_extension_is_only_a_hint(tmp_path: Path) -> None:
    """An nmap report saved as .txt is still nmap; a CSV named .xml is not XML."""
    assert detect(_write(tmp_path, "scan.txt", NMAP_HEAD + HOST.format(n=3) + "</nmaprun>")).name == "nmap"
    sadp = (
        "ID,Device Type,Status,IPv4 Address,Device Serial No.,MAC Address\n"
        "001,DS-2CD2143G2-I,Active,192.0.2.64,X1,28-57-be-12-34-56\n"
    )
    assert detect(_write(tmp_path, "export.xml", sadp)).name == "sadp"


@pytest.mark.parametrize(
    ("encoding", "model"),
    [
        ("gb18030", "海康威视 DS-2CD2143G2-I"),
        ("big5", "海康威視 DS-2CD2143G2-I"),
        ("shift_jis", "カメラ DS-2CD2143G2-I"),
        ("utf-16", "DS-2CD2143G2-I"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, model: str) -> None:
    """Exports from Chinese, Taiwanese and Japanese Windows tools, and PowerShell's UTF-16."""
    header = "ID,Device Type,Status,IPv4 Address,Software Version,Device Serial No.,MAC Address\n"
    rows = "".join(f"{i:03},{model},激活,192.0.2.{i},V5.7.3,SN{i:04},28-57-be-12-34-{i:02x}\n" for i in range(1, 40))
    if encoding == "shift_jis":
        rows = rows.replace("激活", "有効")
    path = _write(tmp_path, "sadp.csv", (header + rows).encode(encoding))
    recs = [r for r in by_name("sadp").read(path) if isinstance(r, SourceRecord)]  # type: ignore[misc]
    assert len(recs) == 39 and recs[0].model == model


def test_cells_listing_several_addresses_give_the_first(tmp_path: Path) -> None:
    """runZero's CSV lists every address of an asset in one cell."""
    text = (
        "id,site,type,os,hw,hw_vendor,addresses,macs,names\n"
        "x1,Primary,IP Camera,Linux,Hikvision DS-2CD2143G2-I,Hikvision,192.0.2.64 10.9.9.9,"
        "28:57:be:12:34:56 28:57:be:12:34:57,CAM\n"
    )
    (rec,) = list(by_name("runzero-csv").read(_write(tmp_path, "assets.csv", text)))  # type: ignore[misc]
    assert isinstance(rec, SourceRecord)
    assert (rec.ip, rec.mac, rec.hostname, rec.asset_id) == ("192.0.2.64", "28:57:BE:12:34:56", "CAM", "x1")


def test_gzip_exports_are_read_and_a_truncated_one_is_an_error(tmp_path: Path) -> None:
    """``shodan download`` writes .json.gz: read as it is, streaming."""
    import gzip

    line = (
        '{"ip_str": "192.0.2.9", "port": 554, '
        '"data": "RTSP/1.0 401 Unauthorized\\r\\nServer: Rtsp Server/3.0\\r\\n\\r\\n"}\n'
    )
    path = tmp_path / "cams.json.gz"
    path.write_bytes(gzip.compress((line * 3).encode()))
    assert detect(path).name == "shodan"
    (rec,) = [r for r in by_name("shodan").read(path) if isinstance(r, SourceRecord)]  # type: ignore[misc]
    assert rec.observations[0]["kind"] == "rtsp"
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress((line * 2000).encode())[:-200])
    with pytest.raises(InputFileError, match="compressed data broken"):
        list(by_name("shodan").read(cut))  # type: ignore[misc]
