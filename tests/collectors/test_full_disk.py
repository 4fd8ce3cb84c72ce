"""The collector's queue on a full disk: the scan's results are sent from memory instead of the
agent dying with ``OSError`` (and, under systemd, re-scanning the same job forever)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import orjson
import pytest

from phaseout.discover.collector import agent as ag


def _agent(tmp_path: Path, answer: ag.Answer, monkeypatch: pytest.MonkeyPatch) -> tuple[ag.Agent, list[str]]:
    ag.save_state(tmp_path, ag.State("http://127.0.0.1:9", "store-9", "pc_x", ["S9"], ["127.9.0.0/24"]))
    agent = ag.Agent(tmp_path)
    calls: list[str] = []

    def post(path: str, body: bytes | None = None, data: Any = None, timeout: float = 0) -> ag.Answer:
        calls.append(path)
        return answer

    def full(_self: ag.Queue, _upload_id: str, _body: bytes) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agent, "_post", post)
    monkeypatch.setattr(ag.Queue, "put", full)
    monkeypatch.setattr(ag, "scan_job", lambda job, state, settings: ([], ["127.9.0.5"], False))
    return agent, calls


def test_a_full_disk_sends_the_results_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent, calls = _agent(tmp_path, ag.Answer(200, orjson.dumps({"status": "merged"})), monkeypatch)
    report = ag.RunReport()
    agent.work({"id": 4, "spec": {}}, report)
    assert calls == ["/api/collector/uploads"]
    assert report.uploaded == 1 and "No space left" in report.errors[0]
    assert list((tmp_path / "queue").iterdir()) == []


def test_a_full_disk_and_a_refusing_server_back_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent, _calls = _agent(tmp_path, ag.Answer(503, b"busy"), monkeypatch)
    with pytest.raises(ag.TransportError):
        agent.work({"id": 4, "spec": {}}, ag.RunReport())


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"targets": "127.9.0.5", "ports": [80]},
        {"targets": ["127.9.0.5"], "ports": ["eighty"]},
        {"targets": ["127.9.0.5"], "ports": [0]},
        {"targets": ["127.9.0.5"], "ports": [True]},
        {"targets": [5], "ports": [80]},
    ],
)
def test_a_malformed_job_from_the_server_is_refused_not_a_crash(spec: dict[str, Any]) -> None:
    """The collector trusts nothing the server sends: a job it cannot read is refused (and
    reported back), not an exception that stops the service.  Loopback addresses only: a spec
    that slipped through would be scanned."""
    state = ag.State("http://127.0.0.1:9", "store-9", "pc_x", ["S9"], ["127.9.0.0/24"])
    with pytest.raises(ag.UsageError):
        ag.scan_job({"id": 1, "spec": spec}, state, ag.ScanSettings())
