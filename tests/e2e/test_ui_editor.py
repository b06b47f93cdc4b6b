"""The task editor in a real browser against a real `tasksched serve`: the conflict box's field-by-field
diff and merged save, secret values kept unless replaced, and "duplicate task".

Secrets are checked where they end up: a real HTTP target on loopback records the headers each run sent.
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
from tests.helpers.http_target import HttpTarget

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui-editor")) as srv:
        yield srv


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as http:
        yield http


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    with browser_page(browser, viewport={"width": 1280, "height": 1000}, locale="en-US") as page:
        sign_in(page, server.base, ADMIN_KEY)
        yield page


def sent_header(server: Server, target: HttpTarget, task_id: int, name: str) -> str | None:
    """Runs the task now and returns the value of `name` its request carried."""
    before = len(target.requests)
    response = server.admin.post(f"/api/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    wait_until(lambda: len(target.requests) > before, 20, "the run's request to reach the target")
    return target.requests[-1].headers.get(name)


def http_task(server: Server, target: HttpTarget, name: str, **extra: Any) -> dict[str, Any]:
    action = {"type": "http", "url": target.url("/ok"), "headers": {"X-Token": "s3cret-one"}}
    return server.create_task(name=name, enabled=False, schedule=None, action=action, **extra)


def test_conflict_shows_each_field_and_saves_both_changes(
    server: Server, page: Any, target: HttpTarget
) -> None:
    task = http_task(server, target, "merge-me", description="original", timeout_seconds=30)
    page.goto(f"{server.base}/tasks/{task['id']}/edit")
    page.get_by_role("textbox", name="Timeout (seconds)").fill("90")
    their = server.admin.patch(f"/api/tasks/{task['id']}", json={"description": "their change"})
    assert their.status_code == 200, their.text
    page.get_by_role("button", name="Save changes").click()

    box = page.get_by_test_id("conflict")
    expect(box.get_by_test_id("conflict-row-description")).to_contain_text("they changed")
    expect(box.get_by_test_id("conflict-row-description")).to_contain_text('"their change"')
    expect(box.get_by_test_id("conflict-row-timeout_seconds")).to_contain_text("you changed")
    expect(box.get_by_test_id("overwrite-warning")).to_contain_text("undoes 1 of their changes")
    # The secret header is the same on both sides: it is no row of the diff, and never shown.
    expect(box.get_by_test_id("conflict-diff")).not_to_contain_text("s3cret")
    expect(box).to_be_in_viewport()  # Save sits at the bottom of the form, the box above it
    screenshot(page, "60-editor-conflict-diff")
    assert server.admin.get(f"/api/tasks/{task['id']}").json()["timeout_seconds"] == 30  # nothing saved yet

    box.get_by_role("button", name="Save merged (their changes and mine)").click()
    page.wait_for_url(f"{server.base}/tasks/{task['id']}")
    saved = server.admin.get(f"/api/tasks/{task['id']}").json()
    assert (saved["description"], saved["timeout_seconds"]) == ("their change", 90)
    assert sent_header(server, target, task["id"], "X-Token") == "s3cret-one"  # the kept secret survived


def test_both_changed_one_field_asks_which_to_keep(server: Server, page: Any, target: HttpTarget) -> None:
    task = http_task(server, target, "both-changed", description="original")
    page.goto(f"{server.base}/tasks/{task['id']}/edit")
    page.get_by_role("textbox", name="Description").fill("mine")
    server.admin.patch(f"/api/tasks/{task['id']}", json={"description": "theirs"})
    page.get_by_role("button", name="Save changes").click()
    row = page.get_by_test_id("conflict-row-description")
    expect(row).to_contain_text("both changed")
    row.get_by_role("radio", name="theirs").check()
    page.get_by_role("button", name="Save merged (with the choices above)").click()
    page.wait_for_url(f"{server.base}/tasks/{task['id']}")
    assert server.admin.get(f"/api/tasks/{task['id']}").json()["description"] == "theirs"


def test_secret_values_are_kept_until_replaced(server: Server, page: Any, target: HttpTarget) -> None:
    task = http_task(server, target, "secret-header")
    page.goto(f"{server.base}/tasks/{task['id']}/edit")
    value = page.get_by_role("textbox", name="Value 1")
    expect(value).to_be_disabled()
    expect(value).to_have_value("")  # never the literal mask
    expect(value).to_have_attribute("placeholder", "Stored value kept (hidden)")
    expect(page.get_by_role("textbox", name="Header 1")).to_have_value("X-Token")
    screenshot(page, "61-editor-secret-kept")
    page.get_by_role("textbox", name="Description").fill("touched, secret not")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{server.base}/tasks/{task['id']}")
    assert sent_header(server, target, task["id"], "X-Token") == "s3cret-one"

    page.goto(f"{server.base}/tasks/{task['id']}/edit")
    page.get_by_role("button", name="Replace value 1").click()
    value = page.get_by_role("textbox", name="Value 1")
    expect(value).to_be_enabled()
    expect(value).to_be_focused()
    page.keyboard.type("s3cret-two")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{server.base}/tasks/{task['id']}")
    assert sent_header(server, target, task["id"], "X-Token") == "s3cret-two"


def test_duplicate_task_asks_for_secrets_again(server: Server, page: Any, target: HttpTarget) -> None:
    task = http_task(server, target, "to-copy", description="copied from here", tags=["copy"])
    page.goto(f"{server.base}/tasks/{task['id']}")
    page.get_by_role("link", name="Duplicate").click()
    expect(page.get_by_test_id("duplicate-notice")).to_contain_text(
        "enter each header or variable value again"
    )
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value("to-copy (copy)")
    expect(page.get_by_role("textbox", name="Description")).to_have_value("copied from here")
    page.get_by_role("button", name="Create task").click()
    value = page.get_by_role("textbox", name="Value 1")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Secret values are not copied: enter this one again.")).to_be_visible()
    screenshot(page, "62-editor-duplicate")
    assert not [t for t in server.admin.get("/api/tasks").json()["items"] if t["name"] == "to-copy (copy)"]

    value.fill("s3cret-copy")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    copies = [t for t in server.admin.get("/api/tasks").json()["items"] if t["name"] == "to-copy (copy)"]
    assert len(copies) == 1
    copy = copies[0]
    assert (copy["description"], copy["tags"], copy["action"]["url"]) == (
        "copied from here",
        ["copy"],
        target.url("/ok"),
    )
    assert sent_header(server, target, copy["id"], "X-Token") == "s3cret-copy"
    assert sent_header(server, target, task["id"], "X-Token") == "s3cret-one"  # the original is untouched
