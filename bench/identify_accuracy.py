"""Identification accuracy on real captured device answers.

Three corpora, each run through ``phaseout identify`` (the stable JSON Lines interface, in a
subprocess, as a user would run it):

  (a) the repository corpus tests/data/captures, split ``dev`` (rules may be tuned on it),
  (b) the same corpus, split ``holdout`` (about 30 % of the source groups, never tuned on),
  (b2) split ``holdout2``: captures gathered later from sources nobody on the project had read,
      measured before any rule was changed for them, and ``holdout3``, gathered after those
      changes to measure them on answers they were not written against; ``holdout4`` to
      ``holdout9`` likewise, each measured first with the rules as they were (docs/corpus.md),
  (a+b) all splits of the repository corpus together (the per-kind figures issue 14 asks for),
  (c) ../shared/corpus when that folder is present (read-only, never committed).

Each capture becomes the observation a scanner would record (tests/corpus_loader.py); the
file name and the labels never reach the identifier.  Printed per corpus: precision and
recall per covered maker (Hikvision, Dahua; OEM labels count for their maker), recall per
evidence kind with the false positives on other makers, the list of those false positives,
and the same figures for the baseline in the same run: the keyword search a spreadsheet user
would do (does the answer contain "hikvision" or "dahua"?).

Run: ``PYTHONPATH=src python bench/identify_accuracy.py [--shared DIR] [--show-misses]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.corpus_loader import (  # noqa: E402  (the repository root must be on the path first)
    MAKERS,
    SPLITS,
    Capture,
    device_record,
    load_manifest,
    load_shared,
    read_payload,
)

DEFAULT_SHARED = ROOT.parent / "shared" / "corpus"  # the project sits beside shared/


@dataclass(frozen=True)
class Outcome:
    capture: Capture
    predicted: str


def identify_all(captures: Sequence[Capture]) -> list[str]:
    """The ``vendor`` phaseout gives each capture, in order (``error`` for an error line)."""
    return identify_records([device_record(c, i) for i, c in enumerate(captures)])


def identify_records(records: Sequence[dict[str, Any]]) -> list[str]:
    """The ``vendor`` ``phaseout identify`` (a subprocess, as a user runs it) gives each record,
    in order; a record's ``id`` must be its index.  ``error`` for an error line."""
    lines = [json.dumps(r) for r in records]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "phaseout", "identify"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if not proc.stdout.strip():
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        raise SystemExit(f"phaseout identify gave no output (exit {proc.returncode}):\n{tail}")
    results = {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    return [str(results.get(i, {}).get("vendor", "error")) for i in range(len(records))]


def keyword_baseline(capture: Capture) -> str:
    low = read_payload(capture.path).lower()
    for maker in MAKERS:
        if maker in low:
            return maker
    return "unknown"


def maker_scores(outcomes: Sequence[Outcome], maker: str) -> tuple[int, int, int]:
    tp = sum(1 for o in outcomes if o.capture.true_vendor == maker and o.predicted == maker)
    fp = sum(1 for o in outcomes if o.capture.true_vendor != maker and o.predicted == maker)
    fn = sum(1 for o in outcomes if o.capture.true_vendor == maker and o.predicted != maker)
    return tp, fp, fn


def ratio(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "  n/a"


def is_false_positive(o: Outcome) -> bool:
    """A non-covered device called Hikvision/Dahua, or one covered maker called the other."""
    return o.predicted in MAKERS and o.predicted != o.capture.true_vendor


def report(title: str, captures: Sequence[Capture], show_misses: bool) -> None:
    if not captures:
        print(f"\n== {title}: no captures")
        return
    predicted = identify_all(captures)
    ours = [Outcome(c, p) for c, p in zip(captures, predicted, strict=True)]
    base = [Outcome(c, keyword_baseline(c)) for c in captures]
    covered = sum(1 for c in captures if c.covered)
    print(
        f"\n== {title}: {len(captures)} captures ({covered} Hikvision/Dahua incl. OEM, {len(captures) - covered} other)"
    )
    print(f"{'per maker':<30}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}")
    for name, outcomes in (("phaseout", ours), ("baseline keyword", base)):
        for maker in MAKERS:
            tp, fp, fn = maker_scores(outcomes, maker)
            print(f"{name + ' ' + maker:<30}{ratio(tp, tp + fp):>10}{ratio(tp, tp + fn):>8}{tp:>5}{fp:>5}{fn:>5}")
        oem = [o for o in outcomes if o.capture.covered and o.capture.oem_of]
        hit = sum(1 for o in oem if o.predicted == o.capture.true_vendor)
        print(f"{name + ' OEM labels':<30}{'':>10}{ratio(hit, len(oem)):>8}{hit:>5}{'':>5}{len(oem) - hit:>5}")

    print(
        f"\n{'per evidence kind':<18}{'covered':>8}{'ours':>7}{'recall':>8}{'base':>7}{'recall':>8}"
        f"{'other':>7}{'FP ours':>8}{'FP base':>8}"
    )
    by_family: dict[str, list[tuple[Outcome, Outcome]]] = defaultdict(list)
    for o, b in zip(ours, base, strict=True):
        by_family[o.capture.family].append((o, b))
    for family in sorted(by_family):
        pairs = by_family[family]
        cov = [(o, b) for o, b in pairs if o.capture.covered]
        oth = [(o, b) for o, b in pairs if not o.capture.covered]
        hit_o = sum(1 for o, _ in cov if o.predicted == o.capture.true_vendor)
        hit_b = sum(1 for _, b in cov if b.predicted == b.capture.true_vendor)
        fp_o = sum(1 for o, _ in pairs if is_false_positive(o))
        fp_b = sum(1 for _, b in pairs if is_false_positive(b))
        print(
            f"{family:<18}{len(cov):>8}{hit_o:>7}{ratio(hit_o, len(cov)):>8}{hit_b:>7}{ratio(hit_b, len(cov)):>8}"
            f"{len(oth):>7}{fp_o:>8}{fp_b:>8}"
        )

    print("\nby capture tier (recall on Hikvision/Dahua, ours / baseline)")
    for tier in sorted({c.tier for c in captures if c.tier}):
        rows = [(o, b) for o, b in zip(ours, base, strict=True) if o.capture.tier == tier and o.capture.covered]
        if rows:
            print(
                f"  tier {tier}: {sum(o.predicted == o.capture.true_vendor for o, _ in rows)}/{len(rows)}"
                f"  baseline {sum(b.predicted == b.capture.true_vendor for _, b in rows)}/{len(rows)}"
            )

    confusion = Counter((o.capture.true_vendor if o.capture.covered else "other", bucket(o.predicted)) for o in ours)
    print("\nconfusion (rows: truth, columns: phaseout)")
    cols = ("hikvision", "dahua", "other maker", "unknown")
    print(f"{'':12}" + "".join(f"{c:>13}" for c in cols))
    for truth in ("hikvision", "dahua", "other"):
        print(f"{truth:<12}" + "".join(f"{confusion[(truth, c)]:>13}" for c in cols))

    listing("false positives (phaseout)", ours, is_false_positive)
    listing("false positives (baseline)", base, is_false_positive)
    if show_misses:
        listing("misses (phaseout)", ours, lambda o: o.capture.covered and o.predicted != o.capture.true_vendor)


def bucket(vendor: str) -> str:
    return vendor if vendor in (*MAKERS, "unknown") else "other maker"


def listing(title: str, outcomes: Sequence[Outcome], keep: Callable[[Outcome], bool]) -> None:
    chosen = [o for o in outcomes if keep(o)]
    print(f"\n{title}: {len(chosen)}")
    for o in chosen:
        c = o.capture
        print(f"  {c.file}  [{c.family}] truth={c.true_vendor} ({c.true_brand}) got={o.predicted}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared corpus folder (labels.csv)")
    parser.add_argument("--show-misses", action="store_true", help="list every missed Hikvision/Dahua capture")
    args = parser.parse_args(argv)
    captures = load_manifest()
    for split in SPLITS:
        report(f"repository corpus, split {split}", [c for c in captures if c.split == split], args.show_misses)
    # Issue 14 asks for the figures per evidence kind on the whole repository corpus as well.
    report("repository corpus, all splits", captures, show_misses=False)
    shared = load_shared(args.shared)
    if shared:
        report(f"shared corpus {args.shared}", shared, args.show_misses)
    else:
        print(f"\n== shared corpus not found at {args.shared}: skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
