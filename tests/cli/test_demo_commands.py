"""The demo's "next" commands copy and paste: each is whole on one line at 80 columns, and each
one runs successfully against the demo database."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.support import run_main

run = run_main  # the shared in-process runner (tests/support.py)


def test_next_commands_are_whole_and_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from phaseout.cli.common import console

    monkeypatch.delenv("PHASEOUT_DB", raising=False)
    monkeypatch.setattr(console, "_width", 80)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "--sites", "4", "--seed", "3", "--no-serve", "--workdir", str(tmp_path / "d"))
    assert code == 0, err
    commands = [line.strip() for line in out.splitlines() if line.startswith("  phaseout --db ")]
    assert len(commands) >= 6
    assert "board report: " in out
    for command in commands:
        words = shlex.split(command.split(" | ")[0])  # the pipe is the shell's
        assert words[0] == "phaseout"
        code, _out, err = run(capsys, *words[1:])
        assert code == 0, (command, err)
    dashboard = next(line for line in out.splitlines() if line.startswith("dashboard: phaseout --db "))
    assert dashboard.split("   (")[0].endswith(" serve")
