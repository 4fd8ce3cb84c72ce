"""``phaseout identify`` (the stable JSON Lines interface) and ``phaseout knowledge``."""

from __future__ import annotations

import io
import shutil
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from phaseout.cli.common import console, err_console
from phaseout.errors import InputFileError, KnowledgeError
from phaseout.identify import Identifier
from phaseout.identify.jsonl import identify_line, read_lines, run
from phaseout.knowledge import load_knowledge
from phaseout.knowledge.check import check_knowledge
from phaseout.knowledge.index import clear_cache
from phaseout.knowledge.oui import load_registry_csv, user_registry_path
from phaseout.policy.packs import available_packs, covered_makers


class IdentifyFormat(StrEnum):
    jsonl = "jsonl"
    table = "table"


def identify(
    input_: str = typer.Option("-", "--input", "-i", help="JSON Lines file of device records; - for stdin."),
    fmt: IdentifyFormat = typer.Option(
        IdentifyFormat.jsonl,
        "--format",
        "-f",
        help="jsonl (one object per line, same order and ids as the input) or table.",
    ),
) -> None:
    """Identify devices from their observations.

    Each input line is {"id": ..., "observations": [...]} where an observation is one of:
    inventory (spreadsheet fields), mac, http, rtsp, onvif, sadp, dhdiscover, upnp, tls or
    banner (see docs/identify.md). Each output line gives vendor (the maker of the hardware and
    firmware), brand (the label), relation, model, firmware, device_type, form_factor,
    megapixels, confidence and the evidence: every rule that fired. A bad line gets
    {"id": ..., "error": "..."}; the stream goes on.

    Example:

        phaseout identify --input devices.jsonl --format table

        echo '{"id":"c1","observations":[{"kind":"mac","value":"28:57:BE:12:34:56"}]}' | phaseout identify
    """
    identifier = Identifier()
    if input_ == "-":
        source = sys.stdin.buffer
    else:
        try:
            source = Path(input_).open("rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputFileError(f"cannot read {input_}: {exc.strerror}") from exc
    try:
        if fmt is IdentifyFormat.jsonl:
            _done, errors = run(identifier, source, sys.stdout.buffer)
        else:
            errors = _table(identifier, source)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    if errors:
        err_console.print(f"[yellow]{errors} line(s) could not be identified[/]: see their error objects")


#: (column, output key, the narrowest terminal it is shown on): the table keeps what fits, the
#: identification first; ``--format jsonl`` always has everything.
_COLUMNS = (
    ("id", "id", 0),
    ("vendor", "vendor", 0),
    ("brand", "brand", 0),
    ("model", "model", 0),
    ("conf.", "confidence", 0),
    ("type", "device_type", 90),
    ("relation", "relation", 110),
    ("form", "form_factor", 130),
    ("MP", "megapixels", 130),
    ("evidence", "", 150),
)


def _table(identifier: Identifier, source: io.BufferedIOBase | object) -> int:
    width = console.width
    shown = [c for c in _COLUMNS if width >= c[2]]
    table = Table(title="identification", title_justify="left")
    for name, _key, _min in shown:
        table.add_column(name, overflow="fold", no_wrap=name in ("id", "vendor", "conf."))
    errors = 0
    for number, line in read_lines(source):  # type: ignore[arg-type]
        out = identify_line(identifier, number, line)
        if out is None:
            continue
        if "error" in out:
            errors += 1
            table.add_row(escape(str(out["id"])), "[red]error[/]", escape(out["error"]), *[""] * (len(shown) - 3))
            continue
        cells = []
        for _name, key, _min in shown:
            if key:
                cells.append(escape("" if out[key] is None else str(out[key])))
            else:
                cells.append(", ".join(escape(e["rule"]) for e in out["evidence"] if e.get("weight")))
        table.add_row(*cells)
    console.print(table)
    hidden = [c[0] for c in _COLUMNS if c not in shown]
    if hidden:
        err_console.print(
            f"not shown at {width} columns: {', '.join(hidden)} (a wider terminal, or --format jsonl, shows them)"
        )
    return errors


knowledge_app = typer.Typer(
    help="What phaseout knows about makers, brands, MAC prefixes and rules, and where from.", no_args_is_help=True
)


@knowledge_app.command("check")
def knowledge_check(
    folder: Path | None = typer.Argument(
        None, help="A folder of edited knowledge files (default: $PHASEOUT_KNOWLEDGE or the packaged ones)."
    ),
) -> None:
    """Check the knowledge files: syntax, sources, and every rule against its own examples
    (a rule shadowed by an earlier one, an example that fails, a counter-example that matches)."""
    report = check_knowledge(folder)
    if report.problems:
        for problem in report.problems:
            err_console.print(f"[red]✗[/] {escape(problem)}")
        raise KnowledgeError(
            f"{len(report.problems)} problem(s) in {report.folder}",
            hint="fix them; each line names the file and the rule",
            problems=report.problems,
        )
    console.print(f"[green]✓[/] {report.rules} rules, {report.examples} examples: all pass ({escape(report.folder)})")


@knowledge_app.command("show")
def knowledge_show(name: str = typer.Argument(..., help="A maker, a brand or a MAC prefix (28:57:BE).")) -> None:
    """Explain what is known about a maker, a brand or a MAC prefix, and from where."""
    k = load_knowledge()
    hex_digits = "".join(c for c in name if c.isalnum()).upper()
    if 6 <= len(hex_digits) <= 12 and all(c in "0123456789ABCDEF" for c in hex_digits):
        found = k.oui.lookup(hex_digits.ljust(12, "0"))
        if found is None:
            console.print(f"{escape(name)}: not in the curated list nor the IEEE registry")
            return
        table = Table(show_header=False, title=f"MAC prefix {escape(found.prefix)}", title_justify="left")
        table.add_row("registrant", escape(found.registrant))
        if found.curated:
            c = found.curated
            for label, value in (
                ("maker", c.maker or "(none)"),
                ("brand", c.brand),
                ("relation", c.relation),
                ("confidence", c.confidence),
                ("registry", c.registry),
                ("note", c.note),
                ("source", c.source),
            ):
                table.add_row(label, escape(value))
        else:
            table.add_row("maker", escape(k.maker_of_registrant(found.registrant) or "(not a maker phaseout tracks)"))
            table.add_row("source", "IEEE registry (netaddr, or the copy loaded with knowledge update --oui)")
        console.print(table)
        return
    hit = k.match_name(name)
    if hit is None:
        raise KnowledgeError(
            f"nothing known about {name!r}", hint="try a maker (hikvision), a brand (hilook) or a MAC prefix (28:57:BE)"
        )
    maker = k.makers[hit.maker]
    if hit.brand and k.brands[hit.brand].relation != "own":
        b = k.brands[hit.brand]
        table = Table(show_header=False, title=f"brand {escape(b.name)}", title_justify="left")
        table.add_row("made by", escape(maker.name))
        table.add_row("relation", b.relation + (f" ({b.since} to {b.until})" if b.since else ""))
        table.add_row("confidence", b.confidence)
        if b.note:
            table.add_row("note", escape(b.note))
        for s in b.sources:
            table.add_row("source", escape(s))
        console.print(table)
    table = Table(show_header=False, title=f"maker {escape(maker.name)}", title_justify="left")
    for label, value in (
        ("legal name", maker.legal_name),
        ("country", maker.country),
        ("parent", maker.parent),
        ("state ownership", maker.state_ownership),
        ("covered by packs", ", ".join(covered_makers(list(available_packs().values())).get(maker.key, [])) or "none"),
    ):
        if value:
            table.add_row(label, escape(value))
    for entry in maker.lists:
        table.add_row("listed", escape(f"{entry.date} {entry.list} ({entry.source})"))
    brands = [b.name for b in k.brands.values() if b.maker == maker.key and b.relation != "own"]
    if brands:
        table.add_row("brands", escape(", ".join(brands)))
    prefixes = sum(1 for o in k.raw.ouis.values() if o.maker == maker.key)
    table.add_row("MAC prefixes", f"{prefixes} curated" + (" (+ IEEE registry)" if maker.registrant else ""))
    rules = [r.id for r in k.grammar if r.maker == maker.key] + [
        r.id for rs in k.signals_by_field.values() for r in rs if r.maker == maker.key
    ]
    table.add_row("rules", escape(", ".join(rules) or "(none)"))
    for s in maker.sources:
        table.add_row("source", escape(s))
    console.print(table)


@knowledge_app.command("update")
def knowledge_update(
    oui: Path | None = typer.Option(
        None,
        "--oui",
        help="An IEEE registry CSV you downloaded (MA-L, MA-M or MA-S: "
        "Registry,Assignment,Organization Name,Organization Address).",
    ),
    kev: Path | None = typer.Option(
        None, "--kev", help="The CISA KEV catalogue, JSON (known_exploited_vulnerabilities.json)."
    ),
    cve: Path | None = typer.Option(
        None, "--cve", help="A folder of CVE JSON 5.x records (CVE-*.json, searched recursively, as in the CVE List)."
    ),
) -> None:
    """Load newer facts from files you downloaded (no network needed). Every file is checked
    before anything is written; a bad one changes nothing."""
    if oui is None and kev is None and cve is None:
        raise KnowledgeError("nothing to update", hint="give --oui FILE, --kev FILE and/or --cve DIR")
    from phaseout.assess.feeds import read_cve_dir, read_kev
    from phaseout.assess.store_feeds import save_cves, save_kev

    catalog = read_kev(kev) if kev is not None else None
    records = read_cve_dir(cve) if cve is not None else None
    if oui is not None:
        _update_oui(oui)
    if catalog is not None:
        path = save_kev(catalog)
        console.print(
            f"KEV catalogue {escape(catalog.version)}: {len(catalog.entries):,} entries -> {escape(str(path))}"
        )
    if records is not None:
        path, total = save_cves(records)
        console.print(f"{len(records):,} CVE records loaded; {total:,} in {escape(str(path))}")


def _update_oui(oui: Path) -> None:
    try:
        entries = load_registry_csv(oui)
    except OSError as exc:
        raise InputFileError(f"cannot read {oui}: {exc.strerror}") from exc
    if not entries:
        raise InputFileError(
            f"{oui} has no registry rows",
            hint="expected the IEEE CSV header Registry,Assignment,Organization Name,Organization Address",
        )
    target = user_registry_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    # merge with an earlier load: MA-L, MA-M and MA-S come as separate files
    merged = load_registry_csv(target) | entries if target.exists() else entries
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        import csv

        writer = csv.writer(fh)
        writer.writerow(["Registry", "Assignment", "Organization Name", "Organization Address"])
        for prefix, org in sorted(merged.items()):
            writer.writerow([{6: "MA-L", 7: "MA-M", 9: "MA-S"}.get(len(prefix), ""), prefix, org, ""])
    shutil.move(tmp, target)
    clear_cache()
    console.print(f"{len(entries):,} prefixes loaded from {escape(str(oui))}; {len(merged):,} in {escape(str(target))}")
