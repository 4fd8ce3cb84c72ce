"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the app served
by uvicorn on loopback.  Logs in, filters devices, opens a device and its evidence, opens a site and
its runbook, views the plan, and proves that a hostile model name stays text.  Screenshots go to
test-artifacts/screenshots/.  Skipped (with the reason) when Chromium or Playwright is missing,
except under CI=true, where they must run."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import PASSWORDS, XSS, build_estate

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


reason = _missing()
if reason and os.environ.get("CI") == "true":
    raise RuntimeError(f"browser tests must run in CI: {reason}")
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from phaseout.store import Store
    from phaseout.web.app import create_app

    db = build_estate(tmp_path_factory.mktemp("browser-estate"))
    store = Store.open(db)
    port = _free_port()
    config = uvicorn.Config(create_app(store.engine), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.problems = []  # console errors (CSP violations show there), page errors, dialogs
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))

    def on_dialog(d: Any) -> None:
        pg.problems.append(f"dialog: {d.message}")
        d.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Any, name: str = "vic") -> None:
    page.goto("/")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def test_overview_with_charts(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("canvas[data-chart=vendor][data-drawn='1']")
    assert page.locator("canvas[data-drawn='1']").count() >= 4
    assert "covered devices remaining" in page.inner_text("main")
    shot(page, "overview")
    assert not page.problems, page.problems


def test_filter_devices_open_one_and_its_evidence(page: Any) -> None:
    log_in(page)
    page.goto("/devices")
    total_before = page.inner_text("#device-results .hint")
    page.select_option("select[name=vendor]", "dahua")  # htmx swaps the results in place
    page.wait_for_url("**vendor=dahua**")
    page.wait_for_function(
        "prev => document.querySelector('#device-results .hint').innerText !== prev", arg=total_before
    )
    makers = page.locator("#devices-table tbody tr td:nth-child(4)").all_inner_texts()
    assert makers and set(makers) == {"dahua"}
    shot(page, "devices-filtered")
    page.locator("#devices-table tbody tr td:first-child a").first.click()
    page.wait_for_selector("#evidence")
    assert page.locator("#evidence tbody tr").count() >= 1
    page.locator("details.observation summary").first.click()
    assert page.locator("details.observation pre").first.is_visible()
    shot(page, "device")
    assert not page.problems, page.problems


def test_open_a_site_and_its_runbook(page: Any) -> None:
    log_in(page)
    page.goto("/sites?sort=risk&order=desc")
    page.wait_for_selector("#sites-table")
    page.wait_for_selector("#site-map[data-drawn] canvas")  # one circle per site with coordinates
    assert int(page.get_attribute("#site-map", "data-drawn") or 0) >= 10
    shot(page, "sites")
    page.locator("#sites-table tbody tr td:first-child a").first.click()
    page.wait_for_selector("h1:has-text('Site')")
    assert page.locator("#devices-table tbody tr").count() >= 1
    if page.locator("#runbook").count():
        first = page.locator("#runbook tbody tr").first.inner_text()
        assert "install" in first or "swap" in first or "note the recorder's channels" in first
    shot(page, "site")
    assert not page.problems, page.problems


def test_plan_page(page: Any) -> None:
    log_in(page)
    page.goto("/plan")
    page.wait_for_selector("canvas[data-chart=spend][data-drawn='1']")
    page.wait_for_selector("canvas[data-chart=burn][data-drawn='1']")
    assert page.locator("#periods tbody tr").count() == 12
    shot(page, "plan")
    assert not page.problems, page.problems


def test_hostile_model_name_is_text(page: Any) -> None:
    log_in(page)
    page.goto("/devices?q=127.30.0.9")
    page.wait_for_selector("#devices-table")
    assert XSS in page.inner_text("#devices-table")  # shown as the text it is
    page.locator("#devices-table tbody tr td:first-child a").first.click()
    page.wait_for_selector("#evidence")
    assert XSS in page.inner_text("h1")
    page.goto("/sites/0001")
    page.wait_for_selector("#devices-table")
    shot(page, "xss")
    assert page.evaluate("document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length") == 0
    assert not [p for p in page.problems if p.startswith("dialog")], page.problems
    assert not page.problems, page.problems


def test_logged_out_browser_sees_only_the_login(page: Any) -> None:
    page.goto("/devices")
    assert "/login" in page.url
    response = page.request.get("/api/v1/devices")
    assert response.status == 401


def test_api_docs_render_under_the_csp(page: Any) -> None:
    log_in(page)
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    assert "phaseout" in page.inner_text(".swagger-ui .info")
    shot(page, "api-docs")
    assert not page.problems, page.problems


def test_overview_progress_tile_and_plan_against_actual(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("canvas[data-chart=progress][data-drawn='1']")
    tile = page.inner_text("#progress-tile")
    assert "replaced and verified" in tile and " of " in tile
    spec = page.evaluate("JSON.parse(document.getElementById('chart-progress').textContent)")
    labels = [s["label"] for s in spec["series"]]
    assert labels == ["plan (incl. no replacement planned)", "actual (verified)"]
    assert spec["series"][0]["values"][-1] >= 0 and len(spec["labels"]) <= 13  # stops at the last period with work
    assert "optimal" in page.inner_text("main")  # "optimal" or "within X % of optimal", never a bare status
    shot(page, "overview-progress")
    assert not page.problems, page.problems


def test_map_legend_and_absolute_scale(page: Any) -> None:
    log_in(page)
    page.goto("/sites")
    page.wait_for_selector("#site-map[data-drawn] canvas")
    legend = page.inner_text("#map-legend")
    for label in ("100 or more", "50 to 99", "10 to 49", "1 to 9", "none"):
        assert label in legend
    swatches = page.eval_on_selector_all(".legend i", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert len(swatches) == 5 and all(c != "rgba(0, 0, 0, 0)" for c in swatches)
    colours = page.evaluate("JSON.parse(document.getElementById('site-map').dataset.colours)")
    points = page.evaluate("JSON.parse(document.getElementById('map-points').textContent)")
    scale = page.evaluate("JSON.parse(document.getElementById('map-scale').textContent)")

    def expected(covered: int) -> str:
        return next(b["colour"] for b in scale if covered >= b["min"])

    want: dict[str, int] = {}
    for p in points:
        want[expected(p["covered"])] = want.get(expected(p["covered"]), 0) + 1
    assert colours == want  # each site's colour depends on its own count only
    shot(page, "sites-legend")
    assert not page.problems, page.problems


def test_findings_totals_reconcile_and_labels_once(page: Any) -> None:
    log_in(page)
    page.goto("/findings")
    page.wait_for_selector("#findings-vulnerability")
    totals = page.inner_text("#totals-vulnerability")
    assert "devices with at least one finding" in totals and "findings in all" in totals
    refs = page.locator("#findings-vulnerability tbody tr td:first-child").all_inner_texts()
    assert refs and len(refs) == len(set(refs))  # each CVE once, its statuses inside the row
    findings = sum(int(t.replace(",", "")) for t in page.locator("#findings-vulnerability td.num").all_inner_texts())
    assert f"{findings:,} findings in all" in totals
    for detail in page.locator("#findings-vulnerability td.detail summary").all_inner_texts():
        assert detail.endswith("…") and not detail[:-1].endswith(" ")
    shot(page, "findings")
    assert not page.problems, page.problems


def test_api_docs_readable(page: Any) -> None:
    log_in(page)
    page.goto("/api/v1/docs")
    page.wait_for_selector("#swagger-ui .opblock", timeout=20000)
    accent = page.evaluate(
        "() => { const b = document.createElement('button'); document.querySelector('main').appendChild(b);"
        " const c = getComputedStyle(b).backgroundColor; b.remove(); return c; }"
    )
    inside = page.eval_on_selector_all("#swagger-ui button", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert inside and accent not in inside  # the dashboard's button style stays out of Swagger UI
    shot(page, "api-docs")
