"""The web UI on a phone (issue 8, point 11), in Debian's Chromium at 390 by 844 against a real
`tasksched serve` with real tasks and runs: no page scrolls sideways or pushes anything past the
screen's right edge, the task and run lists are cards, the filters fold behind a "Filters (N active)"
button that opens on a tap, the navigation is a burger menu, and a card's actions work."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ui_helpers import (
    ADMIN_KEY,
    Listener,
    Server,
    browser_page,
    expect,
    running_server,
    screenshot,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTH, HEIGHT = 390, 844
BROWSER_ZONE = "America/New_York"
# One unbroken 600-character word in the output: the log box must wrap or scroll it, never the page.
LONG_LINE = "x" * 600
LONG_NAME = "nightly-warehouse-export-of-the-customer-orders-table-to-cold-storage"

# Every visible element whose box reaches past the viewport's right edge, unless a box that scrolls
# sideways on purpose (overflow-x auto or scroll) and itself ends inside the viewport clips it. That box
# clips the element only if it lies on the element's containing-block chain: an absolutely positioned
# descendant whose positioned ancestor is outside the box (a visually-hidden label in a table cell, say)
# escapes it and widens the page, and a fixed one is never clipped. Elements that take no space, are
# hidden, or sit wholly left of the screen (a closed drawer, the skip link) do not count.
OFFENDERS = """
(width) => {
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const clippedBy = (el, box) => {
    let node = el;
    while (node && node !== box) {
      const position = getComputedStyle(node).position;
      if (position === 'fixed') return false;
      if (position === 'absolute') {
        const block = node.offsetParent;
        if (!block || !(block === box || box.contains(block))) return false;
        node = block;
      } else node = node.parentElement;
    }
    return node === box;
  };
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= width + 0.5) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== 'visible' || style.display === 'none') continue;
    let scroller = el.parentElement;
    while (scroller && scroller !== document.body && !scrolls(scroller)) scroller = scroller.parentElement;
    const onPurpose = scroller && scroller !== document.body && clippedBy(el, scroller)
      && scroller.getBoundingClientRect().right <= width + 0.5;
    if (onPurpose) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).slice(0, 3).join('.') : '');
    found.push(`${name} [${Math.round(box.left)}..${Math.round(box.right)}] ${(el.textContent || '').trim().slice(0, 40)}`);
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """Tasks of every kind (long name, tags, paused, cron, failing) with finished runs, a run with a
    very long output line, a key, a notification channel and the audit entries all of that wrote."""
    with running_server(tmp_path_factory.mktemp("ui-phone")) as server, Listener() as listener:
        ok = server.create_task(
            name=LONG_NAME,
            description="Calls the local listener",
            tags=["nightly", "reports", "warehouse", "cold-storage", "finance"],
            action={"type": "http", "url": listener.url()},
            schedule={"type": "interval", "seconds": 3600},
        )
        bad = server.create_task(
            name="phone-bad",
            action={"type": "http", "url": "http://127.0.0.1:1/"},
            schedule={"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
            retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": 0},
        )
        chatty = server.create_task(
            name="phone-chatty",
            action={
                "type": "shell",
                "command": ["/bin/sh", "-c", f"echo start; echo {LONG_LINE}; echo done"],
            },
        )
        paused = server.create_task(
            name="phone-paused",
            action={"type": "http", "url": listener.url()},
            schedule={"type": "interval", "seconds": 600},
        )
        assert server.admin.post(f"/api/tasks/{paused['id']}/pause").status_code == 200
        for task, count in ((ok, 3), (bad, 2), (chatty, 1)):
            for _ in range(count):
                assert server.admin.post(f"/api/tasks/{task['id']}/run").status_code == 202

        def settled() -> bool:
            items = server.admin.get("/api/runs", params={"limit": 50}).json()["items"]
            return len(items) >= 8 and all(r["finished_at"] for r in items)

        wait_until(settled, 30, "eight finished runs")
        runs = server.admin.get("/api/runs", params={"limit": 50}).json()["items"]
        failed = next(r for r in runs if r["status"] == "failed")
        long_output = next(r for r in runs if r["task_id"] == chatty["id"])
        server.create_key("phone viewer with a rather long descriptive name", "viewer")
        channel = server.admin.post(
            "/api/channels",
            json={"name": "ops hook", "config": {"type": "json", "url": listener.url("/notify")}},
        )
        assert channel.status_code == 201, channel.text
        yield server, {"ok": ok, "bad": bad, "paused": paused, "failed_run": failed, "long_run": long_output}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with browser_page(
        browser,
        viewport={"width": WIDTH, "height": HEIGHT},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        timezone_id=BROWSER_ZONE,
    ) as page:
        yield page


def sign_in(page: Any, base: str, key: str) -> None:
    """As ui_helpers.sign_in, but the name shown in the header is hidden on a phone: wait for it to exist."""
    page.goto(f"{base}/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").tap()
    page.get_by_test_id("whoami").wait_for(state="attached")


def assert_fits(page: Any, name: str) -> None:
    # A phone browser widens its layout viewport (zooming out) to fit content that is too wide.
    inner_width = page.evaluate("window.innerWidth")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    offenders = page.evaluate(OFFENDERS, WIDTH)
    fits = inner_width == WIDTH and scroll_width <= WIDTH and not offenders
    assert fits, (
        f"{name}: the layout is {inner_width} px and the page {scroll_width} px wide; past the right edge:\n"
        + "\n".join(offenders[:15])
    )


def routes(made: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, path, the heading that says the page is drawn)."""
    ok, bad = made["ok"], made["bad"]
    return [
        ("dashboard", "/", "Dashboard"),
        ("tasks", "/tasks", "Tasks"),
        ("task", f"/tasks/{bad['id']}", "phone-bad"),
        ("task-long-name", f"/tasks/{ok['id']}", LONG_NAME),
        ("editor-new", "/tasks/new", "New task"),
        ("editor-edit", f"/tasks/{ok['id']}/edit", f"Edit \u201c{LONG_NAME}\u201d"),
        ("runs", "/runs", "Runs"),
        ("run", f"/runs/{made['failed_run']['id']}", f"Run #{made['failed_run']['id']}"),
        ("run-long-output", f"/runs/{made['long_run']['id']}", f"Run #{made['long_run']['id']}"),
        ("timeline", "/timeline", "Timeline"),
        ("timeline-week-overall", "/timeline?range=7d&mode=overall", "Timeline"),
        ("upcoming", "/upcoming", "Upcoming runs"),
        ("upcoming-week", "/upcoming?view=week", "Upcoming runs"),
        ("workers", "/workers", "Workers"),
        ("status", "/status", "Status"),
        ("notifications", "/notifications", "Notifications"),
        ("keys", "/keys", "API keys"),
        ("audit", "/audit", "Audit log"),
        ("not-found", "/no/such/page", "Page not found"),
    ]


def test_no_page_is_wider_than_a_phone(data: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, made = data
    page.goto(f"{server.base}/signin")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert_fits(page, "signin")
    sign_in(page, server.base, ADMIN_KEY)
    for name, path, heading in routes(made):
        page.goto(f"{server.base}{path}")
        expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        screenshot(page, f"phone-{name}")
        assert_fits(page, name)
    # The long output line wraps inside the log box; unwrapped, the box scrolls sideways (on purpose:
    # overflow auto), never the page.
    page.goto(f"{server.base}/runs/{made['long_run']['id']}")
    log = page.locator(".run-output")
    expect(log).to_contain_text(LONG_LINE)
    log.scroll_into_view_if_needed()
    assert log.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert_fits(page, "run-long-output")
    page.get_by_role("switch", name="Wrap lines").tap()
    expect(log).to_have_css("white-space", "pre")
    assert log.evaluate("el => el.scrollWidth > el.clientWidth && getComputedStyle(el).overflowX === 'auto'")
    screenshot(page, "phone-run-long-output-unwrapped")
    assert_fits(page, "run-long-output-unwrapped")


def test_the_navigation_is_a_burger_menu(data: tuple[Server, dict[str, Any]], page: Any) -> None:
    server, _ = data
    sign_in(page, server.base, ADMIN_KEY)
    nav = page.get_by_role("navigation", name="Main")
    runs_link = nav.get_by_role("link", name="Runs", exact=True)
    expect(runs_link).not_to_be_in_viewport()
    page.get_by_role("button", name="Toggle navigation").tap()
    expect(runs_link).to_be_in_viewport()
    expect(nav.get_by_role("link", name="API docs")).to_have_attribute("href", "/api/docs")
    expect(page.get_by_test_id("whoami-menu")).to_have_text("Signed in as bootstrap admin (admin)")
    screenshot(page, "phone-burger-open")
    assert_fits(page, "burger-open")
    runs_link.tap()
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_visible()
    expect(runs_link).not_to_be_in_viewport()


def test_the_task_list_is_cards_with_folded_filters_and_working_actions(
    data: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, made = data
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/tasks")
    cards = page.get_by_test_id("task-card")
    expect(cards).to_have_count(4)
    expect(page.get_by_test_id("task-table")).to_have_count(0)
    card = cards.filter(has=page.get_by_role("link", name=LONG_NAME, exact=True))
    for label in ("Schedule", "Next run", "Last run", "Recent runs"):
        expect(card.get_by_text(label, exact=True)).to_be_visible()
    expect(card.get_by_test_id("run-strip")).to_be_visible()
    expect(card.get_by_role("button", name="Filter by tag cold-storage")).to_be_visible()
    expect(cards.filter(has_text="phone-paused").get_by_text("paused", exact=True)).to_be_visible()

    # The filters are folded; a tap opens them, and the button counts what narrows the list.
    toggle = page.get_by_test_id("filters-toggle")
    expect(toggle).to_have_text("Filters")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    search = page.get_by_role("textbox", name="Search", exact=True)
    expect(search).to_be_hidden()
    toggle.tap()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(search).to_be_visible()
    screenshot(page, "phone-tasks-filters-open")
    assert_fits(page, "tasks-filters-open")
    search.fill("phone-")
    expect(cards).to_have_count(3)
    page.get_by_role("combobox", name="State").select_option("false")
    expect(cards).to_have_count(1)
    expect(toggle).to_have_text("Filters (2 active)")
    toggle.tap()
    expect(search).to_be_hidden()
    expect(toggle).to_have_text("Filters (2 active)")

    # Run now and pause from a card.
    page.goto(f"{server.base}/tasks")
    expect(cards).to_have_count(4)
    bad = made["bad"]
    before = server.admin.get("/api/runs", params={"task_id": bad["id"]}).json()["total"]
    bad_card = page.locator(f'[data-testid="task-card"][data-task-id="{bad["id"]}"]')
    bad_card.get_by_role("button", name="Run phone-bad now").tap()
    expect(page.get_by_text("Run queued for “phone-bad”.")).to_be_visible()
    wait_until(
        lambda: server.admin.get("/api/runs", params={"task_id": bad["id"]}).json()["total"] > before,
        10,
        "the run queued from the card",
    )
    bad_card.get_by_role("button", name="Pause phone-bad").tap()
    expect(bad_card.get_by_role("button", name="Resume phone-bad")).to_be_visible()
    assert server.admin.get(f"/api/tasks/{bad['id']}").json()["enabled"] is False
    screenshot(page, "phone-tasks-card-paused")
    bad_card.get_by_role("button", name="Resume phone-bad").tap()
    expect(bad_card.get_by_role("button", name="Pause phone-bad")).to_be_visible()
    assert server.admin.get(f"/api/tasks/{bad['id']}").json()["enabled"] is True

    # Selection works on cards: the bulk bar counts them.
    bad_card.get_by_role("checkbox", name="Select phone-bad").tap()
    expect(page.get_by_role("region", name="Bulk actions")).to_contain_text("1 selected")
    page.get_by_role("checkbox", name="Select all tasks on this page").tap()
    expect(page.get_by_role("region", name="Bulk actions")).to_contain_text("4 selected")
    screenshot(page, "phone-tasks-selected")
    assert_fits(page, "tasks-selected")


def test_run_lists_are_cards_with_folded_filters_and_row_actions(
    data: tuple[Server, dict[str, Any]], page: Any
) -> None:
    server, made = data
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/runs")
    cards = page.get_by_test_id("run-card")
    expect(cards.first).to_be_visible()
    expect(page.get_by_test_id("run-table")).to_have_count(0)
    total = server.admin.get("/api/runs").json()["total"]
    expect(cards).to_have_count(total)

    failed = made["failed_run"]
    card = page.locator(f'[data-testid="run-card"][data-run-id="{failed["id"]}"]')
    expect(card.get_by_role("link", name=f"#{failed['id']}", exact=True)).to_be_visible()
    expect(card.get_by_role("link", name="phone-bad", exact=True)).to_be_visible()
    expect(card.get_by_test_id("run-attempt")).to_have_text(re.compile(r"^\d of 2$"))
    expect(card.get_by_test_id("run-error-snippet")).not_to_be_empty()

    toggle = page.get_by_test_id("filters-toggle")
    expect(toggle).to_have_text("Filters")
    status = page.get_by_role("textbox", name="Status", exact=True)
    expect(status).to_be_hidden()
    toggle.tap()
    expect(status).to_be_visible()
    status.click(force=True)
    page.get_by_role("option", name="failed", exact=True).tap()
    page.keyboard.press("Escape")
    expect(toggle).to_have_text("Filters (1 active)")
    expect(page).to_have_url(re.compile(r"status=failed"))
    failed_total = server.admin.get("/api/runs", params={"status": "failed"}).json()["total"]
    expect(cards).to_have_count(failed_total)
    for each in cards.all():
        expect(each).to_have_attribute("data-status", "failed")
    screenshot(page, "phone-runs-filtered")
    assert_fits(page, "runs-filtered")

    # Retry from a card: a new attempt of that run's slot is queued.
    card.get_by_role("button", name=f"Retry run #{failed['id']}").tap()
    expect(page.get_by_text(re.compile(rf"Run #{failed['id']} retried"))).to_be_visible()
    retried = server.admin.get("/api/runs", params={"task_id": failed["task_id"], "trigger": "retry"}).json()
    assert retried["total"] >= 1

    # Selecting cards feeds the bulk retry.
    card.get_by_role("checkbox", name=f"Select run #{failed['id']}").tap()
    expect(page.get_by_role("button", name="Retry selected (1)")).to_be_enabled()

    # The task page's run history is cards too.
    page.goto(f"{server.base}/tasks/{made['bad']['id']}")
    expect(page.get_by_role("heading", name="phone-bad", level=1)).to_be_visible()
    expect(page.get_by_test_id("run-cards")).to_be_visible()
    expect(page.get_by_test_id("run-table")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert_fits(page, "task-runs")
