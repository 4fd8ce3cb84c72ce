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
    ag.save_state(tmp_path, ag.State("http://127.0.0.1:9", "store-9", "pc_x", ["S9"], ["10.9.0.0/24"]))
    agent = ag.Agent(tmp_path)
    calls: list[str] = []

    def post(path: str, body: bytes | None = None, data: Any = None, timeout: float = 0) -> ag.Answer:
        calls.append(path)
        return answer

    def full(_self: ag.Queue, _upload_id: str, _body: bytes) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agent, "_post", post)
    monkeypatch.setattr(ag.Queue, "put", full)
    monkeypatch.setattr(ag, "scan_job", lambda job, state, settings: ([], ["10.9.0.5"], False))
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
