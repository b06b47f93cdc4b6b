"""The web UI in a real browser (Debian's Chromium via Playwright) against a real `tasksched serve`.

Each test signs in with an API key, drives the UI as a person would, checks what the API says
happened, and saves a screenshot under test-artifacts/ui/.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Listener,
    Server,
    browser_page,
    ensure_ui_built,
    expect,
    missing,
    running_server,
    screenshot,
    sign_in,
    wait_until,
)
from tests.helpers.processes import free_port

pytestmark = pytest.mark.slow
browser_test = pytest.mark.browser

BROWSER_ZONE = "America/New_York"  # not UTC, so "your zone" and "the task's zone" differ


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui")) as srv:
        yield srv


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with browser_page(browser, timezone_id=BROWSER_ZONE) as page:
        yield page


def choose(page: Any, label: str, option: str) -> None:
    """Pick an option of a Mantine Select by its label."""
    page.get_by_role("textbox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def segment(page: Any, name: str) -> None:
    """Click one choice of a Mantine SegmentedControl."""
    page.locator("label", has_text=re.compile(f"^{re.escape(name)}$")).click()


def field(scope: Any, label: str) -> Any:
    """A text input by its accessible name (the required-asterisk is hidden from it)."""
    return scope.get_by_role("textbox", name=label, exact=True)


def error_beside(page: Any, label: str) -> Any:
    """The error text the input with this label points at (aria-describedby), as a locator."""
    field = page.get_by_role("textbox", name=label, exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    ids = (field.get_attribute("aria-describedby") or "").split()
    error_ids = [i for i in ids if i.endswith("-error")]
    assert error_ids, f"{label!r} has no error linked by aria-describedby ({ids})"
    return page.locator(f"[id='{error_ids[0]}']")


def runs_of(server: Server, task_id: int) -> list[dict[str, Any]]:
    body = server.admin.get(f"/api/tasks/{task_id}/runs", params={"limit": 200}).json()
    return list(body["items"])


# --------------------------------------------------------------------------------------------------


@browser_test
def test_sign_in_empty_system_and_sign_out(server: Server, page: Any) -> None:
    page.goto(f"{server.base}/tasks")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Ftasks$"))
    page.get_by_label("API key").fill("not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("This API key was not accepted.")).to_be_visible()
    screenshot(page, "01-sign-in-rejected")

    # Keyboard only: the key field has focus after a failed try too; Enter submits.
    key_field = page.get_by_label("API key")
    key_field.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(ADMIN_KEY)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/tasks$"))  # back where the user was going
    # On a fresh load the first Tab reaches the skip link (the session survives the reload).
    page.reload()
    expect(page.get_by_test_id("whoami")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    # An empty system shows one friendly first step, on the task list and on the dashboard.
    expect(page.get_by_test_id("first-step")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("link", name="Create your first task")).to_be_visible()
    screenshot(page, "02-empty-dashboard")
    # Signed in by a cookie the page cannot read: the key is in no storage the page's scripts see.
    assert page.evaluate("sessionStorage.getItem('tasksched.apiKey')") is None
    assert ADMIN_KEY not in page.evaluate("document.cookie")
    cookie = next(c for c in page.context.cookies() if c["name"] == "tasksched_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"].startswith("tasksched_")]


@browser_test
def test_revoked_key_returns_to_sign_in(server: Server, page: Any) -> None:
    key = server.create_key("short-lived", "operator")
    sign_in(page, server.base, key)
    key_id = next(
        k["id"] for k in server.admin.get("/api/keys").json()["items"] if k["name"] == "short-lived"
    )
    assert server.admin.delete(f"/api/keys/{key_id}").status_code == 204
    page.get_by_role("link", name="Workers").click()  # any call now answers 401
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text(re.compile("not accepted"))).to_be_visible()
    screenshot(page, "03-signed-out-after-401")


@browser_test
def test_task_lifecycle(server: Server, page: Any) -> None:
    with Listener() as listener:
        sign_in(page, server.base, ADMIN_KEY)

        # Create an interval task that calls the listener every 2 seconds.
        page.get_by_role("link", name="Tasks", exact=True).click()
        page.get_by_role("link", name="New task").click()
        field(page, "Name").fill("e2e ping")
        field(page, "URL").fill(listener.url("/hello"))
        segment(page, "Interval")
        field(page, "Every").fill("2")
        choose(page, "Unit", "seconds")
        expect(page.get_by_test_id("preview-description")).to_contain_text("2 seconds")
        expect(page.get_by_test_id("fire-times").locator("tbody tr")).to_have_count(10)
        screenshot(page, "10-create-interval-task")
        page.get_by_role("button", name="Create task").click()
        expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
        task_id = int(page.url.rsplit("/", 1)[1])

        # Runs appear and turn succeeded without a reload.
        page.evaluate("window.__stillTheSamePage = true")
        succeeded = page.locator("[data-testid=run-row][data-status=succeeded]")
        expect(succeeded.first).to_be_visible(timeout=20_000)
        wait_until(lambda: succeeded.count() >= 2, 20, "two succeeded runs in the table")
        assert page.evaluate("window.__stillTheSamePage") is True, "the page was reloaded"
        assert listener.hits >= 2
        screenshot(page, "11-runs-succeeded-live")

        # Open a run and read its output.
        run_link = succeeded.first.get_by_role("link")
        run_id = int(run_link.inner_text().lstrip("#"))
        run_link.click()
        expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"))
        expect(page.get_by_test_id("run-status")).to_have_text("succeeded")
        expect(page.get_by_test_id("run-output")).to_contain_text(Listener.BODY)
        expect(page.get_by_role("row", name=re.compile("HTTP status"))).to_contain_text("200")
        screenshot(page, "12-run-output")

        # Pause, and no new runs happen.
        page.get_by_role("link", name="e2e ping").click()
        page.get_by_role("button", name="Pause").click()
        expect(page.get_by_test_id("task-state")).to_have_text("paused")
        time.sleep(1.5)  # a run claimed just before the pause may still finish
        executed = [r for r in runs_of(server, task_id) if r["status"] != "skipped"]
        hits = listener.hits
        caption = page.get_by_test_id("run-table").locator("caption").inner_text()
        time.sleep(5)
        assert [r for r in runs_of(server, task_id) if r["status"] != "skipped"] == executed
        assert listener.hits == hits
        expect(page.get_by_test_id("run-table").locator("caption")).to_have_text(caption)
        screenshot(page, "13-paused")

        # Edit the schedule to cron and see the preview.
        page.get_by_role("link", name="Edit").click()
        segment(page, "Cron")
        field(page, "Cron expression").fill("*/15 9-17 * * 1-5")
        zone = page.get_by_role("textbox", name="Time zone", exact=True)
        zone.fill("Europe/Berlin")
        page.get_by_role("option", name="Europe/Berlin", exact=True).click()
        api_preview = server.admin.post(
            "/api/schedules/preview",
            json={
                "schedule": {"type": "cron", "expression": "*/15 9-17 * * 1-5", "timezone": "Europe/Berlin"},
                "count": 10,
            },
        ).json()
        expect(page.get_by_test_id("preview-description")).to_have_text(api_preview["description"])
        fire_times = page.get_by_test_id("fire-times")
        expect(fire_times.locator("tbody tr")).to_have_count(10)
        expect(fire_times).to_contain_text("Europe/Berlin")
        expect(fire_times).to_contain_text(BROWSER_ZONE)
        screenshot(page, "14-cron-preview")

        # An invalid cron shows the API's error beside the field: first from the preview...
        field(page, "Cron expression").fill("0 99 * * *")
        expect(error_beside(page, "Cron expression")).to_contain_text("out of range")
        screenshot(page, "15-invalid-cron-preview")
        # ...and when saving anyway, from the PUT; nothing is changed.
        page.get_by_role("button", name="Save changes").click()
        expect(error_beside(page, "Cron expression")).to_contain_text("out of range")
        assert server.admin.get(f"/api/tasks/{task_id}").json()["schedule"]["type"] == "interval"

        field(page, "Cron expression").fill("*/15 9-17 * * 1-5")
        expect(page.get_by_test_id("preview-description")).to_have_text(api_preview["description"])
        page.get_by_role("button", name="Save changes").click()
        expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
        expect(page.get_by_test_id("schedule-description")).to_have_text(api_preview["description"])
        saved = server.admin.get(f"/api/tasks/{task_id}").json()
        assert saved["schedule"]["expression"] == "*/15 9-17 * * 1-5"
        assert saved["schedule"]["timezone"] == "Europe/Berlin"
        assert saved["enabled"] is False

        # Delete it (with confirmation).
        page.get_by_role("button", name="Delete").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("cannot be undone")
        screenshot(page, "16-confirm-delete")
        dialog.get_by_role("button", name="Delete task").click()
        expect(page).to_have_url(re.compile(r"/tasks$"))
        assert server.admin.get(f"/api/tasks/{task_id}").status_code == 404
        expect(page.get_by_role("link", name="e2e ping")).to_have_count(0)
        screenshot(page, "17-deleted")


@browser_test
def test_live_stream_opens_with_a_ticket_never_the_key(server: Server, page: Any) -> None:
    """The UI asks POST /api/events/tickets for a ticket (signed in by the session cookie, with the
    header that guards it) and opens GET /api/events?ticket=...; no URL the page requests carries the
    key."""
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    sign_in(page, server.base, ADMIN_KEY)
    expect(page.get_by_test_id("live-state")).to_have_text("Live", timeout=15_000)
    tickets = [r for r in requests if r.method == "POST" and r.url.endswith("/api/events/tickets")]
    assert tickets, f"no ticket was asked for: {[(r.method, r.url) for r in requests]}"
    ticket_headers = tickets[0].all_headers()
    assert ticket_headers.get("x-tasksched-request") == "1"
    assert "tasksched_session=" in ticket_headers.get("cookie", "")
    streams = [r.url for r in requests if "/api/events?" in r.url]
    assert streams, "the event stream was not opened"
    assert all(re.search(r"/api/events\?ticket=[^&]+$", url) for url in streams), streams
    assert not [r.url for r in requests if ADMIN_KEY in r.url]
    screenshot(page, "04-live-with-ticket")


@browser_test
def test_run_output_grows_live_and_cancel(server: Server, page: Any) -> None:
    loop = "i=0; while [ $i -lt 120 ]; do i=$((i+1)); echo line $i; sleep 0.25; done"
    task = server.create_task(
        name="counter", action={"type": "shell", "command": ["/bin/sh", "-c", loop]}, schedule=None
    )
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks/{task['id']}")
    page.get_by_role("button", name="Run now").click()
    page.get_by_role("link", name=re.compile(r"Open run #\d+")).click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__stillTheSamePage = true")
    output = page.get_by_test_id("run-output")
    expect(page.get_by_test_id("run-status")).to_have_text("running", timeout=15_000)
    expect(output).to_contain_text("line 2", timeout=15_000)
    expect(output).to_contain_text("line 8", timeout=15_000)  # it grows without a reload
    assert page.evaluate("window.__stillTheSamePage") is True
    screenshot(page, "18-live-output")

    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("cancelled", timeout=15_000)
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    assert server.admin.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"
    screenshot(page, "19-cancelled")
    server.admin.delete(f"/api/tasks/{task['id']}")


@browser_test
def test_viewer_and_operator_see_only_their_controls(server: Server, page: Any) -> None:
    task = server.create_task(
        name="role check",
        enabled=False,
        action={"type": "http", "url": "http://127.0.0.1:9/never"},
        schedule={"type": "interval", "seconds": 3600},
    )
    viewer = server.create_key("viewer person", "viewer")
    sign_in(page, server.base, viewer)
    page.get_by_role("link", name="Tasks", exact=True).click()
    expect(page.get_by_role("link", name="role check")).to_be_visible()
    expect(page.get_by_role("link", name="New task")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)  # no bulk selection
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    screenshot(page, "20-viewer-task-list")
    page.get_by_role("link", name="role check").click()
    expect(page.get_by_test_id("schedule-description")).to_be_visible()
    for name in ("Edit", "Delete", "Run now", "Pause", "Resume"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    screenshot(page, "21-viewer-task-detail")
    page.goto(f"{server.base}/tasks/{task['id']}/edit")
    expect(page.get_by_text("Only admins create and edit tasks.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    operator = server.create_key("operator person", "operator")
    sign_in(page, server.base, operator)
    page.goto(f"{server.base}/tasks/{task['id']}")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_role("button", name="Run now")).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    screenshot(page, "22-operator-task-detail")
    server.admin.delete(f"/api/tasks/{task['id']}")


@browser_test
def test_edit_conflict_does_not_overwrite(server: Server, page: Any) -> None:
    task = server.create_task(
        name="contested", enabled=False, action={"type": "http", "url": "http://127.0.0.1:9/a"}, schedule=None
    )
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks/{task['id']}/edit")
    field(page, "Description").fill("my change")
    # Meanwhile someone else changes the task.
    theirs = server.admin.patch(f"/api/tasks/{task['id']}", json={"description": "their change"})
    assert theirs.status_code == 200, theirs.text
    expect(page.get_by_test_id("changed-meanwhile")).to_be_visible()  # told live, before saving
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_test_id("conflict")).to_contain_text("Someone else changed this task")
    assert server.admin.get(f"/api/tasks/{task['id']}").json()["description"] == "their change"
    screenshot(page, "30-edit-conflict")
    page.get_by_role("button", name="Load their version (discard mine)").click()
    expect(field(page, "Description")).to_have_value("their change")
    server.admin.delete(f"/api/tasks/{task['id']}")


@browser_test
def test_api_keys_page(server: Server, page: Any) -> None:
    sign_in(page, server.base, ADMIN_KEY)
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="New key").click()
    dialog = page.get_by_role("dialog")
    field(dialog, "Name").fill("ci robot")
    dialog.get_by_role("textbox", name="Role", exact=True).click()
    page.get_by_role("option", name=re.compile("^operator")).click()
    dialog.get_by_role("button", name="Create key").click()
    key = dialog.get_by_test_id("new-key").inner_text().strip()
    expect(dialog.get_by_role("button", name="Copy key")).to_be_visible()
    screenshot(page, "40-key-created")
    me = httpx.get(
        f"{server.base}/api/auth/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).json()
    assert me["role"] == "operator"
    dialog.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Revoke ci robot").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    row = page.get_by_role("row", name=re.compile("ci robot"))
    expect(row).to_contain_text("revoked")
    screenshot(page, "41-key-revoked")
    assert (
        httpx.get(
            f"{server.base}/api/auth/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).status_code
        == 401
    )


@browser_test
def test_dark_theme_and_dashboard(server: Server, page: Any) -> None:
    server.create_task(
        name="dash",
        action={"type": "http", "url": "http://127.0.0.1:9/x"},
        schedule={"type": "interval", "seconds": 3600},
    )
    sign_in(page, server.base, ADMIN_KEY)
    expect(page.get_by_test_id("stat-tasks")).to_be_visible()
    expect(page.get_by_role("heading", name="Next runs due")).to_be_visible()
    page.get_by_role("button", name="Switch to dark theme").click()
    assert page.evaluate("document.documentElement.getAttribute('data-mantine-color-scheme')") == "dark"
    screenshot(page, "50-dashboard-dark")
    page.get_by_role("button", name="Switch to light theme").click()


@browser_test
def test_interactive_api_docs_work_offline(server: Server, page: Any) -> None:
    """/api/docs renders the operations with nothing fetched from outside this server, and "Try it
    out" works once a key is entered under "Authorize"."""
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.base) else outside.append(r.url))
    page.goto(f"{server.base}/api/docs")
    expect(page.get_by_text("List tasks", exact=True).first).to_be_visible()
    expect(page.get_by_text("Create a task", exact=True).first).to_be_visible()
    # Authorize with a key, then call an endpoint from the page.
    page.locator("button.authorize").first.click()
    page.locator(".modal-ux input").first.fill(ADMIN_KEY)
    page.locator(".modal-ux button.modal-btn.authorize").click()
    page.locator(".modal-ux button.modal-btn.btn-done").click()
    page.get_by_text("List tasks", exact=True).first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    screenshot(page, "60-api-docs")
    assert outside == []


