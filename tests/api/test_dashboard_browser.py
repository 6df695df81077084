"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright over demo-style data.

Setup: when ``/usr/bin/chromium`` is missing and we are root, ``apt-get install -y chromium`` (as for
the suite's other system packages); otherwise the tests skip and say why. Playwright's own browser
download is never used (``executable_path`` is Debian's Chromium). Screenshots of the main pages go to
``build/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import ApiOptions, create_app
from api.server import BackgroundServer
from spendwatch.history import AnomalyQuery, open_store
from tests.api.conftest import NOW, TOKEN

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, capture_output=True, timeout=900,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if os.path.exists(CHROMIUM):
            return CHROMIUM
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium package: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def served(demo_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    copy = tmp_path_factory.mktemp("browser") / "history.db"
    shutil.copy(demo_sqlite, copy)
    store = open_store(f"sqlite:///{copy}")
    with BackgroundServer(create_app(store, ApiOptions(token=TOKEN), now=lambda: NOW)) as srv:
        yield srv.url, store
    store.close()


@pytest.fixture(scope="module")
def page(served: tuple[str, Any]) -> Iterator[Any]:
    path = _chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        yield pg
        browser.close()
        assert errors == [], errors


def series_count(page: Any, plot: str) -> int:
    return int(page.locator(f'svg[data-plot="{plot}"] g.series').count())


def test_overview_plots_render_with_one_series_per_team(page: Any, served: tuple[str, Any]) -> None:
    url, _store = served
    page.goto(url + "?since=3d")
    api = httpx.get(url + "api/v1/series/spend", params={"since": "3d"}).json()
    waste = httpx.get(url + "api/v1/series/waste", params={"since": "3d"}).json()
    assert len(api["series"]) >= 5
    assert series_count(page, "spend_by_team") == len(api["series"])
    assert series_count(page, "waste_by_team") == len(waste["series"]) >= 3
    names = page.locator('svg[data-plot="spend_by_team"] g.series').evaluate_all(
        "els => els.map(e => e.dataset.series)")
    assert names == [s["name"] for s in api["series"]]
    bars = page.locator('svg[data-plot="spend_by_team"] rect').count()
    box = page.locator('svg[data-plot="spend_by_team"]').bounding_box()
    assert bars > 50 and box["width"] > 600 and box["height"] > 150
    assert page.locator("table.anomalies tbody tr").count() == len(
        httpx.get(url + "api/v1/anomalies", params={"state": "open", "limit": 25}).json()["items"])
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)


def test_filters_work(page: Any, served: tuple[str, Any]) -> None:
    url, store = served
    page.goto(url + "anomalies")
    total = int(page.locator("#result-count").inner_text())
    assert total == store.count(AnomalyQuery(from_ts=NOW - 30 * 86400))
    with page.expect_navigation():
        page.select_option('select[name="kind"]', "idle_gpu")
    assert "kind=idle_gpu" in page.url
    rows = page.locator("table.anomalies tbody tr")
    want = store.query(AnomalyQuery(from_ts=NOW - 30 * 86400, kinds=("idle_gpu",)))
    assert rows.count() == len(want) == int(page.locator("#result-count").inner_text()) >= 1
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"idle_gpu"}
    page.fill('input[name="team"]', "nlp")
    with page.expect_navigation():
        page.press('input[name="team"]', "Enter")
    assert page.locator("table.anomalies tbody tr").count() == len(
        store.query(AnomalyQuery(from_ts=NOW - 30 * 86400, kinds=("idle_gpu",), teams=("nlp",))))
    page.goto(url + "anomalies?since=30d")
    page.screenshot(path=str(SHOTS / "anomalies.png"), full_page=True)


def test_anomaly_pages_explain_with_the_right_plot(page: Any, served: tuple[str, Any]) -> None:
    url, store = served
    expect = {"cost_spike": ("spend_band", {"observed", "expected", "hourly spend (recorded)"}),
              "gpu_memory_hoarding": ("gpu_activity", {"activity %", "memory used %"}),
              "retrain_loop": ("runs", None), "retrain_needed": ("drift_scores", None)}
    for kind, (plot, names) in expect.items():
        a = store.query(AnomalyQuery(kinds=(kind,), sort="waste"))[0]
        page.goto(url + f"anomalies/{a['id']}")
        svg = page.locator(f'svg[data-plot="{plot}"]')
        assert svg.count() == 1, kind
        got = set(svg.locator("g.series").evaluate_all("els => els.map(e => e.dataset.series)"))
        if names is not None:
            assert names <= got, (kind, got)
        assert got and svg.locator("circle, rect, path").count() > 2
        if plot == "spend_band":
            assert svg.locator("polygon.band, line.band").count() == 1
            assert svg.locator('rect.span[data-span="anomalous"]').count() == 1
            page.screenshot(path=str(SHOTS / "cost-spike.png"), full_page=True)
        if plot == "gpu_activity":
            assert svg.locator("line.mark").count() == 1  # the dwell
            page.screenshot(path=str(SHOTS / "idle-gpu.png"), full_page=True)


def test_a_silence_created_in_the_page_shows_up_in_the_api(page: Any, served: tuple[str, Any]) -> None:
    url, _store = served
    page.goto(url + "silences")
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    page.fill('textarea[name="matchers"]', "kind=idle_gpu\nworkload=notebooks/*")
    page.select_option('select[name="duration"]', "4h")
    page.fill('input[name="created_by"]', "ana@corp.example")
    page.fill('input[name="comment"]', "cleanup week")
    with page.expect_navigation():
        page.click("#silence-form button[type=submit]")
    (s,) = httpx.get(url + "api/v1/silences").json()
    assert s["created_by"] == "ana@corp.example" and s["matchers_text"] == ["kind=idle_gpu", "workload=notebooks/*"]
    assert s["ends_at"] == pytest.approx(NOW + 4 * 3600) and s["comment"] == "cleanup week"
    assert page.locator("table.silences tbody tr").count() == 1
    page.screenshot(path=str(SHOTS / "silences.png"), full_page=True)
    with page.expect_navigation():
        page.click("button.expire")
    assert httpx.get(url + "api/v1/silences").json() == []
    page.goto(url + "waste?since=7d")
    assert series_count(page, "waste_by_kind") >= 4
    page.screenshot(path=str(SHOTS / "waste.png"), full_page=True)
