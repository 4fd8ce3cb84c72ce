"""Facts read by a collector and sent with its upload identify every real capture exactly as the
server's own parse of the same answers does; and the C XML parser, used for documents with no
declaration at all, reads every capture as defusedxml does."""

from __future__ import annotations

import sys
import threading
import uuid
from functools import cache
from typing import Any

import orjson
import pytest
from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]

from phaseout.discover.collector import wire
from phaseout.discover.scanner import HostResult
from phaseout.identify import facts as F
from phaseout.identify import facts_wire
from phaseout.identify.engine import Identifier
from tests.corpus_loader import device_record, load_manifest

CAPS = load_manifest()


@cache
def _identifier() -> Identifier:
    return Identifier()


def _answers() -> list[list[dict[str, Any]]]:
    return [device_record(c, c.file)["observations"] for c in CAPS]


def _as_upload_host(observations: list[dict[str, Any]], n: int) -> HostResult:
    return HostResult(f"10.9.{n // 250}.{n % 250 + 1}", ports=[80], observations=observations)


def test_collector_facts_identify_every_capture_as_the_server_parse() -> None:
    answers = _answers()
    hosts = [_as_upload_host(obs, n) for n, obs in enumerate(answers)]
    sendable = []
    for host in hosts:  # a capture the wire refuses (an answer over its caps) is no upload at all
        try:
            wire.parse_upload(wire.encode_upload("a" * 32, 1, [host], [], False))
        except wire.UploadError:
            continue
        sendable.append(host)
    assert len(sendable) >= len(hosts) - 5
    body = wire.encode_upload(uuid.uuid4().hex, 1, sendable, [], False, facts=True)
    upload = wire.parse_upload(body)
    assert upload.facts == "used"
    keyed = [o for h in sendable for o in h.observations if F.answer_key(o) is not None]
    assert len(upload.answers) >= len({F.answer_key(o) for o in keyed}) - 5  # nearly every answer sent its facts

    read = F.ScanAnswers(upload.answers, base=F.AnswerFacts())
    from_facts = _identifier().with_answers(read)
    for host, sent in zip(sendable, upload.hosts, strict=True):
        parsed = Identifier().identify(host.observations)  # a fresh parse, no cache shared
        assert from_facts.identify(sent.observations).as_dict() == parsed.as_dict(), host.observations[0]["kind"]
    assert read.used >= len(upload.answers) // 2 and read.misses <= 5


def test_facts_survive_the_wire_unchanged() -> None:
    for observations in _answers():
        for obs in observations:
            parser = F.PARSERS.get(obs.get("kind", ""))
            if parser is None:
                continue
            one = F.Facts()
            try:
                parser(one, obs)
            except F.ObservationError:
                continue
            sent = facts_wire.encode(one, obs.get("raw"))
            if sent is None:  # over the caps: the server parses that one itself
                continue
            assert facts_wire.decode(orjson.loads(orjson.dumps(sent)), obs.get("raw")) == one


def test_the_c_parser_reads_every_capture_as_defusedxml(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = _answers()
    fast = [_facts_or_error(obs) for obs in answers]
    monkeypatch.setattr(F.ET, "fromstring", lambda data: SafeET.fromstring(data, forbid_dtd=True))
    assert [_facts_or_error(obs) for obs in answers] == fast


def _facts_or_error(observations: list[dict[str, Any]]) -> object:
    try:
        return F.gather(observations)
    except F.ObservationError as exc:
        return f"error: {exc}"


def test_a_vantage_does_not_split_an_answer_s_entry() -> None:
    obs = {
        "kind": "rtsp",
        "port": 554,
        "raw": 'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm="x"\r\n\r\n',
    }
    assert F.answer_key(obs) == F.answer_key({**obs, "vantage": "hq"})
    assert F.answer_key({"kind": "inventory", "fields": {"model": "DS-2CD2043G0-I"}}) is None


def test_the_cache_drops_its_older_half_when_full() -> None:
    cache = F.AnswerFacts(entries=10, size=1_000_000)
    for n in range(25):
        F.gather_cached([{"kind": "banner", "port": 23, "raw": f"login {n}"}], cache)
        assert len(cache._facts) <= 10
    newest = {"kind": "banner", "port": 23, "raw": "login 24"}
    hits = cache.hits
    F.gather_cached([newest], cache)
    assert cache.hits == hits + 1  # the newest answers stay


def test_every_real_capture_s_facts_pass_the_server_s_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's sample (``wire.CHECK_*``) never calls a genuine collector's facts a
    disagreement: checked here on every answer of every capture, not a sample."""
    monkeypatch.setattr(wire, "CHECK_ONE_IN", 1)
    hosts = []
    for n, obs in enumerate(_answers()):
        host = _as_upload_host(obs, n)
        try:
            wire.parse_upload(wire.encode_upload("a" * 32, 1, [host], [], False))
        except wire.UploadError:
            continue
        hosts.append(host)
    upload = wire.parse_upload(wire.encode_upload(uuid.uuid4().hex, 1, hosts, [], False, facts=True))
    assert (upload.facts, upload.facts_fault) == ("used", "")
    assert len(upload.answers) > 100


def test_two_scans_fill_the_process_cache_at_once() -> None:
    """Two uploads merge at once in one server process (each in its own thread), and both keep
    what they parse in the process's cache: making room there must not fail either of them
    (a dict changed while another thread walks it) nor lose count of its size."""
    base = F.AnswerFacts(entries=64, size=1_000_000)
    failures: list[BaseException] = []

    def scan(t: int) -> None:
        read = F.ScanAnswers(base=base)
        try:
            for n in range(3000):
                F.gather_cached([{"kind": "banner", "port": 23, "raw": f"login {t}-{n}"}], read)
        except BaseException as exc:  # (reported by the test, not lost in the thread)
            failures.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often: the race shows in every run
    try:
        threads = [threading.Thread(target=scan, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert failures == []
    assert 0 < len(base._facts) <= 64
    assert base._bytes == sum(size for _facts, size in base._facts.values())
