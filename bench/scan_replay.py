"""Identification over the wire: the real-capture corpus served on loopback and scanned.

Every capture that is a network answer the scanner could be given is served verbatim from its
own loopback address (127.93.x.y) at the request the real device answered; the rest of the
requests get a 404 or a closed connection (tests/wire_replay.py explains what framing is added
and why).  ``phaseout.app.scans.run_probes`` (the path ``phaseout scan`` takes) probes those
addresses with the scanner's default settings on ports 80 and 554, and the maker identified
from the answers it recorded is compared with the manifest's label.  In the same run, the same
captures are identified on their text (the observation ``bench/identify_accuracy.py`` uses):
the wire must never lose what the text has.

Printed: per split and per capture kind, captures served, identified correctly / wrongly /
unknown over the wire, and correct on text; the captures the wire loses and why the scanner
never saw their answer; and the captures not served, counted by reason.

Traffic goes only to 127.0.0.0/8.  Binding ports 80 and 554 needs root (or CAP_NET_BIND_SERVICE).

Run: ``.venv/bin/python bench/scan_replay.py [--show-all]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.corpus_loader import SPLITS, load_manifest  # noqa: E402  (repository root first on the path)
from tests.wire_replay import Outcome, replay  # noqa: E402


def _table(title: str, groups: dict[str, list[Outcome]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'':22} {'served':>6} {'wire ok':>7} {'wrong':>5} {'unknown':>7} {'text ok':>7} {'lost':>4} {'gained':>6}"
    )
    total: Counter[str] = Counter()
    for name, rows in groups.items():
        c: Counter[str] = Counter()
        for r in rows:
            c["served"] += 1
            c[r.verdict(r.wire_vendor)] += 1
            text_ok = r.verdict(r.text_vendor) == "correct"
            wire_ok = r.verdict(r.wire_vendor) == "correct"
            c["text"] += text_ok
            c["lost"] += text_ok and not wire_ok
            c["gained"] += wire_ok and not text_ok
        total.update(c)
        print(
            f"  {name:22} {c['served']:6} {c['correct']:7} {c['wrong']:5} {c['unknown']:7} {c['text']:7}"
            f" {c['lost']:4} {c['gained']:6}"
        )
    print(
        f"  {'all':22} {total['served']:6} {total['correct']:7} {total['wrong']:5} {total['unknown']:7}"
        f" {total['text']:7} {total['lost']:4} {total['gained']:6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show-all", action="store_true", help="print every served capture")
    args = parser.parse_args()
    captures = load_manifest()
    start = time.monotonic()
    rows, skipped = replay(captures)
    elapsed = time.monotonic() - start
    print(f"{len(captures)} captures: {len(rows)} served on loopback, {len(skipped)} not served; {elapsed:.1f} s")

    by_split: dict[str, list[Outcome]] = defaultdict(list)
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    covered: dict[str, list[Outcome]] = defaultdict(list)
    for r in rows:
        by_split[r.plan.capture.split].append(r)
        by_kind[r.plan.capture.kind].append(r)
        covered["hikvision/dahua-made" if r.plan.capture.covered else "other makers"].append(r)
    _table("per split", {s: by_split[s] for s in SPLITS if by_split[s]})
    _table("per kind", dict(sorted(by_kind.items())))
    _table("per maker group", covered)

    drawn = [r for r in rows if r.plan.hits]
    text_ok = sum(r.verdict(r.text_vendor) == "correct" for r in drawn)
    wire_ok = sum(r.verdict(r.wire_vendor) == "correct" for r in drawn)
    covered_drawn = [r for r in drawn if r.plan.capture.covered]
    print(
        f"\ncaptures whose answer the scanner asked for: {len(drawn)} of {len(rows)} served;"
        f" correct on text {text_ok}, over the wire {wire_ok}"
        f" (Hikvision/Dahua-made: {len(covered_drawn)}; text"
        f" {sum(r.verdict(r.text_vendor) == 'correct' for r in covered_drawn)},"
        f" wire {sum(r.verdict(r.wire_vendor) == 'correct' for r in covered_drawn)})"
    )

    fps = [r for r in rows if not r.plan.capture.covered and r.wire_vendor in ("hikvision", "dahua")]
    print(f"\nfalse positives over the wire on other makers: {len(fps)}")
    for r in fps:
        print(f"  {r.plan.capture.file}: {r.wire_vendor}")

    print("\nlost over the wire (right on text, not over the wire):")
    for r in rows:
        if r.verdict(r.text_vendor) == "correct" and r.verdict(r.wire_vendor) != "correct":
            asked = ", ".join(r.plan.hits) or "the scanner never sent the request this answer is for"
            wanted = ", ".join(sorted({f"{a.method} {a.target}".strip() for a in r.plan.answers}))
            where = f"{r.plan.capture.file} [{r.plan.capture.split}]"
            print(f"  {where} wire={r.wire_vendor}; served for: {wanted}; asked: {asked}")

    print("\nnot served, by reason:")
    for reason, n in Counter(p.skip for p in skipped).most_common():
        print(f"  {n:3}  {reason}")

    waits = sum(1 for r in rows for e in r.errors if "not finished" in e or "no answer" in e)
    refused = sum(1 for r in rows for e in r.errors if "no connection" in e or "failed" in e)
    print(f"\nconnections that failed (a loaded machine; a figure above may then be short): {refused}")
    print(f"answers the scanner waited its read deadline for (no end of answer seen): {waits}")
    if args.show_all:
        for r in rows:
            print(
                f"  {r.plan.capture.file} [{r.plan.capture.split}] truth={r.truth} text={r.text_vendor} "
                f"wire={r.wire_vendor} asked={r.plan.hits} framing={r.plan.framing}"
            )


if __name__ == "__main__":
    main()
