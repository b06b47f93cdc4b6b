"""Accessibility in Chromium against a real `tasksched serve`: axe-core finds nothing on any page, in
the light and the dark theme, with data on the pages and with a dialog open; focus moves to the page's
heading on navigation; the keyboard shortcuts work (and stay out of the way while typing).

axe-core comes from web/node_modules (a devDependency of the UI), injected into each page: nothing is
fetched at run time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_ui import BROWSER_ZONE, expect
from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Listener,
    Server,
    missing,
    running_server,
    screenshot,
    sign_in,
    wait_until,
)
from tests.helpers.processes import REPO

pytestmark = [pytest.mark.slow, pytest.mark.browser]

AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """As test_ui's page, but the page's CSP lets the test add axe-core's script tag (the server's
    CSP is test_csp.py's business)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        timezone_id=BROWSER_ZONE,
        locale="en-US",
        bypass_csp=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        missing(f"{AXE} is missing (axe-core is a devDependency of web/: npm ci in web/)")
    return AXE


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A server with tasks and finished runs: succeeded, failed (red badges) and a paused task."""
    with running_server(tmp_path_factory.mktemp("ui-a11y")) as server, Listener() as listener:
        ok = server.create_task(
            name="a11y-ok",
            description="Calls the local listener",
            tags=["nightly", "reports"],
            action={"type": "http", "url": listener.url()},
            schedule={"type": "interval", "seconds": 3600},
        )
        bad = server.create_task(
            name="a11y-bad",
            action={"type": "http", "url": "http://127.0.0.1:1/"},
            schedule={"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
            retry={"max_attempts": 1},
        )
        paused = server.create_task(
            name="a11y-paused",
            action={"type": "http", "url": listener.url()},
            schedule={"type": "interval", "seconds": 600},
        )
        assert server.admin.post(f"/api/tasks/{paused['id']}/pause").status_code == 200
        for task, count in ((ok, 2), (bad, 2)):
            for _ in range(count):
                assert server.admin.post(f"/api/tasks/{task['id']}/run").status_code == 202

        def finished() -> bool:
            items = server.admin.get("/api/runs", params={"limit": 50}).json()["items"]
            return sum(1 for r in items if r["finished_at"]) >= 4

        wait_until(finished, 30, "four finished runs")
        runs = server.admin.get("/api/runs", params={"limit": 50}).json()["items"]
        failed = next(r for r in runs if r["status"] == "failed")
        server.create_key("a11y viewer", "viewer")
        yield server, {"ok": ok, "bad": bad, "failed_run": failed}


def axe_violations(page: Any, axe: Path) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe))
    result = page.evaluate(
        "async () => { const r = await axe.run(document); return r.violations.map(v => ({id: v.id,"
        " impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target,"
        " summary: n.failureSummary}))})) }"
    )
    return list(result)


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} nodes]")
        for node in v["nodes"][:4]:
            lines.append(f"    {node['target']}: {(node['summary'] or '').splitlines()[-1:]}")
    return "\n".join(lines)


def set_scheme(page: Any, scheme: str) -> None:
    page.evaluate(f"localStorage.setItem('tasksched.colorScheme', '{scheme}')")


def routes(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, path, the heading that says the page is drawn)."""
    ok, bad, run = data["ok"], data["bad"], data["failed_run"]
    return [
        ("dashboard", "/", "Dashboard"),
        ("tasks", "/tasks", "Tasks"),
        ("task", f"/tasks/{bad['id']}", "a11y-bad"),
        ("editor-new", "/tasks/new", "New task"),
        ("editor-edit", f"/tasks/{ok['id']}/edit", "Edit \u201ca11y-ok\u201d"),
        ("runs", "/runs", "Runs"),
        ("run", f"/runs/{run['id']}", f"Run #{run['id']}"),
        ("workers", "/workers", "Workers"),
        ("status", "/status", "Status"),
        ("notifications", "/notifications", "Notifications"),
        ("keys", "/keys", "API keys"),
        ("audit", "/audit", "Audit log"),
        ("not-found", "/no/such/page", "Page not found"),
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_any_page(
    data: tuple[Server, dict[str, Any]],
    page: Any,
    axe_script: Path,
    scheme: str,
) -> None:
    server, made = data
    found: dict[str, list[dict[str, Any]]] = {}

    page.goto(f"{server.base}/signin")
    set_scheme(page, scheme)
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.mantineColorScheme") == scheme
    found["signin"] = axe_violations(page, axe_script)
    sign_in(page, server.base, ADMIN_KEY)

    for name, path, heading in routes(made):
        page.goto(f"{server.base}{path}")
        expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        found[name] = axe_violations(page, axe_script)
        screenshot(page, f"a11y-{scheme}-{name}")
        if name == "keys":
            # A dialog open: the confirm box before revoking a key.
            page.get_by_role("button", name=re.compile("Revoke")).first.click()
            expect(page.get_by_role("dialog")).to_be_visible()
            page.wait_for_timeout(300)  # the dialog's opening transition, so axe sees it at rest
            found["keys-dialog"] = axe_violations(page, axe_script)
            screenshot(page, f"a11y-{scheme}-keys-dialog")
            page.keyboard.press("Escape")
            expect(page.get_by_role("dialog")).to_have_count(0)

    counts = {name: len(v) for name, v in found.items()}
    (REPO / "test-artifacts" / "ui").mkdir(parents=True, exist_ok=True)
    (REPO / "test-artifacts" / "ui" / f"axe-{scheme}.json").write_text(json.dumps(found, indent=1))
    bad = {name: v for name, v in found.items() if v}
    assert not bad, f"axe-core violations ({scheme}): {counts}\n" + "\n".join(
        f"{name}:\n{describe(v)}" for name, v in bad.items()
    )
