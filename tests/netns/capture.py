"""tcpdump inside a test's own network namespace, shared by the namespace tests."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def start_capture(namespace: str, path: Path) -> subprocess.Popen[str]:
    """Capture every interface of ``namespace`` into ``path``; returns once tcpdump says it is
    listening (a fixed sleep missed the first packets on a busy machine).  Stop it with SIGINT."""
    dump = subprocess.Popen(
        ["ip", "netns", "exec", namespace, "tcpdump", "-i", "any", "-n", "-U", "-w", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert dump.stderr is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = dump.stderr.readline()
        if "listening on" in line or not line:
            break
    time.sleep(0.2)
    return dump
