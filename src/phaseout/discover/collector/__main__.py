"""``phaseout-collector`` (or ``python -m phaseout.discover.collector``): the collector's loop
without the rest of the command line, for the systemd service on a small site machine (the
full ``phaseout`` CLI loads the store, the web app and every command: ~70 MB more at start)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from phaseout.errors import PhaseoutError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="phaseout-collector", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="pull jobs, scan locally, queue and push results (as `phaseout collector run`)")
    run.add_argument("--state-dir", type=Path, default=Path("/var/lib/phaseout-collector"))
    run.add_argument("--once", action="store_true", help="stop when no job is left and the queue is empty")
    run.add_argument("--poll", type=float, default=30.0, help="seconds between asking for jobs when idle")
    run.add_argument("--concurrency", type=int, default=512, choices=range(1, 4097), metavar="1-4096")
    run.add_argument("--host-deadline", type=float, default=8.0)
    run.add_argument("--rate", type=float, default=0.0)
    run.add_argument("--read-timeout", type=float, default=2.0, help="seconds to wait for each answer")
    args = parser.parse_args(argv)
    from phaseout.discover.collector.agent import serve, summary
    from phaseout.discover.scanner import ScanSettings

    settings = ScanSettings(
        concurrency=args.concurrency,
        host_deadline=max(0.5, args.host_deadline),
        rate=args.rate,
        read_timeout=min(max(0.2, args.read_timeout), 60.0),
    )
    try:
        report, queued = serve(args.state_dir, settings, once=args.once, poll=max(1.0, args.poll))
    except PhaseoutError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    print(summary(report, queued), file=sys.stderr)
    for error in report.errors[-5:]:
        print(error, file=sys.stderr)


if __name__ == "__main__":
    main()
