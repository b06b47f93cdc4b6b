"""The web UI and Swagger UI work under the Content-Security-Policy: every page is visited in
Chromium with a listener for ``securitypolicyviolation`` events and console errors, and none may
be reported. A deliberately stricter policy (no inline styles) must produce reports, so the
listener is shown to catch what it is there to catch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tasksched.api.headers import UI_POLICY
from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Server,
    running_server,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Reports every violation to the test through a binding (which the page's policy cannot block).
LISTEN = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("csp")) as srv:
        yield srv


class Watched:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.violations: list[str] = []
        self.console_errors: list[str] = []


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    found = Watched(page)
    page.expose_function("__cspViolation", lambda text: found.violations.append(text))
    page.add_init_script(LISTEN)
    page.on("console", lambda m: found.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: found.console_errors.append(str(error)))
    try:
        yield found
    finally:
        context.close()


def ui_pages(server: Server) -> list[tuple[str, str]]:
    """(path, text the page shows when it has rendered) for every page of the UI."""
    task = server.create_task(name="csp-check", action={"type": "shell", "command": ["echo", "hi"]})
    run = server.admin.post(f"/api/tasks/{task['id']}/run")
    assert run.status_code == 202, run.text
    return [
        ("/", "Runs per hour"),
        ("/tasks", "csp-check"),
        (f"/tasks/{task['id']}", "csp-check"),
        (f"/tasks/{task['id']}/edit", "Save changes"),
        ("/tasks/new", "Create task"),
        ("/runs", "csp-check"),
        (f"/runs/{run.json()['id']}", "csp-check"),
        ("/workers", "Workers"),
        ("/keys", "bootstrap admin"),
    ]


def visit_everything(server: Server, watched: Watched, pages: list[tuple[str, str]]) -> None:
    page = watched.page
    sign_in(page, server.base, ADMIN_KEY)
    for path, shown in pages:
        page.goto(server.base + path)
        page.get_by_text(shown).first.wait_for()
        page.wait_for_timeout(300)  # reports are queued as tasks: let them arrive
        if path == "/tasks/new":  # a dropdown, an autosized text area and a tooltip-bearing form
            page.get_by_role("textbox", name="If the previous run is still active").click()
            page.get_by_role("option").first.wait_for()
            page.keyboard.press("Escape")
            page.get_by_role("textbox", name="Description").fill("line one\nline two\nline three")
        if path == "/keys":  # a modal dialog
            page.get_by_role("button", name="New key").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("textbox", name="Role").click()
            page.get_by_role("option", name="viewer").wait_for()
            page.keyboard.press("Escape")
            page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    page.goto(server.base + "/api/docs")
    page.get_by_text("List tasks", exact=True).first.wait_for(
        timeout=30_000
    )  # Swagger UI is slow on a busy machine
    page.locator(".opblock-summary").first.click()  # opens an operation: more of Swagger UI renders
    page.wait_for_timeout(300)


def test_every_page_works_under_the_policy(server: Server, watched: Watched) -> None:
    visit_everything(server, watched, ui_pages(server))
    screenshot(watched.page, "70-api-docs-under-csp")
    assert watched.violations == []
    assert [e for e in watched.console_errors if "Content Security Policy" in e] == []
    assert watched.console_errors == []


def test_a_stricter_policy_is_caught(server: Server, watched: Watched) -> None:
    """The same visit with inline styles refused (the one allowance the policy makes): Mantine's
    style elements are blocked and the listener reports them."""
    stricter = UI_POLICY.replace("style-src 'self' 'unsafe-inline'", "style-src 'self'")
    assert stricter != UI_POLICY

    def tighten(route: Any) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": stricter}
        route.fulfill(response=response, headers=headers)

    watched.page.route(re.compile(r"^[^?]*/(tasks|keys)?$"), tighten)  # the documents only
    sign_in(watched.page, server.base, ADMIN_KEY)
    watched.page.goto(server.base + "/keys")
    watched.page.get_by_text("bootstrap admin").first.wait_for()
    watched.page.wait_for_timeout(300)
    assert watched.violations, "a policy without 'unsafe-inline' styles must be reported as violated"
    assert all(v.startswith("style-src") for v in watched.violations), watched.violations