# --------------------------------------------------------------------------------------------------

BENCH_TASKS = 10_000


def _bench_spec(i: int) -> dict[str, Any]:
    return {
        "name": f"bulk task {i:05d}",
        "tags": [f"team-{i % 7}"],
        "enabled": i % 3 != 0,
        "action": {"type": "http", "url": f"http://127.0.0.1:9/job/{i}"},
        # Far-off one-offs: nothing fires during the test.
        "schedule": {"type": "once", "at": f"2099-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"},
    }


def _seed_database(db_url: str, count: int) -> bool:
    """Load the tasks straight into a fresh database with the benchmarks' bulk loader (seconds, not
    minutes); False when that loader is not available, and the caller goes through the API instead.
    Only the load is different: the UI then reads them through the API like any other tasks."""
    import asyncio

    try:
        from bench.common import bulk_tasks, open_context
        from tasksched.domain.tasks import TaskSpec
    except ImportError:
        return False

    async def load() -> None:
        ctx = await open_context(db_url)
        try:
            specs = [TaskSpec.model_validate(_bench_spec(i)) for i in range(count)]
            next_runs = [
                spec.schedule.at if spec.schedule and spec.schedule.type == "once" else None for spec in specs
            ]
            await bulk_tasks(ctx, specs, next_runs)
        finally:
            await ctx.close()

    # In a thread of its own: Playwright's sync API already runs an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(load())).result()
    return True


