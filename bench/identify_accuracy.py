"""Identification accuracy on real captured device answers (../shared/corpus).

Each sample is turned into the observation a scanner would have made (an HTTP answer, an RTSP
answer, a TLS certificate, a discovery reply...) -- the file name, which holds the brand, is
never passed on -- and run through ``phaseout identify`` as JSON Lines.  Printed: precision and
recall for Hikvision and Dahua (OEM labels included), a confusion table, recall by capture tier,
and the same figures for a baseline in the same run: the keyword search a spreadsheet user
would do (does the text contain "hikvision" or "dahua"?).

Run: ``python bench/identify_accuracy.py [--corpus DIR] [--show-misses]``; exits 0 and prints
a note when the corpus folder is absent.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MAKERS = ("hikvision", "dahua")


def observation(kind: str, text: str) -> dict[str, object]:
    """The observation a scanner would record for a capture of this kind."""
    k = kind.lower()
    if k.startswith("magicbox-"):
        action = kind.split("-", 1)[1]
        return {
            "kind": "http",
            "port": 80,
            "path": f"/cgi-bin/magicBox.cgi?action={action}",
            "raw": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + text,
        }
    if k.startswith("isapi-"):
        return {
            "kind": "http",
            "port": 80,
            "path": "/ISAPI/System/deviceInfo",
            "raw": "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n" + text,
        }
    if k.startswith("rpc2"):
        return {"kind": "http", "port": 80, "path": "/RPC2", "raw": "HTTP/1.1 200 OK\r\n\r\n" + text}
    if k == "http-www-authenticate":
        return {
            "kind": "http",
            "port": 80,
            "raw": f"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {text.strip()}\r\n\r\n",
        }
    if k == "http-html-title":
        return {
            "kind": "http",
            "port": 80,
            "raw": f"HTTP/1.1 200 OK\r\n\r\n<html><head><title>{text.strip()}</title></head></html>",
        }
    if k.startswith("http"):
        return {"kind": "http", "port": 80, "raw": text}
    if k == "rtsp-server-header":
        return {"kind": "rtsp", "port": 554, "raw": f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: {text.strip()}\r\n\r\n"}
    if k.startswith("rtsp"):
        return {"kind": "rtsp", "port": 554, "raw": text}
    if k == "tls-cert-subject":
        return {"kind": "tls", "subject": text.strip()}
    if k.startswith("tls-cert"):
        subject = re.search(r"subject:\s*(.+)", text)
        issuer = re.search(r"issuer:\s*(.+)", text)
        return {
            "kind": "tls",
            "subject": subject.group(1).strip() if subject else "",
            "issuer": issuer.group(1).strip() if issuer else "",
        }
    if k.startswith(("ftp-", "telnet-")):
        return {"kind": "banner", "port": 21 if k.startswith("ftp") else 23, "raw": text}
    if k.startswith("dhdiscover"):
        return {"kind": "dhdiscover", "raw": text}
    if k.startswith("sadp"):
        return {"kind": "sadp", "raw": text}
    if k.startswith(("onvif", "wsdiscovery")):
        return {"kind": "onvif", "raw": text}
    if k.startswith("upnp"):
        return {"kind": "upnp", "raw": text}
    return {"kind": "banner", "raw": text}


def keyword_baseline(text: str) -> str:
    low = text.lower()
    if "hikvision" in low:
        return "hikvision"
    if "dahua" in low:
        return "dahua"
    return "unknown"


def scores(pairs: list[tuple[str, str]]) -> dict[str, tuple[float, float, int, int, int]]:
    out = {}
    for maker in MAKERS:
        tp = sum(1 for t, p in pairs if t == maker and p == maker)
        fp = sum(1 for t, p in pairs if t != maker and p == maker)
        fn = sum(1 for t, p in pairs if t == maker and p != maker)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        out[maker] = (precision, recall, tp, fp, fn)
    return out


def bucket(vendor: str) -> str:
    return vendor if vendor in (*MAKERS, "unknown") else "other maker"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    labels_file = args.corpus / "labels.csv"
    if not labels_file.exists():
        print(f"corpus not found at {args.corpus}: skipped")
        return 0
    labels = list(csv.DictReader(labels_file.open(encoding="utf-8")))
    lines, texts = [], []
    for i, row in enumerate(labels):
        text = (args.corpus / "samples" / row["file"]).read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        lines.append(json.dumps({"id": i, "observations": [observation(row["kind"], text)]}))
    proc = subprocess.run(
        [sys.executable, "-m", "phaseout", "identify"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    results = {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    ours = [(row["true_vendor"], results[i].get("vendor", "unknown")) for i, row in enumerate(labels)]
    base = [(row["true_vendor"], keyword_baseline(texts[i])) for i, row in enumerate(labels)]
    print(f"corpus: {len(labels)} samples ({Counter(r['true_vendor'] for r in labels)})")
    print(f"{'':24}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}")
    for name, pairs in (("phaseout", ours), ("baseline: keyword", base)):
        for maker, (p, r, tp, fp, fn) in scores(pairs).items():
            print(f"{name + ' ' + maker:<24}{p:>10.3f}{r:>8.3f}{tp:>5}{fp:>5}{fn:>5}")
    other_fp = sum(1 for t, p in ours if t == "other" and p in MAKERS)
    print(
        f"false positives on other makers: phaseout {other_fp}, "
        f"baseline {sum(1 for t, p in base if t == 'other' and p in MAKERS)}"
    )
    print("\nconfusion (rows: truth, columns: phaseout)")
    cols = ("hikvision", "dahua", "other maker", "unknown")
    print(f"{'':12}" + "".join(f"{c:>13}" for c in cols))
    for truth in ("hikvision", "dahua", "other"):
        counts = Counter(bucket(p) for t, p in ours if t == truth)
        print(f"{truth:<12}" + "".join(f"{counts[c]:>13}" for c in cols))
    print("\nrecall of Hikvision + Dahua by capture tier (A verbatim ... D one short banner)")
    for tier in sorted({r["tier"] for r in labels}):
        rows = [(t, p) for (t, p), r in zip(ours, labels, strict=True) if r["tier"] == tier and t in MAKERS]
        if rows:
            hit = sum(1 for t, p in rows if t == p)
            print(f"  tier {tier}: {hit}/{len(rows)}")
    if args.show_misses:
        for (t, p), row in zip(ours, labels, strict=True):
            if (t in MAKERS and p != t) or (t == "other" and p in MAKERS):
                print(f"  miss: {row['file']} truth={t} got={p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
