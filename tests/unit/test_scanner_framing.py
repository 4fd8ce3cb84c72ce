"""Where an answer ends on the wire (so a keep-alive server costs no read deadline) and
chunked bodies decoded before identification."""

from __future__ import annotations

from phaseout.discover.scanner import answer_complete, dechunk


def test_rtsp_reply_without_body_ends_at_the_blank_line() -> None:
    assert answer_complete(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS\r\n\r\n")
    assert not answer_complete(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n")


def test_content_length_decides_when_a_body_is_whole() -> None:
    head = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 10\r\n\r\n"
    assert not answer_complete(head + b"v=0\r\n")
    assert answer_complete(head + b"v=0\r\no=- 1")
    http = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"
    assert answer_complete(http)


def test_http_without_framing_is_read_until_close() -> None:
    assert not answer_complete(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n<html>")
    assert answer_complete(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert not answer_complete(b"garbage\r\n\r\n")


def test_chunked_body_is_decoded_and_its_end_recognised() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n<root>\r\n7;ext=1\r\n</root>\r\n0\r\n\r\n"
    assert answer_complete(raw)
    assert dechunk(raw).endswith(b"\r\n\r\n<root></root>")
    assert not answer_complete(raw[:-5])


def test_broken_chunks_keep_everything_the_device_sent() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\nrest"
    assert dechunk(raw).endswith(b"abczz\r\nrest")
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"
    assert dechunk(cut).endswith(b"abc")
    plain = b"HTTP/1.1 200 OK\r\n\r\n5\r\nabc"
    assert dechunk(plain) == plain