def _seed_through_api(server: Server, count: int) -> None:
    def make(start: int) -> None:
        with server.client(ADMIN_KEY) as client:
            for i in range(start, min(start + 250, count)):
                response = client.post("/api/tasks", json=_bench_spec(i))
                assert response.status_code == 201, response.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(make, range(0, count, 250)))


# The moment the browser paints the first task names (Element Timing API; the UI marks the name links).
FIRST_ROW_PROBE = """
window.__firstRowAt = null;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.identifier === "task-name" && window.__firstRowAt === null) window.__firstRowAt = entry.renderTime;
  }
}).observe({ type: "element", buffered: true });
"""


@browser_test
def test_task_list_first_paint_with_10000_tasks(browser: Any, tmp_path: Path) -> None:
    """The task list with 10,000 tasks: first rows, search and paging work; the paint time is recorded.

    The figure goes to test-artifacts/ui/first-paint.txt (and bench/RESULTS.md); like every speed
    figure it is measured here, not asserted, so a busy machine cannot fail the suite.
    """
    seeded = _seed_database(f"sqlite:///{tmp_path / 'ui.db'}", BENCH_TASKS)
    with running_server(tmp_path) as server:
        if not seeded:
            _seed_through_api(server, BENCH_TASKS)
        assert server.admin.get("/api/tasks", params={"limit": 1}).json()["total"] == BENCH_TASKS
        timings: list[float] = []
        for attempt in range(5):
            context = browser.new_context(viewport={"width": 1280, "height": 900})  # a cold cache each time
            context.add_init_script(f"sessionStorage.setItem('tasksched.apiKey', {ADMIN_KEY!r});")
            context.add_init_script(FIRST_ROW_PROBE)
            page = context.new_page()
            page.goto(f"{server.base}/tasks")
            # A function, not an expression: Playwright polls an expression with eval(), which the
            # UI's Content-Security-Policy refuses.
            page.wait_for_function("() => window.__firstRowAt !== null")
            timings.append(float(page.evaluate("window.__firstRowAt")))
            expect(page.locator("[data-testid=task-row]")).to_have_count(50)
            if attempt == 0:
                expect(page.locator("caption")).to_contain_text("10,000 tasks")
                screenshot(page, "60-task-list-10000")
                # Server-side search, filters and paging stay quick too.
                page.get_by_label("Search").fill("bulk task 09999")
                expect(page.locator("[data-testid=task-row]")).to_have_count(1)
            context.close()
        median = statistics.median(timings)
        report = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui" / "first-paint.txt"
        report.write_text(
            "first task rows painted (ms from navigation, cold cache, 10,000 tasks): "
            f"{[round(t) for t in timings]}; median {median:.0f}\n"
        )
        print(f"\nfirst task rows at {[round(t) for t in timings]} ms; median {median:.0f} ms")


