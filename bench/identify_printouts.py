"""Identification on the real corpus as common tools print it.

Real answers reach phaseout pasted from bug reports, logs and terminals, rarely as the device
sent them.  Each fresh holdout so far brought a printout shape the readers had not met (a REPL's
string literal, a two-column table, ngrep's dots): the misses were shapes, not devices.  This
bench does not wait for the next report: it re-prints every real capture of the corpus
(``tests/data/captures``) the way a documented tool or convention prints an answer, and runs
``phaseout identify`` (in a subprocess, as a user would) on each printout.

Printed per shape: of the Hikvision/Dahua captures identified as they are, how many are still
identified right; and how many of the other makers' captures are called Hikvision or Dahua (a
false positive).  The corpus captures themselves are the real evidence; the shapes are
synthetic, written from each tool's documented output format (named per shape below), and are
measured separately from the real-capture figures of ``bench/identify_accuracy.py``.

Run: ``PYTHONPATH=src python bench/identify_printouts.py [--shape NAME] [--show-misses]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.identify_accuracy import identify_records  # noqa: E402  (bench/ is a namespace package)
from tests.corpus_loader import (  # noqa: E402  (the repository root must be on the path first)
    MAKERS,
    Capture,
    load_manifest,
    observation,
    read_payload,
)
from tests.printout_shapes import SHAPES, Shape  # noqa: E402


def reprinted(capture: Capture, shape: Shape | None) -> dict[str, Any] | None:
    """The capture's observation with its text re-printed in ``shape`` (None: as it is); None
    when the shape does not apply to it (curl's ``<`` needs a status line, say)."""
    obs = observation(capture.kind, read_payload(capture.path))
    if shape is None:
        return obs
    if "raw" not in obs:  # certificates' subject and issuer: names, not a printout
        return None
    text = shape.render(obs["raw"])
    if text is None:
        return None
    return {**obs, "raw": text}


def identify(observations: Sequence[dict[str, Any]]) -> list[str]:
    """The ``vendor`` ``phaseout identify`` gives each observation (``error`` for an error line)."""
    return identify_records([{"id": i, "observations": [o]} for i, o in enumerate(observations)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", action="append", help="only this shape (repeatable)")
    parser.add_argument("--show-misses", action="store_true", help="list the captures each shape loses")
    args = parser.parse_args(argv)
    shapes = [s for s in SHAPES if not args.shape or s.name in args.shape]
    if not shapes:
        parser.error(f"no shape named {args.shape}; shapes: {', '.join(s.name for s in SHAPES)}")

    captures = load_manifest()
    started = time.perf_counter()
    as_is = identify([reprinted(c, None) or {} for c in captures])
    found = [c for c, p in zip(captures, as_is, strict=True) if c.covered and p == c.true_vendor]
    others = [c for c in captures if not c.covered]
    as_is_fp = sum(1 for c, p in zip(captures, as_is, strict=True) if not c.covered and p in MAKERS)
    print(f"corpus: {len(captures)} captures; {len(found)} Hikvision/Dahua captures identified as they are;")
    print(f"{len(others)} of other makers ({as_is_fp} false positives as they are)")
    print()
    print(f"{'shape':<20} {'covered kept':>14} {'recall':>7} {'others':>7} {'FP':>4}")
    totals = [0, 0, 0]
    for shape in shapes:
        mine = [(c, o) for c in found if (o := reprinted(c, shape)) is not None]
        theirs = [(c, o) for c in others if (o := reprinted(c, shape)) is not None]
        predicted = identify([o for _, o in mine + theirs])
        kept = [c for (c, _), p in zip(mine, predicted[: len(mine)], strict=True) if p == c.true_vendor]
        fps = [(c, p) for (c, _), p in zip(theirs, predicted[len(mine) :], strict=True) if p in MAKERS]
        rate = f"{len(kept) / len(mine):.3f}" if mine else "  n/a"
        print(f"{shape.name:<20} {len(kept):>6} / {len(mine):<5} {rate:>7} {len(theirs):>7} {len(fps):>4}")
        totals[0] += len(kept)
        totals[1] += len(mine)
        totals[2] += len(fps)
        if args.show_misses:
            lost = [c for c, _ in mine if c not in kept]
            for c in lost:
                print(f"    lost  {c.file}")
            for c, p in fps:
                print(f"    FP    {c.file} -> {p}")
    overall = totals[0] / max(totals[1], 1)
    print(f"{'all shapes':<20} {totals[0]:>6} / {totals[1]:<5} {overall:>7.3f} {'':>7} {totals[2]:>4}")
    print(f"\n({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
