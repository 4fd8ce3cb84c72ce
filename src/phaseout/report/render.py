"""A report in HTML, PDF (WeasyPrint, from the same HTML) or XLSX (one sheet per table).

Charts are SVG drawn by pygal, inlined in the HTML, so the PDF needs nothing from outside: the
PDF renderer's URL fetcher refuses every URL but ``data:``.  Every value is escaped (Jinja2
autoescaping; pygal escapes its labels); spreadsheet cells that would run as formulas are
neutralised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygal
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from phaseout.export.safe import neutralise, safe_workbook
from phaseout.report.data import Chart, Report

_env = Environment(loader=PackageLoader("phaseout.report", "templates"), autoescape=select_autoescape(["html"]))
_STYLE = pygal.style.Style(
    background="white",
    plot_background="white",
    foreground="#111827",
    foreground_strong="#111827",
    foreground_subtle="#6b7280",
    colors=("#1d4ed8", "#b91c1c", "#15803d", "#a16207"),
    font_family="DejaVu Sans, sans-serif",
)


def chart_svg(chart: Chart) -> Markup:
    cls = pygal.Line if chart.kind == "line" else pygal.Bar
    graph = cls(
        style=_STYLE,
        width=720,
        height=300,
        show_legend=len(chart.series) > 1,
        legend_at_bottom=True,
        x_label_rotation=30 if len(chart.labels) > 6 else 0,
        disable_xml_declaration=True,
        js=[],  # no script: the SVG is a picture
    )
    graph.value_formatter = lambda v: "" if v is None else f"{v:,.0f}"
    graph.title = chart.title
    graph.x_labels = chart.labels
    for name, values in chart.series:
        graph.add(name, values)
    return Markup(graph.render(is_unicode=True))


def to_html(report: Report) -> str:
    return _env.get_template("report.html").render(report=report, chart_svg=chart_svg)


def _refuse_urls(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url, *args, **kwargs)  # type: ignore[no-any-return]
    raise ValueError(f"reports fetch nothing from outside ({url})")


PANGO_HINT = (
    "Debian/Ubuntu: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 — or write -f html or -f xlsx instead"
)


def _weasyprint_html() -> Any:
    """WeasyPrint's HTML class; a missing Pango becomes one line that says what to install."""
    try:
        from weasyprint import HTML
    except OSError as exc:  # WeasyPrint loads Pango with cffi when imported
        from phaseout.errors import MissingLibraryError

        raise MissingLibraryError(
            f"PDF reports need the Pango library, which is not installed ({str(exc).splitlines()[0][:120]})",
            hint=PANGO_HINT,
        ) from None
    return HTML


def to_pdf(report: Report, path: Path) -> None:
    HTML = _weasyprint_html()

    HTML(string=to_html(report), url_fetcher=_refuse_urls).write_pdf(str(path))


def to_xlsx(report: Report, path: Path) -> None:
    book = safe_workbook(path)  # text never becomes a live link or formula
    bold = book.add_format({"bold": True})
    summary = book.add_worksheet("summary")
    summary.write(0, 0, neutralise(report.title), bold)
    summary.write(1, 0, neutralise(report.subtitle))
    summary.write(2, 0, f"generated {report.generated}")
    for i, (label, value) in enumerate(report.figures, start=4):
        summary.write(i, 0, neutralise(label))
        summary.write(i, 1, neutralise(value))
    used: set[str] = {"summary"}
    for section in report.sections:
        for table in section.tables:
            name = _sheet_name(table.name, used)
            sheet = book.add_worksheet(name)
            for col, heading in enumerate(table.columns):
                sheet.write(0, col, heading, bold)
            for r, row in enumerate(table.rows, start=1):
                for c, value in enumerate(row):
                    sheet.write(r, c, neutralise(value) if isinstance(value, str) else value)
            sheet.freeze_panes(1, 0)
    book.close()


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:28] or "table"
    candidate, n = base, 2
    while candidate.lower() in {u.lower() for u in used}:
        candidate, n = f"{base[:25]} {n}", n + 1
    used.add(candidate)
    return candidate


def write(report: Report, fmt: str, path: Path) -> None:
    if fmt == "html":
        path.write_text(to_html(report), encoding="utf-8")
    elif fmt == "pdf":
        to_pdf(report, path)
    elif fmt == "xlsx":
        to_xlsx(report, path)
    else:
        from phaseout.errors import UsageError

        raise UsageError(f"unknown format {fmt!r}", hint="pdf, xlsx or html")
