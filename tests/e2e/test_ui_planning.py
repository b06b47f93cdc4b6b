"""Planning in the web UI (issue 8, points 5, 6 and 2), in Debian's Chromium against a real
`tasksched serve`: DST warnings that cover the coming year in the editor and on the task page, start
and end entered in the schedule's zone, a task's next fire times, the upcoming calendar (day and
week), and task health at a glance in the task list.

The server runs on the real clock, so what the page must show is asked of the API alongside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Listener,
    Server,
    browser_page,
    expect,
    running_server,
    screenshot,
    sign_in,
    wait_until,
)

pytestmark = pytest.mark.slow
browser_test = pytest.mark.browser

BROWSER_ZONE = "Europe/Paris"  # neither the tasks' zones nor UTC: every zone label matters
TASK_ZONE = "America/New_York"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui-planning")) as srv:
        yield srv


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with browser_page(
        browser, viewport={"width": 1400, "height": 1000}, timezone_id=BROWSER_ZONE, locale="en-GB"
    ) as page:
        yield page


def segment(page: Any, name: str) -> None:
    page.locator("label", has_text=re.compile(f"^{re.escape(name)}$")).click()


def field(scope: Any, label: str) -> Any:
    return scope.get_by_role("textbox", name=label, exact=True)


def pick_zone(page: Any, zone: str) -> None:
    page.get_by_role("textbox", name="Time zone", exact=True).fill(zone)
    page.get_by_role("option", name=zone, exact=True).click()


def api_notes(server: Server, schedule: dict[str, Any]) -> list[str]:
    body = server.admin.post("/api/schedules/preview", json={"schedule": schedule, "count": 10}).json()
    return list(body["dst_notes"])


# --- point 5: DST warnings ------------------------------------------------------------------------


@browser_test
def test_dst_warnings_cover_the_coming_year_in_the_editor_and_on_the_task_page(
    server: Server, page: Any
) -> None:
    schedule = {"type": "cron", "expression": "30 2 * * *", "timezone": TASK_ZONE}
    notes = api_notes(server, schedule)
    # Whatever the day, a year ahead holds New York's spring and autumn changes.
    assert len(notes) == 2
    assert any(
        "clocks go forward 02:00→03:00" in note and "the 02:30 run happens at 03:00" in note for note in notes
    )
    assert any("clocks go back 02:00→01:00" in note for note in notes)

    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks/new")
    field(page, "Name").fill("nightly export")
    field(page, "URL").fill("https://example.com/export")
    segment(page, "Cron")
    field(page, "Cron expression").fill("30 2 * * *")
    pick_zone(page, TASK_ZONE)
    box = page.get_by_test_id("dst-notes")
    expect(box).to_contain_text(f"Clock changes in the next 12 months ({TASK_ZONE})")
    for note in notes:
        expect(box).to_contain_text(note)
    # The ten listed times all come before the spring change; the box still names it.
    expect(page.get_by_test_id("fire-times").locator("tbody tr")).to_have_count(10)

    # Start and end are entered on the schedule's wall clock, and say so.
    page.get_by_role("button", name="Window and jitter").click()
    start = page.get_by_label(f"Start at ({TASK_ZONE})")
    start.fill("2030-01-04T08:00")
    expect(page.get_by_text(f"{TASK_ZONE} time · 2030-01-04 13:00:00 UTC")).to_be_visible()
    expect(page.get_by_test_id("window-zone")).to_contain_text(f"the schedule's time zone ({TASK_ZONE})")
    screenshot(page, "planning-01-editor-dst-year")

    # An interval gets no DST box, and its window is in the viewer's zone.
    segment(page, "Interval")
    expect(page.get_by_test_id("preview-description")).to_contain_text("every")
    expect(page.get_by_test_id("dst-notes")).to_have_count(0)
    expect(page.get_by_label(f"Start at ({BROWSER_ZONE})")).to_be_visible()
    screenshot(page, "planning-02-editor-interval-no-dst")

    segment(page, "Cron")
    expect(page.get_by_test_id("dst-notes")).to_be_visible()
    page.get_by_label(f"Start at ({TASK_ZONE})").fill("")
    page.get_by_role("button", name="Create task").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    task_id = int(page.url.rsplit("/", 1)[1])

    # The task page: next fire times in the task's zone and the viewer's, and the year's changes.
    region = page.get_by_role("region", name="Next fire times")
    expect(region.get_by_test_id("fire-times").locator("tbody tr")).to_have_count(10)
    expect(region.get_by_test_id("fire-times")).to_contain_text(TASK_ZONE)
    expect(region.get_by_test_id("fire-times")).to_contain_text(BROWSER_ZONE)
    saved = server.admin.get(f"/api/tasks/{task_id}/preview").json()
    first = saved["fire_times"][0]
    assert first["utc"] == server.admin.get(f"/api/tasks/{task_id}").json()["next_run_at"]
    first_row = region.get_by_test_id("fire-times").locator("tbody tr").first
    local = datetime.fromisoformat(first["utc"]).astimezone(ZoneInfo(BROWSER_ZONE))
    expect(first_row).to_contain_text(f"{local:%H}:{local:%M}")
    expect(first_row).to_contain_text("02:30")
    for note in notes:
        expect(region.get_by_test_id("dst-notes")).to_contain_text(note)
    region.scroll_into_view_if_needed()
    screenshot(page, "planning-03-task-page-next-fire-times")


@browser_test
def test_a_windowed_cron_task_keeps_its_wall_times_in_its_zone(server: Server, page: Any) -> None:
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks/new")
    field(page, "Name").fill("windowed")
    field(page, "URL").fill("https://example.com/windowed")
    segment(page, "Cron")
    field(page, "Cron expression").fill("0 9 * * *")
    pick_zone(page, TASK_ZONE)
    page.get_by_role("button", name="Window and jitter").click()
    page.get_by_label(f"Start at ({TASK_ZONE})").fill("2030-01-04T08:00")
    page.get_by_label(f"End at ({TASK_ZONE})").fill("2030-07-01T00:00")
    expect(page.get_by_test_id("preview-description")).to_contain_text("from 2030-01-04 13:00 UTC")
    page.get_by_role("button", name="Create task").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    task_id = int(page.url.rsplit("/", 1)[1])
    saved = server.admin.get(f"/api/tasks/{task_id}").json()["schedule"]
    assert (saved["start_at"], saved["end_at"]) == ("2030-01-04T13:00:00Z", "2030-07-01T04:00:00Z")
    # Opened again, the editor shows the same wall times.
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label(f"Start at ({TASK_ZONE})")).to_have_value("2030-01-04T08:00")
    expect(page.get_by_label(f"End at ({TASK_ZONE})")).to_have_value("2030-07-01T00:00")
    screenshot(page, "planning-04-window-in-task-zone")


# --- point 6: upcoming runs -----------------------------------------------------------------------


@browser_test
def test_upcoming_runs_by_day_and_by_week(server: Server, page: Any) -> None:
    server.create_task(
        name="tokyo report",
        action={"type": "http", "url": "https://example.com/tokyo"},
        schedule={"type": "cron", "expression": "15 6,18 * * *", "timezone": "Asia/Tokyo"},
    )
    paris = server.create_task(
        name="paris digest",
        action={"type": "http", "url": "https://example.com/paris"},
        schedule={"type": "cron", "expression": "0 8 * * *", "timezone": BROWSER_ZONE},
    )
    server.create_task(
        name="paused sweep",
        enabled=False,
        action={"type": "http", "url": "https://example.com/sweep"},
        schedule={"type": "cron", "expression": "0 * * * *", "timezone": "UTC"},
    )

    sign_in(page, server.base, ADMIN_KEY)
    page.get_by_role("link", name="Upcoming", exact=True).click()
    expect(page).to_have_url(re.compile(r"/upcoming$"))
    expect(page.get_by_role("heading", name="Upcoming runs")).to_be_visible()
    expect(page.get_by_test_id("upcoming-zone")).to_contain_text(f"Times in your zone ({BROWSER_ZONE})")

    # Tomorrow, as a day: what the API says fires then, grouped by the hour it starts in.
    zone = ZoneInfo(BROWSER_ZONE)
    tomorrow = (datetime.now(zone) + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)
    window = {
        "from": midnight.astimezone(UTC).isoformat(),
        "to": (midnight + timedelta(days=1)).astimezone(UTC).isoformat(),
    }
    expected = server.admin.get("/api/schedules/upcoming", params=window).json()["items"]
    names = {item["task_name"] for item in expected}
    assert {"tokyo report", "paris digest"} <= names
    assert "paused sweep" not in names
    page.get_by_role("button", name="Next day").click()
    expect(page).to_have_url(re.compile(rf"date={tomorrow.isoformat()}"))
    day = page.get_by_test_id("upcoming-day")
    expect(day.get_by_test_id("upcoming-run")).to_have_count(len(expected))
    hours = sorted(
        {datetime.fromisoformat(item["at"]).astimezone(zone).strftime("%H:00") for item in expected}
    )
    expect(day.get_by_role("group")).to_have_count(len(hours))
    expect(day.get_by_role("group", name=re.compile(r"^08:00: ")).first).to_contain_text("paris digest")
    # Tokyo's 06:15 shows in the viewer's zone, with Tokyo's own time and zone beside it.
    tokyo_run = day.get_by_test_id("upcoming-run").filter(has_text="tokyo report").first
    expect(tokyo_run.get_by_test_id("task-zone-time")).to_contain_text("Asia/Tokyo")
    paris_run = day.get_by_test_id("upcoming-run").filter(has_text="paris digest").first
    expect(paris_run.get_by_test_id("task-zone-time")).to_have_count(0)
    expect(day.get_by_text("paused sweep")).to_have_count(0)
    screenshot(page, "planning-05-upcoming-day")

    # The week around it: seven columns, each day's runs in it.
    segment(page, "Week")
    expect(page).to_have_url(re.compile(r"view=week"))
    week = page.get_by_test_id("upcoming-week")
    columns = week.get_by_test_id("upcoming-column")
    expect(columns).to_have_count(7)
    monday = midnight - timedelta(days=midnight.weekday())
    span = {
        "from": monday.astimezone(UTC).isoformat(),
        "to": (monday + timedelta(days=7)).astimezone(UTC).isoformat(),
    }
    week_items = server.admin.get("/api/schedules/upcoming", params={**span, "limit": 5000}).json()["items"]
    for index in range(7):
        day_start = monday + timedelta(days=index)
        count = sum(
            1
            for item in week_items
            if datetime.fromisoformat(item["at"]).astimezone(zone).date() == day_start.date()
        )
        expect(columns.nth(index).get_by_test_id("upcoming-run")).to_have_count(min(count, 25))
    screenshot(page, "planning-06-upcoming-week")

    # A day's heading opens that day; a task opens its page.
    columns.nth(tomorrow.weekday()).get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"view=day&date={tomorrow.isoformat()}"))
    page.get_by_test_id("upcoming-day").get_by_role("link", name="paris digest").first.click()
    expect(page).to_have_url(re.compile(rf"/tasks/{paris['id']}$"))


# --- point 2: task health at a glance -------------------------------------------------------------


def _wait_for_runs(server: Server, task_id: int, count: int) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]]:
        items = server.admin.get(f"/api/tasks/{task_id}/runs", params={"limit": 50}).json()["items"]
        return [run for run in items if run["status"] not in ("queued", "running")]

    wait_until(lambda: len(finished()) >= count, 30, f"{count} finished runs of task {task_id}")
    return finished()


@browser_test
def test_task_list_shows_health_filters_by_tag_and_acts_inline(server: Server, page: Any) -> None:
    with Listener() as listener:
        ok = server.create_task(
            name="health billing export",
            tags=["billing", "nightly"],
            action={"type": "http", "url": listener.url("/ok")},
        )
        server.create_task(
            name="health ops sweep", tags=["ops"], action={"type": "http", "url": listener.url("/sweep")}
        )
        for _ in range(3):
            assert server.admin.post(f"/api/tasks/{ok['id']}/run").status_code == 202
            _wait_for_runs(server, ok["id"], 1)
        runs = _wait_for_runs(server, ok["id"], 3)
        assert {run["status"] for run in runs} == {"succeeded"}

        sign_in(page, server.base, ADMIN_KEY)
        page.goto(f"{server.base}/tasks?q=health")
        row = page.get_by_test_id("task-row").filter(has_text="health billing export")
        strip = row.get_by_test_id("run-strip")
        expect(strip.locator("[data-status=succeeded]")).to_have_count(3)
        expect(strip).to_have_attribute("aria-label", re.compile(r"^Last 3 runs, oldest first: succeeded"))
        expect(row.get_by_test_id("success-rate")).to_have_text("100%")
        expect(row.get_by_test_id("last-duration")).not_to_have_text("—")
        other = page.get_by_test_id("task-row").filter(has_text="health ops sweep")
        expect(other).to_contain_text("no runs yet")
        # No badge in the table is cut short ("SUCC…"): each label is as wide as its text.
        clipped = page.get_by_test_id("task-table").evaluate(
            "table => [...table.querySelectorAll('.mantine-Badge-label')]"
            ".filter(label => label.scrollWidth > label.clientWidth + 1).map(label => label.textContent)"
        )
        assert clipped == []
        screenshot(page, "planning-07-task-health")

        # A tag filters the list when clicked, and the filter is in the URL and the tag picker.
        row.get_by_role("button", name="Filter by tag billing").click()
        expect(page).to_have_url(re.compile(r"tag=billing"))
        expect(page.get_by_test_id("task-row")).to_have_count(1)
        expect(page.get_by_role("search").locator(".mantine-Pill-root", has_text="billing")).to_be_visible()

        # Pause and resume from the row.
        page.get_by_role("button", name="Pause health billing export").click()
        expect(row).to_contain_text("paused")
        wait_until(
            lambda: server.admin.get(f"/api/tasks/{ok['id']}").json()["enabled"] is False, 10, "paused"
        )
        page.get_by_role("button", name="Resume health billing export").click()
        wait_until(
            lambda: server.admin.get(f"/api/tasks/{ok['id']}").json()["enabled"] is True, 10, "resumed"
        )

        # Run now from the row: a fourth run joins the strip without a reload.
        page.get_by_role("button", name="Run health billing export now").click()
        _wait_for_runs(server, ok["id"], 4)
        expect(strip.locator("[data-status=succeeded]")).to_have_count(4, timeout=20_000)
        assert listener.hits >= 4
        screenshot(page, "planning-08-task-health-after-inline-run")
