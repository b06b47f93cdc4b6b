"""The timeline (issue 8, point 7) in Debian's Chromium against a real `tasksched serve`: runs per
task and overall on a canvas, each run's start, queue wait, duration, outcome and attempt ("attempt
2 of 3") under the pointer, zoom from an hour to a week with the buttons and the window presets (the
window in the URL and the canvas), a task's own timeline on its page, axe-core in light and dark; and
ten thousand runs in a week's window, every one laid out, with the canvas's draw times written to
test-artifacts/ui/timeline-draw.txt (recorded, not asserted: bench/RESULTS.md quotes them).

The runs are written into the server's database with the times a check needs (tests/e2e/ui_seed.py).
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.test_ui_a11y import AXE, axe_violations, describe, set_scheme
from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    ARTIFACTS,
    Server,
    browser_page,
    expect,
    missing,
    running_server,
    screenshot,
    sign_in,
)
from tests.e2e.ui_seed import database_url, insert_runs, run_row

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HOUR = 3_600_000
DAY = 24 * HOUR
HTTP = {"type": "http", "url": "http://127.0.0.1:9/none"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """Three tasks' runs in the last half hour: a slot of `ingest` failing twice and succeeding on
    its third attempt, each after a queue wait; a long `backup` that waited two minutes; a timed-out,
    a cancelled (before it started) and a queued (for a queue no worker takes) run of `cleanup`."""
    folder = tmp_path_factory.mktemp("ui-timeline")
    with running_server(folder) as server:
        ingest = server.create_task(name="ingest", action=HTTP, retry={"max_attempts": 3})
        backup = server.create_task(name="backup", action=HTTP, retry={"max_attempts": 1})
        cleanup = server.create_task(name="cleanup", action=HTTP, queue="offline")
        now = datetime.now(UTC).replace(microsecond=0)
        slot = now - timedelta(minutes=30)
        rows = [
            run_row(ingest, "failed", slot, wait=20, duration=30, error="boom"),
            run_row(
                ingest, "failed", slot + timedelta(minutes=2), wait=20, duration=30, attempt=2, slot=slot
            ),
            run_row(
                ingest, "succeeded", slot + timedelta(minutes=4), wait=5, duration=60, attempt=3, slot=slot
            ),
            run_row(backup, "succeeded", slot + timedelta(minutes=10), wait=120, duration=300),
            run_row(cleanup, "timed_out", slot + timedelta(minutes=5), wait=2, duration=90),
            run_row(cleanup, "cancelled", slot + timedelta(minutes=15), wait=None),
            run_row(cleanup, "queued", now - timedelta(minutes=5), wait=None, queue="offline"),
        ]
        ids = insert_runs(database_url(folder), rows)
        yield server, {"ingest": ingest, "backup": backup, "cleanup": cleanup, "rows": rows, "ids": ids}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # UTC, so the tooltip's times read as the seeded ones; bypass_csp for axe-core's script tag.
    with browser_page(browser, timezone_id="UTC", bypass_csp=True) as page:
        yield page


def canvas_of(scope: Any) -> Any:
    return scope.get_by_test_id("timeline-canvas")


def geometry(canvas: Any) -> dict[str, float]:
    names = (
        "from",
        "to",
        "plot-left",
        "plot-width",
        "axis-height",
        "row-height",
        "rows",
        "laid-out",
        "drawn",
    )
    return {n: float(canvas.get_attribute(f"data-{n}") or "nan") for n in names}


def width_of(canvas: Any) -> float:
    g = geometry(canvas)
    return g["to"] - g["from"]


def point_at(page: Any, canvas: Any, row: int, at: datetime) -> tuple[float, float]:
    """Where on the page time `at` of row `row` is drawn."""
    g = geometry(canvas)
    box = canvas.bounding_box()
    x = (
        box["x"]
        + g["plot-left"]
        + (at.timestamp() * 1000 - g["from"]) / (g["to"] - g["from"]) * g["plot-width"]
    )
    y = box["y"] + g["axis-height"] + row * g["row-height"] + g["row-height"] / 2
    return x, y


def hover(page: Any, canvas: Any, row: int, at: datetime) -> Any:
    page.mouse.move(*point_at(page, canvas, row, at))
    tip = page.get_by_test_id("timeline-tooltip")
    expect(tip).to_be_visible()
    return tip


def clock(at: datetime) -> str:
    """How en-US writes a time in the tooltip: Dec 3, 06:20:05 AM."""
    return f"{at:%b} {at.day}, {at:%I:%M:%S %p}"


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_runs_per_task_with_start_wait_duration_outcome_and_attempts(
    seeded: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, made = seeded
    rows, ids = made["rows"], made["ids"]
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/timeline")
    canvas = canvas_of(page)
    expect(canvas).to_have_attribute("data-laid-out", "7")
    expect(page.get_by_test_id("timeline-window")).to_contain_text("(live) · 7 runs")
    g = geometry(canvas)
    assert g["to"] - g["from"] == HOUR
    assert g["rows"] == 3  # one a task, by name: backup, cleanup, ingest
    assert g["drawn"] >= 1

    # The second attempt of ingest's slot: what it waited, when it started, how long it ran.
    second = rows[1]
    tip = hover(page, canvas, 2, second["started_at"] + timedelta(seconds=15))
    expect(tip).to_contain_text(f"ingest · run #{ids[1]}")
    expect(tip).to_contain_text("failed, attempt 2 of 3")
    expect(tip).to_contain_text(f"started {clock(second['started_at'])}")
    expect(tip).to_contain_text("waited in the queue 20 s")
    expect(tip).to_contain_text("ran 30.0 s")
    screenshot(page, "timeline-01-tooltip-retry")
    tip = hover(page, canvas, 2, rows[2]["started_at"] + timedelta(seconds=30))
    expect(tip).to_contain_text("succeeded, attempt 3 of 3")
    expect(tip).to_contain_text("waited in the queue 5 s")
    expect(tip).to_contain_text("ran 1 min 0 s")
    # The backup's long wait is drawn too: the pointer on it finds the run.
    tip = hover(page, canvas, 0, rows[3]["available_at"] + timedelta(seconds=60))
    expect(tip).to_contain_text(f"backup · run #{ids[3]}")
    expect(tip).to_contain_text("succeeded, attempt 1 of 1")
    expect(tip).to_contain_text("waited in the queue 2 min")
    expect(tip).to_contain_text("ran 5 min 0 s")
    tip = hover(page, canvas, 1, rows[4]["started_at"] + timedelta(seconds=45))
    expect(tip).to_contain_text("timed out, attempt 1 of 3")
    tip = hover(page, canvas, 1, rows[6]["available_at"] + timedelta(minutes=2))
    expect(tip).to_contain_text("queued, attempt 1 of 3")
    expect(tip).to_contain_text(re.compile(r"waiting for \d+ min"))
    page.mouse.move(5, 5)
    expect(page.get_by_test_id("timeline-tooltip")).to_have_count(0)

    # Overall: every run in lanes that never overlap.
    page.get_by_text("All runs", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]mode=overall"))
    expect(canvas).to_have_attribute("data-laid-out", "7")
    lanes = geometry(canvas)["rows"]
    assert 2 <= lanes < 7
    screenshot(page, "timeline-02-overall")
    page.get_by_text("By task", exact=True).click()
    expect(canvas).to_have_attribute("data-rows", "3")

    # A click on a run opens it; on a task's name shows that task only.
    page.mouse.click(*point_at(page, canvas, 2, second["started_at"] + timedelta(seconds=15)))
    expect(page).to_have_url(re.compile(rf"/runs/{ids[1]}$"))
    page.go_back()
    box = canvas.bounding_box()
    page.mouse.click(
        box["x"] + 20, box["y"] + geometry(canvas)["axis-height"] + 2.5 * geometry(canvas)["row-height"]
    )
    expect(page).to_have_url(re.compile(rf"[?&]task_id={made['ingest']['id']}"))
    expect(page.get_by_text("Task: ingest")).to_be_visible()
    expect(canvas).to_have_attribute("data-laid-out", "3")
    expect(canvas).to_have_attribute("data-rows", "1")


def test_zoom_from_an_hour_to_a_week_and_back(seeded: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, _ = seeded
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/timeline")
    canvas = canvas_of(page)
    label = page.get_by_test_id("timeline-window")
    zoom_in = page.get_by_role("button", name="Zoom in")
    zoom_out = page.get_by_role("button", name="Zoom out")
    expect(canvas).to_have_attribute("data-laid-out", "7")
    assert width_of(canvas) == HOUR
    expect(zoom_in).to_be_disabled()  # an hour is the closest

    # Zooming out from a live window stays live: the next preset at least as wide.
    for range_, width in (("6h", 6 * HOUR), ("24h", DAY), ("7d", 7 * DAY)):
        before = label.inner_text()
        zoom_out.click()
        expect(page).to_have_url(re.compile(rf"[?&]range={range_}(&|$)"))
        expect(label).not_to_have_text(before)
        expect(label).to_contain_text("(live)")
        expect(canvas).to_have_attribute("data-to", re.compile(r"\d+"))
        page.wait_for_function(
            f"() => {{ const c = document.querySelector('[data-testid=timeline-canvas]');"
            f" return c && c.dataset.to - c.dataset.from === {width}; }}"
        )
    expect(zoom_out).to_be_disabled()  # a week is the widest
    expect(page.get_by_role("radio", name="Week")).to_be_checked()
    expect(label).to_contain_text("· 7 runs")
    screenshot(page, "timeline-03-week")

    # Zooming in makes a fixed window (from and to in the URL), halving down to an hour.
    zoom_in.click()
    expect(page).to_have_url(re.compile(r"[?&]from=.*&to="))
    query = query_of(page)
    assert "range" not in query
    start, end = (datetime.fromisoformat(query[k][0]) for k in ("from", "to"))
    assert end - start == timedelta(days=3.5)
    expect(label).not_to_contain_text("(live)")
    widths = [end - start]
    while zoom_in.is_enabled():
        zoom_in.click()
        page.wait_for_function(
            f"() => {{ const q = new URLSearchParams(location.search);"
            f" return Date.parse(q.get('to')) - Date.parse(q.get('from')) < {widths[-1].total_seconds() * 1000}; }}"
        )
        query = query_of(page)
        widths.append(datetime.fromisoformat(query["to"][0]) - datetime.fromisoformat(query["from"][0]))
        assert len(widths) < 12
    assert widths[-1] == timedelta(hours=1)
    assert all(b < a for a, b in itertools.pairwise(widths))
    screenshot(page, "timeline-04-zoomed-to-an-hour")

    # The presets jump back to a live window; Earlier and Later pan by half a window.
    page.get_by_text("Week", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]range=7d"))
    page.get_by_text("Hour", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]range=1h"))
    expect(canvas).to_have_attribute("data-laid-out", "7")
    page.get_by_role("button", name="Earlier").click()
    expect(page).to_have_url(re.compile(r"[?&]from=.*&to="))
    query = query_of(page)
    assert datetime.fromisoformat(query["to"][0]) - datetime.fromisoformat(query["from"][0]) == timedelta(
        hours=1
    )
    page.get_by_role("button", name="Later").click()
    expect(page).to_have_url(re.compile(r"[?&]range=1h"))
    expect(label).to_contain_text("(live)")


def test_a_task_page_shows_its_own_timeline(seeded: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, made = seeded
    ingest, rows, ids = made["ingest"], made["rows"], made["ids"]
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks/{ingest['id']}")
    section = page.get_by_test_id("task-timeline")
    section.scroll_into_view_if_needed()
    canvas = canvas_of(section)
    expect(canvas).to_have_attribute("data-laid-out", "3")  # this task's runs only
    expect(section.get_by_test_id("task-timeline-count")).to_have_text("3 runs")
    assert width_of(canvas) == DAY
    # One after the other: one lane.
    assert geometry(canvas)["rows"] == 1
    # A day across some 800 px: a pixel is almost two minutes, and the pointer still finds the run
    # it is on rather than a neighbour a pixel away.
    tip = hover(page, canvas, 0, rows[2]["started_at"] + timedelta(seconds=30))
    expect(tip).to_contain_text(f"ingest · run #{ids[2]}")
    expect(tip).to_contain_text("succeeded, attempt 3 of 3")
    page.mouse.move(5, 5)
    section.get_by_text("Hour", exact=True).click()
    page.wait_for_function(
        f"() => {{ const c = document.querySelector('[data-testid=task-timeline] [data-testid=timeline-canvas]');"
        f" return c && c.dataset.to - c.dataset.from === {HOUR}; }}"
    )
    tip = hover(page, canvas, 0, rows[0]["started_at"] + timedelta(seconds=15))
    expect(tip).to_contain_text(f"ingest · run #{ids[0]}")
    expect(tip).to_contain_text("failed, attempt 1 of 3")
    expect(tip).to_contain_text("waited in the queue 20 s")
    screenshot(page, "timeline-05-task-page")
    page.mouse.move(5, 5)

    section.get_by_text("Week", exact=True).click()
    page.wait_for_function(
        f"() => {{ const c = document.querySelector('[data-testid=task-timeline] [data-testid=timeline-canvas]');"
        f" return c && c.dataset.to - c.dataset.from === {7 * DAY}; }}"
    )
    expect(canvas).to_have_attribute("data-laid-out", "3")
    section.get_by_role("link", name="Open in the timeline").click()
    expect(page).to_have_url(re.compile(rf"/timeline\?task_id={ingest['id']}&range=7d$"))
    expect(page.get_by_text("Task: ingest")).to_be_visible()
    expect(page.get_by_test_id("timeline-window")).to_contain_text("· 3 runs")
    expect(canvas_of(page)).to_have_attribute("data-laid-out", "3")

    # A task without runs says so.
    other = server.create_task(name="never-ran", action=HTTP)
    page.goto(f"{server.base}/tasks/{other['id']}")
    expect(page.get_by_test_id("task-timeline-empty")).to_have_text("No runs in this window.")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_timelines(
    seeded: tuple[Server, dict[str, Any]], page: Any, scheme: str
) -> None:
    if not AXE.exists():
        missing(f"{AXE} is missing (axe-core is a devDependency of web/: npm ci in web/)")
    server, made = seeded
    page.goto(f"{server.base}/signin")
    set_scheme(page, scheme)
    sign_in(page, server.base, ADMIN_KEY)
    found = {}
    for name, path, scope in (
        ("timeline", "/timeline", "body"),
        ("timeline-overall-week", "/timeline?mode=overall&range=7d", "body"),
        ("task", f"/tasks/{made['ingest']['id']}", "[data-testid=task-timeline]"),
    ):
        page.goto(f"{server.base}{path}")
        expect(page.locator(scope).get_by_test_id("timeline-canvas")).to_have_attribute(
            "data-laid-out", re.compile(r"[1-9]")
        )
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.dataset.mantineColorScheme") == scheme
        found[name] = axe_violations(page, Path(AXE))
        screenshot(page, f"timeline-axe-{scheme}-{name}")
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "\n".join(f"{name}:\n{describe(v)}" for name, v in bad.items())


# --- ten thousand runs ------------------------------------------------------------------------------


OUTCOMES = ("succeeded",) * 6 + ("failed", "timed_out", "cancelled", "skipped")


def test_ten_thousand_runs_in_a_week_are_all_laid_out_and_the_draw_times_recorded(
    tmp_path: Path, browser: Any
) -> None:
    tasks, per_task = 40, 250
    with running_server(tmp_path) as server:
        made = [server.create_task(name=f"bulk-{i:02d}", action=HTTP) for i in range(tasks)]
        now = datetime.now(UTC).replace(microsecond=0)
        first = now - timedelta(days=6, hours=12)
        step = (now - timedelta(minutes=15) - first) / per_task
        rows = []
        for i, task in enumerate(made):
            for k in range(per_task):
                ready = first + step * k + timedelta(seconds=37 * i)
                status = OUTCOMES[(i + k) % len(OUTCOMES)]
                started = status not in ("cancelled", "skipped")
                rows.append(
                    run_row(
                        task,
                        status,
                        ready,
                        wait=(i * 7 + k) % 90 if started else None,
                        duration=30 + (i * 13 + k * 17) % 1500,
                        attempt=2 if k % 9 == 8 else 1,
                    )
                )
        insert_runs(database_url(tmp_path), rows)
        assert len(rows) == 10_000

        with browser_page(browser, timezone_id="UTC") as page:
            sign_in(page, server.base, ADMIN_KEY)
            page.goto(f"{server.base}/timeline?range=7d")
            canvas = canvas_of(page)
            expect(canvas).to_have_attribute("data-laid-out", "10000", timeout=30_000)
            expect(page.get_by_test_id("timeline-window")).to_contain_text("· 10000 runs")
            expect(page.get_by_test_id("timeline-truncated")).to_have_count(0)
            assert geometry(canvas)["rows"] == tasks
            page.wait_for_load_state("networkidle")
            fetched = page.evaluate(
                "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/api/runs/spans'))"
                ".map(e => ({ms: e.duration, bytes: e.encodedBodySize}))"
            )
            first_draws = list(page.evaluate("window.__timelineDraws"))
            screenshot(page, "timeline-06-10000-runs-by-task")

            def drawn() -> int:
                return len(page.evaluate("window.__timelineDraws"))

            steps: list[tuple[str, list[float]]] = []

            def redraw(name: str, action: Any, *, laid_out: str | None = None) -> None:
                """Do `action` and keep the draws it causes: while a new window loads, one with the
                last window's runs; then one with its own (at once when they were fetched before)."""
                count = drawn()
                action()
                page.wait_for_function(
                    "count => { const c = document.querySelector('[data-testid=timeline-canvas]');"
                    " return c && c.dataset.from === c.dataset.spansFrom && window.__timelineDraws.length > count; }",
                    arg=count,
                )
                if laid_out:
                    expect(canvas).to_have_attribute("data-laid-out", laid_out)
                page.wait_for_timeout(200)  # any draw still to come lands in this step
                steps.append((name, list(page.evaluate("window.__timelineDraws"))[count:]))

            zoom_in = page.get_by_role("button", name="Zoom in")
            button = page.get_by_role("button", name=re.compile("^(Earlier|Later|Zoom out)$"))
            redraw("zoom in to 3.5 days", lambda: zoom_in.click())
            redraw("pan earlier", lambda: button.filter(has_text="Earlier").click())
            redraw("pan later", lambda: button.filter(has_text="Later").click())
            redraw("zoom out to 7 days", lambda: button.filter(has_text="Zoom out").click())
            redraw("preset: day", lambda: page.get_by_text("Day", exact=True).click())
            redraw(
                "preset: week (all 10,000)",
                lambda: page.get_by_text("Week", exact=True).click(),
                laid_out="10000",
            )
            scroller = page.get_by_test_id("timeline-scroller")
            redraw("scroll the rows", lambda: scroller.evaluate("el => { el.scrollTop = 300; }"))
            redraw("scroll back", lambda: scroller.evaluate("el => { el.scrollTop = 0; }"))
            redraw(
                "all runs in lanes (week)",
                lambda: page.get_by_text("All runs", exact=True).click(),
            )
            expect(canvas).to_have_attribute("data-laid-out", "10000")
            lanes = geometry(canvas)["rows"]
            screenshot(page, "timeline-07-10000-runs-overall")
            redraw("lanes: zoom in to 3.5 days", lambda: zoom_in.click())
            redraw(
                "lanes: preset week", lambda: page.get_by_text("Week", exact=True).click(), laid_out="10000"
            )

    redraws = [d for _, times in steps for d in times]
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    lines = [
        f"timeline with 10,000 runs (40 tasks x 250 over 6.5 days), 7-day window, Chromium {browser.version}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; uptime: {load}; cpus: {os.cpu_count()}",
        "GET /api/runs/spans (as the browser timed it): "
        + ", ".join(f"{f['ms']:.0f} ms, {f['bytes'] / 1024:.0f} KiB" for f in fetched),
        f"first draw (by task, {tasks} rows): {first_draws[0]:.2f} ms; draws before any action: "
        + ", ".join(f"{d:.2f}" for d in first_draws),
        f"redraws after zoom / pan / scroll / mode ({len(redraws)}): median {statistics.median(redraws):.2f} ms, "
        f"max {max(redraws):.2f} ms",
        *(f"  {name}: " + ", ".join(f"{d:.2f}" for d in times) + " ms" for name, times in steps),
        f"overall mode: {lanes:.0f} lanes",
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timeline-draw.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    assert redraws, "no redraw was recorded"