def test_generated_api_types_are_current() -> None:
    """web/src/api/schema.d.ts equals what the back end's OpenAPI schema generates (`npm run check:api`)."""
    import shutil
    import subprocess

    web = Path(__file__).resolve().parents[2] / "web"
    if shutil.which("node") is None:
        missing("node is not installed, so the generated API types cannot be checked")
    if not (web / "node_modules" / "openapi-typescript").exists():
        ensure_ui_built()  # installs the npm packages
    result = subprocess.run(
        ["node", "scripts/gen-api.mjs", "--check"],
        cwd=web,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_bundle_within_budget() -> None:
    """The built UI stays under 500 KB gzipped (scripts/bundle-size.mjs measures and enforces it)."""
    import shutil
    import subprocess

    if shutil.which("node") is None:
        missing("node is not installed, so the bundle cannot be measured")
    ensure_ui_built()
    web = Path(__file__).resolve().parents[2] / "web"
    result = subprocess.run(
        ["node", "scripts/bundle-size.mjs"], cwd=web, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout.strip().splitlines()[-1])


@browser_test
def test_audit_log_page(server: Server, page: Any) -> None:
    sign_in(page, server.base, ADMIN_KEY)
    # Changes made through the UI: a task created, then paused.
    page.get_by_role("link", name="Tasks", exact=True).click()
    page.get_by_role("link", name="New task").click()
    field(page, "Name").fill("audited task")
    field(page, "URL").fill("https://example.com/audited")
    segment(page, "Interval")
    field(page, "Every").fill("3600")
    choose(page, "Unit", "seconds")
    page.get_by_role("button", name="Create task").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    task_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_test_id("task-state")).to_have_text("paused")

    # Both are on the audit page, newest first, as the signed-in key's, with what changed.
    page.get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    rows = page.get_by_test_id("audit-row").filter(has_text="audited task")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("task.pause")
    expect(rows.nth(1)).to_contain_text("task.create")
    expect(rows.nth(0)).to_contain_text(f"task {task_id}")
    expect(rows.nth(0)).to_contain_text("bootstrap admin")
    expect(rows.nth(0)).to_contain_text("127.0.0.1")
    rows.nth(0).get_by_role("button", name=re.compile("^Show changes of task.pause")).click()
    diff = page.get_by_test_id("audit-diff")
    enabled = diff.get_by_role("row", name=re.compile(r"^enabled\b"))
    expect(enabled).to_contain_text("true")
    expect(enabled).to_contain_text("false")
    screenshot(page, "50-audit-log-diff")

    # Filters and pages live in the URL: more task.create entries than one page holds.
    for i in range(55):
        server.create_task(name=f"audit filler {i}", action={"type": "http", "url": "https://example.com/"})
    choose(page, "Action", "task.create")
    expect(page).to_have_url(re.compile(r"action=task\.create"))
    expect(page.get_by_test_id("audit-row")).to_have_count(50)
    first_page = page.get_by_test_id("audit-row").first.text_content() or ""
    assert "audit filler 54" in first_page
    page.get_by_role("button", name="Older").click()
    expect(page).to_have_url(re.compile(r"before=\d+"))
    older = page.get_by_test_id("audit-row")
    expect(older.filter(has_text="audited task")).to_have_count(1)
    assert all("task.create" in text for text in older.all_text_contents())
    screenshot(page, "51-audit-log-older-page")
    page.reload()  # the page, filter included, is the URL's
    expect(page.get_by_test_id("audit-row").filter(has_text="audited task")).to_have_count(1)
    page.get_by_role("button", name="Newest").click()
    expect(page.get_by_test_id("audit-row").first).to_contain_text("audit filler 54")


