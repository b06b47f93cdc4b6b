"""The Status page in Chromium against a real `tasksched serve`: the figures it shows are the API's,
and they move without a reload when runs finish (the event stream)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_ui import page  # noqa: F401  (the page fixture)
from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Listener,
    Server,
    expect,
    running_server,
    screenshot,
    sign_in,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui-status")) as srv:
        yield srv


def _finished(server: Server, task_id: int, count: int) -> bool:
    body = server.admin.get(f"/api/tasks/{task_id}/runs", params={"limit": 200}).json()
    return sum(1 for r in body["items"] if r["finished_at"]) >= count


def _shown(tab: Any, test_id: str) -> str:
    return str(tab.get_by_test_id(test_id).inner_text()).strip()


def test_status_page_shows_the_api_figures_and_updates_live(server: Server, page: Any) -> None:  # noqa: F811
    with Listener() as listener:
        ok = server.create_task(name="status-ok", action={"type": "http", "url": listener.url()})
        bad = server.create_task(
            name="status-bad",
            action={"type": "http", "url": "http://127.0.0.1:1/"},
            retry={"max_attempts": 1},
        )
        later = server.create_task(
            name="status-later",
            action={"type": "http", "url": listener.url()},
            schedule={"type": "interval", "seconds": 3600},
        )
        for task, count in ((ok, 2), (bad, 1)):
            for _ in range(count):
                assert server.admin.post(f"/api/tasks/{task['id']}/run").status_code == 202
        wait_until(
            lambda: _finished(server, ok["id"], 2) and _finished(server, bad["id"], 1), 20, "three runs"
        )

        sign_in(page, server.base, ADMIN_KEY)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Status", exact=True).click()
        expect(page.get_by_role("heading", name="Status")).to_be_visible()
        page.evaluate("window.__notReloaded = true")

        def matches_api() -> bool:
            api = server.admin.get("/api/status").json()
            shown = {
                "hour-finished": str(api["last_hour"]["finished"]),
                "hour-failed": str(api["last_hour"]["failed"]),
                "day-finished": str(api["last_day"]["finished"]),
                "backlog-queued": str(api["backlog"]["queued"]),
                "backlog-running": str(api["backlog"]["running"]),
                "workers-alive": str(api["workers"]["alive"]),
                "worker-slots": f"{api['workers']['busy']} of {api['workers']['slots']}",
                "schedulers-alive": str(sum(1 for s in api["schedulers"] if s["alive"])),
                "version": f"tasksched {api['version']}",
            }
            return all(_shown(page, test_id) == text for test_id, text in shown.items())

        wait_until(matches_api, 15, "the status page to show the API's figures")
        api = server.admin.get("/api/status").json()
        assert api["last_hour"] == {"finished": 3, "succeeded": 2, "failed": 1}
        assert _shown(page, "hour-finished") == "3"
        assert _shown(page, "hour-failed") == "1"
        assert _shown(page, "workers-alive") == "1"
        assert _shown(page, "schedulers-alive") == "1"
        expect(page.get_by_test_id("health-database-state")).to_have_text("OK")
        expect(page.get_by_test_id("health-redis-state")).to_have_text("Not configured")
        expect(page.get_by_test_id("last-backup")).to_have_text("Last backup: none recorded")
        expect(page.get_by_test_id("next-due")).to_contain_text(later["name"])
        expect(page.locator("figure[aria-label*='per minute: 3 finished, 1 failed']")).to_be_visible()
        screenshot(page, "70-status")

        # Another run finishes: the page follows without a reload, well before its 10 s poll.
        assert server.admin.post(f"/api/tasks/{ok['id']}/run").status_code == 202
        expect(page.get_by_test_id("hour-finished")).to_have_text("4", timeout=8_000)
        assert page.evaluate("window.__notReloaded") is True
        screenshot(page, "71-status-live")


def test_status_page_is_in_the_navigation_for_a_viewer(server: Server, page: Any) -> None:  # noqa: F811
    viewer = server.create_key("status-viewer", "viewer")
    sign_in(page, server.base, viewer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Status", exact=True).click()
    expect(page.get_by_test_id("health-database-state")).to_have_text("OK")
    assert page.url.endswith("/status")
