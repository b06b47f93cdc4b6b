"""Accessibility in Chromium against a real `tasksched serve`: axe-core finds nothing on any page, in
the light and the dark theme, with data on the pages and with a dialog open; focus moves to the page's
heading on navigation; the keyboard shortcuts work (and stay out of the way while typing).

axe-core comes from web/node_modules (a devDependency of the UI), injected into each page: nothing is
fetched at run time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_ui import BROWSER_ZONE
from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Listener,
    Server,
    browser_page,
    expect,
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
    with browser_page(
        browser,
        timezone_id=BROWSER_ZONE,
        bypass_csp=True,
    ) as page:
        yield page


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


@pytest.mark.parametrize(
    ("scheme", "width"),
    [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)],
    ids=["light", "dark", "light-phone", "dark-phone"],
)
def test_axe_finds_nothing_on_any_page(
    data: tuple[Server, dict[str, Any]],
    page: Any,
    axe_script: Path,
    scheme: str,
    width: int,
) -> None:
    server, made = data
    found: dict[str, list[dict[str, Any]]] = {}
    # At a phone's width the lists are cards, the filters folded and the navigation a burger menu
    # (set once signed in: sign_in waits for the user's name, which a phone's header leaves out).
    phone = width < 768
    scheme_name = f"{scheme}-phone" if phone else scheme

    page.goto(f"{server.base}/signin")
    set_scheme(page, scheme)
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.mantineColorScheme") == scheme
    found["signin"] = axe_violations(page, axe_script)
    sign_in(page, server.base, ADMIN_KEY)
    if phone:
        page.set_viewport_size({"width": width, "height": 844})

    for name, path, heading in routes(made):
        page.goto(f"{server.base}{path}")
        expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        found[name] = axe_violations(page, axe_script)
        screenshot(page, f"a11y-{scheme_name}-{name}")
        if name == "dashboard":
            page.keyboard.press("?")  # the shortcuts' help dialog
            expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
            page.wait_for_timeout(300)
            found["help-dialog"] = axe_violations(page, axe_script)
            page.keyboard.press("Escape")
            expect(page.get_by_role("dialog")).to_have_count(0)
        if name == "keys":
            # A dialog open: the confirm box before revoking a key.
            page.get_by_role("button", name=re.compile("Revoke")).first.click()
            expect(page.get_by_role("dialog")).to_be_visible()
            page.wait_for_timeout(300)  # the dialog's opening transition, so axe sees it at rest
            found["keys-dialog"] = axe_violations(page, axe_script)
            screenshot(page, f"a11y-{scheme_name}-keys-dialog")
            page.keyboard.press("Escape")
            expect(page.get_by_role("dialog")).to_have_count(0)

    counts = {name: len(v) for name, v in found.items()}
    (REPO / "test-artifacts" / "ui").mkdir(parents=True, exist_ok=True)
    (REPO / "test-artifacts" / "ui" / f"axe-{scheme_name}.json").write_text(json.dumps(found, indent=1))
    bad = {name: v for name, v in found.items() if v}
    assert not bad, f"axe-core violations ({scheme_name}): {counts}\n" + "\n".join(
        f"{name}:\n{describe(v)}" for name, v in bad.items()
    )


def test_focus_moves_to_the_page_heading_on_navigation(
    data: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, _ = data
    sign_in(page, server.base, ADMIN_KEY)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_focused()
    nav.get_by_role("link", name="Tasks", exact=True).click()
    expect(page.get_by_role("heading", name="Tasks", level=1)).to_be_focused()
    # A page whose heading comes with its data takes the focus when it arrives.
    page.get_by_role("link", name="a11y-bad", exact=True).click()
    expect(page.get_by_role("heading", name="a11y-bad", level=1)).to_be_focused()
    assert page.evaluate("document.activeElement.tabIndex") == -1  # focusable, not in the Tab order
    page.go_back()
    expect(page.get_by_role("heading", name="Tasks", level=1)).to_be_focused()
    # Filtering the list (the URL's query changes, not the page) leaves the focus in the field.
    search = page.get_by_role("textbox", name="Search", exact=True)
    search.fill("a11y")
    expect(search).to_be_focused()
    screenshot(page, "a11y-focus-heading")


def test_keyboard_shortcuts(data: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, _ = data
    sign_in(page, server.base, ADMIN_KEY)
    heading = page.get_by_role("heading", level=1)

    page.keyboard.press("g")
    page.keyboard.press("t")
    expect(page).to_have_url(re.compile(r"/tasks$"))
    page.keyboard.press("/")
    search = page.get_by_role("textbox", name="Search", exact=True)
    expect(search).to_be_focused()
    # While typing, keys are text: no navigation, no help.
    page.keyboard.type("g r ?")
    expect(search).to_have_value("g r ?")
    expect(page).to_have_url(re.compile(r"/tasks(\?.*)?$"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    search.fill("")

    heading.click()  # out of the field
    page.keyboard.press("g")
    page.keyboard.press("r")
    expect(page).to_have_url(re.compile(r"/runs$"))
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_focused()
    page.keyboard.press("g")
    page.keyboard.press("d")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    # `/` on a page without a search field goes to the task list's.
    page.keyboard.press("/")
    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_role("textbox", name="Search", exact=True)).to_be_focused()

    page.get_by_role("heading", name="Tasks", level=1).click()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    for what in ("Go to tasks", "Go to runs", "Go to the dashboard", "Show this help"):
        expect(dialog.get_by_text(what)).to_be_visible()
    expect(dialog.get_by_role("link", name="API docs")).to_have_attribute("href", "/api/docs")
    screenshot(page, "a11y-shortcuts-help")
    # Keys do nothing behind an open dialog.
    page.keyboard.press("g")
    page.keyboard.press("r")
    expect(page).to_have_url(re.compile(r"/tasks$"))
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    # The header links the API docs and the help.
    expect(page.get_by_role("link", name="API docs")).to_have_attribute("href", "/api/docs")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()


def test_a_new_tab_is_signed_in_by_the_cookie(data: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, made = data
    run_id = made["failed_run"]["id"]
    sign_in(page, server.base, ADMIN_KEY)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs", exact=True).click()
    with page.context.expect_page() as opened:
        page.get_by_role("link", name=f"#{run_id}", exact=True).click(modifiers=["Control"])
    tab = opened.value
    tab.wait_for_load_state()
    expect(tab).to_have_url(re.compile(rf"/runs/{run_id}$"))
    expect(tab.get_by_role("heading", name=f"Run #{run_id}", level=1)).to_be_visible()
    expect(tab.get_by_test_id("whoami")).to_contain_text("bootstrap admin")
    expect(tab.get_by_role("button", name="Sign in")).to_have_count(0)
    screenshot(tab, "a11y-new-tab-signed-in")
    # Without "remember", the cookie lasts until the browser closes.
    cookie = next(c for c in page.context.cookies() if c["name"] == "tasksched_session")
    assert cookie["expires"] == -1
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    # Signing out in one tab signs the other out too: its next call is refused.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    tab.reload()
    expect(tab.get_by_role("button", name="Sign in")).to_be_visible()
    expect(tab).to_have_url(re.compile(rf"/signin\?next=%2Fruns%2F{run_id}$"))
    tab.close()

    # "Remember on this device": the cookie outlives the browser (30 days).
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_label("Remember on this device for 30 days").check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("whoami")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "tasksched_session")
    assert cookie["expires"] > time.time() + 29 * 24 * 3600


def test_revoking_the_key_you_are_signed_in_with_warns_first(
    data: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, _ = data
    key = server.create_key("my own admin key", "admin")
    server.create_key("someone else's", "viewer")
    sign_in(page, server.base, key)
    page.goto(f"{server.base}/keys")
    page.get_by_role("button", name="Revoke someone else's").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Anything using this key loses access")
    expect(dialog.get_by_test_id("revoke-own-key")).to_have_count(0)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.get_by_role("button", name="Revoke my own admin key").click()
    dialog = page.get_by_role("dialog", name=re.compile("the key you are signed in with"))
    expect(dialog.get_by_test_id("revoke-own-key")).to_contain_text("signs you out")
    screenshot(page, "a11y-revoke-own-key")
    dialog.get_by_role("button", name="Revoke my key and sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text(re.compile("not accepted"))).to_be_visible()
