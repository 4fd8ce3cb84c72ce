"""The formats ``phaseout import`` knows, and recognising a file's format from its content.

Each reader module declares one or more :class:`Format` values; ``detect`` asks every format
how sure it is that the first 64 KiB are its own (the file name's extension only nudges the
score), and the most confident wins.  A file no format claims is an error that names the
formats tried and the closest one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from phaseout.errors import InputFileError, UsageError
from phaseout.ingest.formats.record import ModelFact, RecordError, SourceRecord
from phaseout.ingest.formats.safe import head_text

Item = SourceRecord | RecordError | ModelFact
#: (head text of the file, lower-case file name) -> confidence 0..1 that the file is this format.
Sniffer = Callable[[str, str], float]
Reader = Callable[[Path], Iterator[Item]]
#: Confidence a format needs to be picked without ``--format``.
THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    title: str
    extensions: tuple[str, ...]
    sniff: Sniffer
    read: Reader | None  # None: read by the spreadsheet importer
    example: str = ""

    def score(self, head: str, name: str) -> float:
        base = self.sniff(head, name)
        if base > 0 and any(name.endswith(ext) for ext in self.extensions):
            base += 0.1
        return min(base, 1.0)


def all_formats() -> list[Format]:
    from phaseout.ingest.formats import catalogue

    return list(catalogue.FORMATS)


def by_name(name: str) -> Format:
    formats = all_formats()
    for fmt in formats:
        if fmt.name == name.lower():
            return fmt
    raise UsageError(
        f"unknown format {name!r}",
        hint="one of: " + ", ".join(f.name for f in formats) + " (phaseout import --formats)",
    )


def scores(path: Path) -> list[tuple[float, Format]]:
    """Every format's confidence for this file, best first."""
    head = head_text(path)
    name = path.name.lower()
    ranked = [(fmt.score(head, name), fmt) for fmt in all_formats()]
    ranked.sort(key=lambda pair: -pair[0])
    return ranked


def detect(path: Path, forced: str | None = None) -> Format:
    """The format of ``path``: ``forced`` when given, else recognised from the content."""
    if forced:
        return by_name(forced)
    if not path.exists():
        raise InputFileError(f"no such file: {path}")
    if not path.is_file():  # never open a device or a FIFO to sniff it: /dev/zero never ends
        what = "a folder" if path.is_dir() else "a device, pipe or socket"
        raise InputFileError(f"{path} is {what}, not a regular file", hint="save the data to a file and import that")
    ranked = scores(path)
    best_score, best = ranked[0]
    if best_score >= THRESHOLD:
        return best
    closest = best.name if best_score > 0 else "none"
    raise InputFileError(
        f"{path.name}: format not recognised (tried {', '.join(f.name for _s, f in ranked)}; "
        f"closest: {closest}, {best_score:.2f})",
        hint="name it with --format NAME; phaseout import --formats lists them",
    )
