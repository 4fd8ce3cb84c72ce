"""Helpers shared by tests (one module, instead of tests importing other tests)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from typer.testing import CliRunner

from phaseout.cli import app
from phaseout.cli.common import print_error
from phaseout.errors import PhaseoutError


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, stdin: str | bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``phaseout ARGS`` in this process, as ``phaseout.cli.main`` would (a
    :class:`PhaseoutError` becomes its message and exit code): no interpreter start per call.
    Use a subprocess only where the process itself is under test (signals, exit on crash)."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), env=dict(env or {}), input=stdin, catch_exceptions=True)
    code, err = result.exit_code, result.stderr
    exc = result.exception
    if isinstance(exc, PhaseoutError):
        from io import StringIO

        from rich.console import Console

        from phaseout.cli import common

        buffer = StringIO()
        saved = common.err_console
        common.err_console = Console(file=buffer, width=200)
        try:
            print_error(exc)
        finally:
            common.err_console = saved
        code, err = exc.exit_code, err + buffer.getvalue()
    elif exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return subprocess.CompletedProcess(list(args), code, result.stdout, err)


def reported_serial(device: object) -> str:
    """The serial an emulated camera reports over ONVIF (what its label carries: real Hikvision
    firmware reports the model, the build date and the short serial run together)."""
    import re

    info = device.fill(device.profile.onvif["device_information"])  # type: ignore[attr-defined]
    found = re.search(r"<tds:SerialNumber>([^<]+)<", info)
    assert found, info[:200]
    return found.group(1)
