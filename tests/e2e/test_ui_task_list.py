"""The task list's tools (issue 8, point 2) in Debian's Chromium against a real `tasksched serve`:
picking tags from the server's suggestions, paused tasks last when sorted by next run, and "select
all N matching" pausing every matching task, not only the first page's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ui_helpers import (
    ADMIN_KEY,
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

HTTP = {"type": "http", "url": "http://127.0.0.1:9/never-called"}  # manual tasks: nothing runs them


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui-task-list")) as srv:
        yield srv


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with browser_page(browser, viewport={"width": 1400, "height": 1000}) as page:
        yield page


def row_names(page: Any) -> list[str]:
    return [str(name) for name in page.get_by_test_id("task-row").locator(".task-link").all_text_contents()]


@browser_test
def test_a_tag_is_picked_from_the_servers_suggestions(server: Server, page: Any) -> None:
    for i in range(3):
        server.create_task(name=f"pick export {i}", tags=["pick-billing", "pick-nightly"], action=HTTP)
    server.create_task(name="pick sweep", tags=["pick-nightly"], action=HTTP)
    server.create_task(name="pick other", tags=["elsewhere"], action=HTTP)

    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks?q=pick")
    expect(page.get_by_test_id("task-row")).to_have_count(5)
    picker = page.get_by_test_id("tag-picker")
    picker.click()
    picker.press_sequentially("PICK")  # any case
    # The server's suggestions, most used first, each with its count; no tag not starting so.
    nightly = page.get_by_role("option", name="pick-nightly 4 tasks")
    billing = page.get_by_role("option", name="pick-billing 3 tasks")
    expect(nightly).to_be_visible()
    expect(billing).to_be_visible()
    expect(page.get_by_role("option", name=re.compile("elsewhere"))).to_have_count(0)
    suggestions = page.get_by_role("listbox", name="Tags").get_by_role("option")
    assert suggestions.all_text_contents() == ["pick-nightly 4 tasks", "pick-billing 3 tasks"]
    screenshot(page, "task-list-01-tag-suggestions")

    billing.click()
    expect(page).to_have_url(re.compile(r"tag=pick-billing"))
    expect(page.get_by_test_id("task-row")).to_have_count(3)
    # A second tag: tasks carrying both.
    picker.press_sequentially("pick-n")
    page.get_by_role("option", name="pick-nightly 4 tasks").click()
    expect(page).to_have_url(re.compile(r"tag=pick-billing&tag=pick-nightly"))
    expect(page.get_by_test_id("task-row")).to_have_count(3)
    expect(page.get_by_role("table").locator("caption")).to_have_text("3 tasks match")
    page.keyboard.press("Escape")
    screenshot(page, "task-list-02-two-tags-picked")


@browser_test
def test_paused_tasks_sort_last_by_next_run_either_way(server: Server, page: Any) -> None:
    server.create_task(name="order hourly", schedule={"type": "interval", "seconds": 3600}, action=HTTP)
    server.create_task(name="order minutely", schedule={"type": "interval", "seconds": 60}, action=HTTP)
    # Paused with the soonest slot of all, and another paused: both after every enabled task.
    server.create_task(
        name="order paused soon", schedule={"type": "interval", "seconds": 30}, action=HTTP, enabled=False
    )
    server.create_task(
        name="order paused later", schedule={"type": "interval", "seconds": 7200}, action=HTTP, enabled=False
    )
    server.create_task(name="order manual", action=HTTP)

    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks?q=order&sort=next_run_at")
    expect(page.get_by_test_id("task-row")).to_have_count(5)
    soonest = ["order minutely", "order hourly", "order manual", "order paused later", "order paused soon"]
    wait_until(lambda: row_names(page) == soonest, 10, f"rows in the order {soonest}")
    screenshot(page, "task-list-03-paused-last-soonest-first")

    # The column header turns the sort around: the paused tasks stay last.
    page.get_by_role("button", name="Next run").click()
    expect(page).to_have_url(re.compile(r"sort=-next_run_at"))
    latest = ["order hourly", "order minutely", "order manual", "order paused later", "order paused soon"]
    wait_until(lambda: row_names(page) == latest, 10, f"rows in the order {latest}")
    screenshot(page, "task-list-04-paused-last-latest-first")


@browser_test
def test_select_all_matching_pauses_tasks_beyond_the_first_page(server: Server, page: Any) -> None:
    fleet = [server.create_task(name=f"fleet {i:02d}", tags=["fleet"], action=HTTP)["id"] for i in range(60)]
    bystander = server.create_task(name="fleet-free bystander", tags=["other"], action=HTTP)

    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks?tag=fleet&size=25")
    expect(page.get_by_test_id("task-row")).to_have_count(25)
    page.get_by_role("checkbox", name="Select all tasks on this page").check()
    bar = page.get_by_role("region", name="Bulk actions")
    expect(bar).to_contain_text("25 selected")
    bar.get_by_role("button", name="Select all 60 matching tasks").click()
    expect(bar).to_contain_text("All 60 matching tasks selected")
    screenshot(page, "task-list-05-all-matching-selected")

    bar.get_by_role("button", name="Pause").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Pause 60 tasks?")
    page.wait_for_timeout(300)  # the dialog's opening transition, for the screenshot
    screenshot(page, "task-list-06-confirm-with-the-real-count")
    dialog.get_by_role("button", name="Pause 60 tasks").click()
    expect(page.get_by_text("Paused 60 tasks.")).to_be_visible()

    def paused() -> set[int]:
        items = server.admin.get(
            "/api/tasks", params={"tag": "fleet", "enabled": "false", "limit": 500}
        ).json()
        return {t["id"] for t in items["items"]}

    wait_until(lambda: paused() == set(fleet), 10, "all 60 fleet tasks paused")
    assert server.admin.get(f"/api/tasks/{bystander['id']}").json()["enabled"] is True
    # The last page shows them paused too, without a reload.
    page.get_by_role("button", name="Page 3").click()
    expect(page.get_by_test_id("task-row")).to_have_count(10)
    expect(page.get_by_test_id("task-row").filter(has_text="paused")).to_have_count(10)
    [entry] = server.admin.get("/api/audit", params={"action": "tasks.pause"}).json()["items"]
    assert entry["target"]["name"] == "60 tasks paused"
    assert entry["after"]["filter"]["tags"] == ["fleet"]
