"""The dashboard (issue 8, point 4) in Debian's Chromium against a real `tasksched serve`: bars by
minute for the last hour and by hour for the day, every card and bar opening the runs it counts (the
runs page showing just those), a late slot shown as "overdue by 40 s", and the tasks that keep
failing grouped with their last error; axe-core finds nothing on it in the light and the dark theme.

The runs are written into the server's database with the times the checks need (tests/e2e/ui_seed.py);
the server runs on the real clock, so each expectation is also asked of the API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.test_ui_a11y import AXE, axe_violations, describe, set_scheme
from tests.e2e.ui_helpers import (
    ADMIN_KEY,
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

REFUSED = "upstream db-3: connection refused"
LAST_ERROR = "HTTP 503 from the payments gateway"
TIMEOUT = "timed out after 30 s"
LATE_BY = 40  # seconds


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """Tasks and runs: three quick successes a minute of the last hour and two five hours ago, a
    task failing three times in the hour (and succeeding three hours ago), one timing out, and a
    slot 40 s past its time queued for a queue no worker takes (a late slot)."""
    folder = tmp_path_factory.mktemp("ui-dashboard")
    with running_server(folder) as server:
        http = {"type": "http", "url": "http://127.0.0.1:9/none"}
        beat = server.create_task(name="heartbeat", action=http)
        pay = server.create_task(name="payments-sync", action=http, retry={"max_attempts": 1})
        report = server.create_task(name="report-export", action=http, retry={"max_attempts": 1})
        offline = server.create_task(name="offline-queue", action=http, queue="offline")
        now = datetime.now(UTC)

        def minute(ago: timedelta) -> datetime:
            """Five seconds into the minute `ago` back: a run there starts and ends in that minute."""
            return (now - ago).replace(second=5, microsecond=0)

        m10 = minute(timedelta(minutes=10))
        rows = [
            run_row(beat, "succeeded", m10 + timedelta(seconds=10 * i), wait=1, duration=2) for i in range(3)
        ]
        rows += [
            run_row(beat, "succeeded", minute(timedelta(hours=5)) + timedelta(seconds=20 * i))
            for i in range(2)
        ]
        rows += [
            run_row(pay, "failed", minute(timedelta(minutes=25)), error=REFUSED),
            run_row(pay, "failed", minute(timedelta(minutes=20)), error=REFUSED),
            run_row(pay, "failed", minute(timedelta(minutes=15)), error=LAST_ERROR),
            run_row(pay, "succeeded", minute(timedelta(hours=3))),
            run_row(report, "timed_out", minute(timedelta(minutes=30)), duration=30, error=TIMEOUT),
        ]
        due = (now - timedelta(seconds=LATE_BY)).replace(microsecond=0)
        rows.append(run_row(offline, "queued", due, wait=None, queue="offline"))
        ids = insert_runs(database_url(folder), rows)
        yield (
            server,
            {
                "beat": beat,
                "pay": pay,
                "report": report,
                "offline": offline,
                "beat_minute": ids[0:3],
                "beat_old": ids[3:5],
                "pay_failed": ids[5:8],
                "pay_ok": ids[8],
                "timed_out": ids[9],
                "late": ids[10],
                "due": due,
                "all": ids,
            },
        )


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # axe-core is added as a script tag: the page's CSP must let it (test_csp.py checks the real one).
    with browser_page(browser, timezone_id="UTC", bypass_csp=True) as page:
        yield page


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def shown_ids(page: Any) -> set[int]:
    """The ids the runs page lists, once it has the answer to what it last asked."""
    expect(page.get_by_test_id("run-table")).to_have_attribute("aria-busy", "false")
    return {int(r.get_attribute("data-run-id")) for r in page.get_by_test_id("run-row").all()}


def api_ids(server: Server, query: dict[str, list[str]]) -> set[int]:
    """What GET /api/runs answers for the runs page's URL filters (finished_from/_to: the same names)."""
    names = {"task": "task_id", "from": "scheduled_from", "to": "scheduled_to"}
    params: list[tuple[str, str | int | float | bool | None]] = [
        (names.get(k, k), v) for k, values in query.items() for v in values
    ]
    params.append(("limit", 200))
    body = server.admin.get("/api/runs", params=params).json()
    return {int(r["id"]) for r in body["items"]}


def overdue_seconds(text: str) -> int:
    """The age in "overdue by 40 s" or "overdue by 1 min 5 s"."""
    found = re.search(r"overdue by (?:(\d+) min )?(\d+) s", text)
    assert found, text
    return int(found.group(1) or 0) * 60 + int(found.group(2))


def open_card(page: Any, base: str, test_id: str) -> None:
    page.goto(f"{base}/?chart=minute")
    page.get_by_test_id(test_id).click()
    expect(page).to_have_url(re.compile(r"/runs(\?|$)"))


