"""Hostile files imported through the CLI, in a child process held to the memory target of
issue 13 (its address space capped at what it had after start-up + 300 MB + 2 x the file size):
each must end with a clear error and exit 3 (the file) or 4 (its rows), never a crash, a
traceback, a hang, or rows lost without a word.  Every case here failed before the change
(crash 134, traceback 1, a hang, or "ok" with rows missing)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hardening import bombs

ROOT = Path(__file__).resolve().parents[2]
# The code under test; point it at an older checkout's src to see these tests fail there.
SRC = Path(os.environ.get("PHASEOUT_TEST_SRC", ROOT / "src"))
MB = 1024**2
# The child caps its own address space once the CLI is loaded, then runs it.
CHILD = """
import resource, sys
import phaseout.cli, phaseout.store, phaseout.app.imports, sqlalchemy.dialects.sqlite
vsz = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
allowance = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (vsz + allowance, vsz + allowance))
phaseout.cli.main(sys.argv[2:])
"""


@dataclass
class Outcome:
    code: int
    out: str


def run_import(tmp_path: Path, target: Path | str, *args: str, allowance: int | None = None) -> Outcome:
    """``phaseout import TARGET`` under the memory target; 120 s at most."""
    size = os.stat(target).st_size if Path(target).is_file() else 0
    allowance = allowance if allowance is not None else 300 * MB + 2 * size
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{ROOT}", COLUMNS="300")
    cmd = [sys.executable, "-c", CHILD, str(allowance), "--db", str(tmp_path / "t.db"), "import", str(target), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    return Outcome(proc.returncode, " ".join((proc.stdout + proc.stderr).split()))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bombs")


def test_far_cell_reference_is_refused_not_a_crash(tmp_path: Path, files: Path) -> None:
    """Before: Rust panic asking for 512 GiB, exit 134."""
    result = run_import(tmp_path, bombs.far_cell_xlsx(files / "far.xlsx"))
    assert result.code == 3, result.out
    assert "XFD1048576" in result.out and "column 16,384" in result.out


def test_huge_cell_is_refused_or_cut_within_memory(tmp_path: Path, files: Path) -> None:
    """Before: a 1 GiB cell was held whole (3.1 GB of memory for a 1 MB file; here: exit 134)."""
    path = bombs.huge_cell_xlsx(files / "huge.xlsx", cell_bytes=1024**3, level=1)
    result = run_import(tmp_path, path)
    assert result.code == 3, result.out
    assert "would inflate to 1,024 MiB" in result.out
    # Below the inflation limit the cell streams past and is cut to 2,000 characters (as
    # documented); the row then has a site and nothing else: a bad row with its number.
    path = bombs.huge_cell_xlsx(files / "big.xlsx", cell_bytes=60 * MB, level=1)
    result = run_import(tmp_path, path, allowance=150 * MB)
    assert result.code == 4, result.out
    assert "row 2" in result.out


def test_millions_of_compressed_rows_are_refused(tmp_path: Path, files: Path) -> None:
    """Before: a 3.9 MB workbook created 6.7 million devices."""
    path = bombs.many_rows_xlsx(files / "many.xlsx", rows=2_000_000, level=6)
    result = run_import(tmp_path, path)
    assert result.code == 3, result.out
    assert "would inflate to" in result.out and "zip bomb" in result.out


def test_entities_are_refused(tmp_path: Path, files: Path) -> None:
    """Before: a traceback from the XML reader, exit 1."""
    result = run_import(tmp_path, bombs.entity_xlsx(files / "entity.xlsx"))
    assert result.code == 3, result.out
    assert "DTD" in result.out


def test_a_zip_that_lies_about_its_size_is_refused(tmp_path: Path, files: Path) -> None:
    """Before: a traceback ("File is larger than its declared uncompressed size"), exit 1."""
    result = run_import(tmp_path, bombs.declared_size_lie_xlsx(files / "lie.xlsx"))
    assert result.code == 3, result.out
    assert "damaged" in result.out


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    """Before: ``/dev/zero`` read until memory ran out; a FIFO waited forever."""
    if kind == "device":
        target = Path("/dev/zero")
    else:
        target = tmp_path / "pipe.csv"
        os.mkfifo(target)
    result = run_import(tmp_path, target)
    assert result.code == 3, result.out
    assert "not a regular file" in result.out


def test_unbalanced_quote_is_one_bad_row_not_a_swallowed_block(tmp_path: Path, files: Path) -> None:
    """Before: "ok, 1 row" -- the quote swallowed the 200 rows after it."""
    path = bombs.unbalanced_quote_csv(files / "quote.csv", rows=200)
    refused = run_import(tmp_path, path)
    assert refused.code == 4, refused.out
    assert "1 of 201 rows are bad" in refused.out and "row 2" in refused.out and "quote" in refused.out
    skipped = run_import(tmp_path, path, "--skip-bad")
    assert skipped.code == 0, skipped.out
    assert "200" in skipped.out  # the 200 good rows after the quote are all imported


def test_wrong_field_counts_are_bad_rows(tmp_path: Path, files: Path) -> None:
    """Before: both rows imported, one with its model in the MAC column's place."""
    result = run_import(tmp_path, bombs.wrong_width_csv(files / "width.csv"))
    assert result.code == 4, result.out
    assert "2 of 4 rows are bad" in result.out and "row 3" in result.out


def test_odd_utf16_is_an_input_error(tmp_path: Path, files: Path) -> None:
    """Before: UnicodeDecodeError traceback, exit 1."""
    result = run_import(tmp_path, bombs.odd_utf16_csv(files / "utf16.csv"))
    assert result.code == 3, result.out
    assert "UTF-16" in result.out


def test_mixed_encodings_are_refused_not_garbled(tmp_path: Path, files: Path) -> None:
    """Before: the whole file read as cp1252, so the UTF-8 accents became mojibake silently."""
    result = run_import(tmp_path, bombs.mixed_encoding_csv(files / "mixed.csv"))
    assert result.code == 3, result.out
    assert "mixes encodings" in result.out and "line 2" in result.out and "line 3" in result.out


def test_nul_byte_is_a_bad_row(tmp_path: Path, files: Path) -> None:
    """Before: stored as is on SQLite; a traceback from PostgreSQL (see test_nul_on_postgresql)."""
    result = run_import(tmp_path, bombs.nul_byte_csv(files / "nul.csv"))
    assert result.code == 4, result.out
    assert "row 202" in result.out and "NUL" in result.out


def test_a_huge_csv_cell_is_a_bad_row_and_the_rest_is_read(tmp_path: Path, files: Path) -> None:
    """Before: the whole file was refused ("field larger than field limit") after reading all of it
    into memory three times over."""
    path = bombs.huge_cell_csv(files / "hugecell.csv", cell_bytes=64 * MB)
    result = run_import(tmp_path, path, allowance=150 * MB)
    assert result.code == 4, result.out
    assert "1 of 3 rows are bad" in result.out and "row 3" in result.out


def test_csv_is_streamed(tmp_path: Path, files: Path) -> None:
    """A 60 MB CSV checked with --dry-run in 150 MB: before, the file was held as bytes, then as
    text, then split (about 6x its size)."""
    path = bombs.large_csv(files / "large.csv", rows=800_000)
    assert path.stat().st_size > 55 * MB
    result = run_import(tmp_path, path, "--dry-run", allowance=150 * MB)
    assert result.code == 0, result.out
    assert "800,000" in result.out