@browser_test
def test_notification_channel_rules_and_deliveries(server: Server, page: Any) -> None:
    from tests.helpers.receivers import HttpReceiver

    with HttpReceiver() as receiver:
        sign_in(page, server.base, ADMIN_KEY)
        page.get_by_role("link", name="Notifications").click()
        page.get_by_role("button", name="New channel").click()
        dialog = page.get_by_role("dialog")
        field(dialog, "Name").fill("ops hook")
        dialog.locator("label", has_text=re.compile("^JSON webhook$")).click()
        field(dialog, "URL").fill(receiver.url)
        dialog.get_by_label("HMAC signing secret").fill("s3cret-signing")
        dialog.get_by_role("button", name="Create channel").click()
        row = page.get_by_test_id("channel-table").get_by_role("row", name=re.compile("ops hook"))
        expect(row).to_contain_text("JSON webhook")
        expect(row).to_contain_text("every task")
        [channel] = server.admin.get("/api/channels").json()["items"]
        assert channel["config"]["hmac_secret"] == "********"  # stored, never shown

        # Editing keeps the stored secret when its field is left empty.
        row.get_by_role("button", name="Edit ops hook").click()
        secret = page.get_by_role("dialog").get_by_label("HMAC signing secret")
        expect(secret).to_have_value("")
        expect(secret).to_have_attribute("placeholder", "stored (unchanged)")
        page.get_by_role("dialog").get_by_role("button", name="Save channel").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
        row.get_by_role("button", name="Send a test notice to ops hook").click()
        expect(page.get_by_text("“ops hook” accepted the test notice")).to_be_visible()
        wait_until(lambda: len(receiver.accepted) == 1, 10, "the test notice")
        assert receiver.accepted[0].headers.get("X-Tasksched-Signature", "").startswith("v1=")

        # A run that fails after its last retry: its notice is delivered and shown on the run page.
        task = server.create_task(
            name="notify me",
            action={"type": "http", "method": "GET", "url": f"http://127.0.0.1:{free_port()}/down"},
            retry={"max_attempts": 1},
        )
        response = server.admin.post(f"/api/tasks/{task['id']}/run")
        assert response.status_code in (200, 201, 202), response.text
        run_id = response.json()["id"]
        wait_until(
            lambda: any(
                n["status"] == "delivered"
                for n in server.admin.get("/api/notifications", params={"run_id": run_id}).json()["items"]
            ),
            20,
            "the failure notice to be delivered",
        )
        page.goto(f"{server.base}/runs/{run_id}")
        notices = page.get_by_test_id("notice-table")
        expect(notices.locator("tr[data-notice-kind='failed']")).to_contain_text("delivered")
        expect(notices).to_contain_text("ops hook")
        notices.get_by_role("button", name="1 attempt").click()
        expect(page.get_by_role("table", name=re.compile("Delivery attempts"))).to_contain_text("delivered")
        screenshot(page, "62-run-notices")
        page.goto(f"{server.base}/tasks/{task['id']}")
        expect(page.get_by_test_id("notice-table")).to_contain_text("Failed")

        # The task's own rules, set in the editor, are what the API stores.
        page.goto(f"{server.base}/tasks/{task['id']}/edit")
        segment(page, "Rules of its own")
        page.get_by_role("textbox", name="Failures in a row").fill("3")
        page.get_by_role("button", name="Save changes").click()
        page.wait_for_url(re.compile(rf"/tasks/{task['id']}$"))
        stored = server.admin.get(f"/api/tasks/{task['id']}").json()["notify"]
        assert stored["consecutive_failures"] == 3
        assert stored["on_failure"] is True
        expect(page.get_by_text(re.compile("3 failures in a row"))).to_be_visible()
        page.goto(f"{server.base}/notifications")
        expect(page.get_by_test_id("notice-table")).to_contain_text("notify me")
        screenshot(page, "63-notifications-page")