def test_a_late_slot_is_overdue_by_its_age(seeded: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, made = seeded
    sign_in(page, server.base, ADMIN_KEY)
    stats = server.admin.get("/api/stats").json()
    late = stats["late"]
    assert (late["unfired"], late["waiting"], late["total"]) == (0, 1, 1)
    assert datetime.fromisoformat(late["oldest_due_at"]) == made["due"]
    card = page.get_by_test_id("stat-late")
    expect(card).to_contain_text("Late slots1")
    expect(card).to_contain_text(re.compile(r"oldest overdue by (\d+ min )?\d+ s"))
    text = card.inner_text()
    shown = overdue_seconds(text)
    age = time.time() - made["due"].timestamp()
    # About 40 s when this test runs first (it does, in this file's order); its real age in any case.
    assert shown >= LATE_BY, text
    assert abs(shown - age) <= 3, (text, age)
    assert "just now" not in text
    # It ticks with the clock.
    page.wait_for_timeout(2100)
    assert overdue_seconds(card.inner_text()) >= shown + 1
    expect(page.get_by_test_id("stat-queued")).to_contain_text("Queued1")
    screenshot(page, "dashboard-05-late-slot")


def test_chart_by_minute_and_by_hour_and_a_bar_opens_its_runs(
    seeded: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, made = seeded
    sign_in(page, server.base, ADMIN_KEY)
    chart = page.get_by_test_id("runs-chart")
    expect(chart).to_have_attribute("data-bucket", "hour")
    expect(page.get_by_role("heading", name="Runs per hour, last 24 hours")).to_be_visible()
    # By the hour: the day's 10 finished runs (the late one has not run).
    expect(chart).to_have_attribute("aria-label", re.compile(r"; 10 runs in 24 hours\."))
    screenshot(page, "dashboard-01-by-hour")

    page.get_by_text("Last hour, by minute").click()
    expect(page).to_have_url(re.compile(r"[?&]chart=minute"))
    expect(chart).to_have_attribute("data-bucket", "minute")
    expect(page.get_by_role("heading", name="Runs per minute, last hour")).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(r"; 7 runs in the last hour\."))
    stats = server.admin.get("/api/stats", params={"bucket": "minute"}).json()
    assert len(stats["chart"]["buckets"]) == 60
    assert sum(b["succeeded"] + b["failed"] + b["timed_out"] for b in stats["chart"]["buckets"]) == 7
    # The failed card counts the chart's window.
    expect(page.get_by_test_id("stat-failed")).to_contain_text("Failed (1 h)4")
    screenshot(page, "dashboard-02-by-minute")

    # The succeeded layer has one bar: the heartbeat's minute. It opens those three runs.
    bars = page.locator(".recharts-bar").first.locator("path.recharts-rectangle")
    expect(bars).to_have_count(1)
    bars.click()
    expect(page).to_have_url(re.compile(r"/runs\?"))
    query = query_of(page)
    assert query["status"] == ["succeeded"]
    start, end = (datetime.fromisoformat(query[k][0]) for k in ("finished_from", "finished_to"))
    assert end - start == timedelta(minutes=1)
    bucket = next(b for b in stats["chart"]["buckets"] if b["succeeded"])
    assert start == datetime.fromisoformat(bucket["start"])
    assert shown_ids(page) == set(made["beat_minute"]) == api_ids(server, query)
    screenshot(page, "dashboard-03-bar-opened")

    # Back to the chart by hour: a bar of several statuses opens each status's runs.
    page.goto(f"{server.base}/")
    expect(chart).to_have_attribute("data-bucket", "hour")
    layers = page.locator(".recharts-bar")
    expect(layers).to_have_count(3)  # succeeded, failed, timed out
    layers.nth(1).locator("path.recharts-rectangle").first.click()
    expect(page).to_have_url(re.compile(r"/runs\?"))
    query = query_of(page)
    assert query["status"] == ["failed"]
    width = datetime.fromisoformat(query["finished_to"][0]) - datetime.fromisoformat(
        query["finished_from"][0]
    )
    assert width == timedelta(hours=1)
    shown = shown_ids(page)
    assert shown
    assert shown <= set(made["pay_failed"])
    assert shown == api_ids(server, query)


def test_every_card_opens_the_runs_it_counts(seeded: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, made = seeded
    sign_in(page, server.base, ADMIN_KEY)
    # (card, the runs page's filters it sets, the runs it must list)
    failed = {*made["pay_failed"], made["timed_out"]}
    hour = {*made["beat_minute"], *made["pay_failed"], made["timed_out"]}  # finished in the hour
    day = set(made["all"]) - {made["late"]}
    cards: list[tuple[str, set[str], set[int]]] = [
        ("stat-success", {"finished_from"}, day),
        ("stat-failed", {"status", "finished_from"}, failed),
        ("stat-late", {"status", "to"}, {made["late"]}),
        ("stat-queued", {"status"}, {made["late"]}),
        ("stat-running", {"status"}, set()),
        ("stat-runs-hour", {"finished_from"}, hour),
    ]
    for test_id, keys, expected in cards:
        open_card(page, server.base, test_id)
        query = query_of(page)
        assert set(query) == keys, (test_id, query)
        if expected:
            assert shown_ids(page) == expected, test_id
        else:
            expect(page.get_by_text("No runs match.")).to_be_visible()
        assert api_ids(server, query) == expected, test_id
        if test_id == "stat-failed":
            assert query["status"] == ["failed", "timed_out"]
            screenshot(page, "dashboard-04-failed-card-opened")
        if test_id in ("stat-late", "stat-queued", "stat-running"):
            assert query["status"] == [{"stat-running": "running"}.get(test_id, "queued")]
    for test_id, path in (("stat-tasks", "/tasks"), ("stat-workers", "/workers")):
        page.goto(f"{server.base}/")
        page.get_by_test_id(test_id).click()
        expect(page).to_have_url(re.compile(f"{path}$"))

    # The counts under the chart open their status's runs too.
    page.goto(f"{server.base}/?chart=minute")
    page.get_by_test_id("counts-hour").get_by_role("link", name=re.compile(r"^failed 3")).click()
    expect(page).to_have_url(re.compile(r"/runs\?"))
    assert query_of(page)["status"] == ["failed"]
    assert shown_ids(page) == set(made["pay_failed"])


def test_tasks_that_keep_failing_are_grouped_with_their_last_error(
    seeded: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, made = seeded
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/?chart=minute")
    group = page.get_by_test_id("failing-tasks")
    expect(group.get_by_role("heading")).to_have_text("Tasks that keep failing, last hour")
    rows = group.get_by_test_id("failing-task")
    expect(rows).to_have_count(2)
    # Most failures first; the last error is the latest failure's, not the commonest.
    expect(rows.nth(0)).to_contain_text("payments-sync")
    expect(rows.nth(0)).to_contain_text("3 of 3")
    expect(rows.nth(0)).to_contain_text(LAST_ERROR)
    expect(rows.nth(0)).not_to_contain_text(REFUSED)
    expect(rows.nth(1)).to_contain_text("report-export")
    expect(rows.nth(1)).to_contain_text("1 of 1")
    expect(rows.nth(1)).to_contain_text(TIMEOUT)
    expect(group).not_to_contain_text("heartbeat")
    screenshot(page, "dashboard-06-failing-tasks")

    # Over the day the success three hours ago counts among the runs finished.
    page.get_by_text("Last day, by hour").click()
    expect(group.get_by_role("heading")).to_have_text("Tasks that keep failing, last 24 hours")
    expect(rows.nth(0)).to_contain_text("3 of 4")

    # The figure opens the task's failed runs; its name the task; "last failed" the latest run.
    rows.nth(0).get_by_role("link", name=re.compile("3 of 4 runs of payments-sync failed")).click()
    expect(page).to_have_url(re.compile(r"/runs\?"))
    query = query_of(page)
    assert query["task"] == [str(made["pay"]["id"])]
    assert query["status"] == ["failed", "timed_out"]
    assert shown_ids(page) == set(made["pay_failed"]) == api_ids(server, query)
    page.go_back()
    rows.nth(0).get_by_role("link", name="payments-sync", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/tasks/{made['pay']['id']}$"))
    page.go_back()
    rows.nth(0).get_by_role("cell").nth(3).get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/runs/{made['pay_failed'][2]}$"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_dashboard_with_late_and_failing_tasks(
    seeded: tuple[Server, dict[str, Any]], page: Any, scheme: str
) -> None:
    if not AXE.exists():
        missing(f"{AXE} is missing (axe-core is a devDependency of web/: npm ci in web/)")
    server, _ = seeded
    page.goto(f"{server.base}/signin")
    set_scheme(page, scheme)
    sign_in(page, server.base, ADMIN_KEY)
    found = {}
    for bucket in ("hour", "minute"):
        page.goto(f"{server.base}/?chart={bucket}")
        expect(page.get_by_test_id("runs-chart")).to_have_attribute("data-bucket", bucket)
        expect(page.get_by_test_id("failing-task")).to_have_count(2)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.dataset.mantineColorScheme") == scheme
        found[bucket] = axe_violations(page, Path(AXE))
        screenshot(page, f"dashboard-axe-{scheme}-{bucket}")
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "\n".join(f"{name}:\n{describe(v)}" for name, v in bad.items())
