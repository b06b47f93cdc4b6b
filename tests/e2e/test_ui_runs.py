"""The runs page and the run page in Chromium against a real `tasksched serve` with real runs: the
filters and paging in the URL, pausing live updates, retry and cancel (one, selected, all matching),
the attempt chain, re-run / retry now, the queue wait, the ticking clock, a requested cancel, and the
log tools (wrap, copy, download, search, follow, the truncation notice)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

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

FAIL = ["/bin/sh", "-c", "echo working; echo 'upstream db-3: connection refused' >&2; exit 3"]
ERROR = "command exited with code 3"  # what the worker records of FAIL


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui-runs")) as srv:
        yield srv


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


def runs(server: Server, **params: Any) -> list[dict[str, Any]]:
    body = server.admin.get("/api/runs", params={"limit": 200, **params}).json()
    return list(body["items"])


def shell_task(server: Server, name: str, script: str, **spec: Any) -> dict[str, Any]:
    return server.create_task(
        name=name, action={"type": "shell", "command": ["/bin/sh", "-c", script]}, **spec
    )


def run_now(server: Server, task_id: int) -> dict[str, Any]:
    response = server.admin.post(f"/api/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    return dict(response.json())


def settled(server: Server, task_id: int) -> bool:
    """Every run of the task has finished (no attempt queued or running)."""
    items = runs(server, task_id=task_id)
    return bool(items) and all(r["finished_at"] for r in items)


def failing_task(server: Server, name: str, slots: int) -> dict[str, Any]:
    """A task that fails every time, two attempts a slot, retried at once; `slots` runs of it, settled."""
    task = server.create_task(
        name=name,
        action={"type": "shell", "command": FAIL},
        retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": 0},
    )
    for _ in range(slots):
        run_now(server, task["id"])
    wait_until(
        lambda: len(runs(server, task_id=task["id"])) == 2 * slots and settled(server, task["id"]), 30, name
    )
    return task


def rows(tab: Any) -> Any:
    return tab.get_by_test_id("run-row")


def shown(tab: Any) -> Any:
    """The rows, once the table has the answer to what it last asked (not the previous tab's)."""
    expect(tab.get_by_test_id("run-table")).to_have_attribute("aria-busy", "false")
    return rows(tab)


def row_ids(tab: Any) -> list[int]:
    return [int(r.get_attribute("data-run-id")) for r in rows(tab).all()]


def query_of(tab: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(tab.url).query)


def pick(tab: Any, label: str, option: str) -> None:
    """Choose an option of a Mantine (Multi)Select by its label (its box takes the click: force)."""
    tab.get_by_role("textbox", name=label, exact=True).click(force=True)
    tab.get_by_role("option", name=option, exact=True).click()
    tab.keyboard.press("Escape")


def confirm_dialog(tab: Any) -> Any:
    dialog = tab.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


# --------------------------------------------------------------------------------------------------


def test_runs_page_filters_columns_and_paging_live_in_the_url(
    server: Server,
    page: Any,  # noqa: F811
    listener: Listener,
) -> None:
    bad = failing_task(server, "orders-sync", slots=2)
    good = server.create_task(name="heartbeat-ok", action={"type": "http", "url": listener.url()})
    for _ in range(23):
        run_now(server, good["id"])
    wait_until(
        lambda: settled(server, good["id"]) and len(runs(server, task_id=good["id"])) == 23, 30, "23 runs"
    )

    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/runs")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()

    # The task picker searches the server as one types.
    picker = page.get_by_role("textbox", name="Task", exact=True)
    picker.click()
    picker.fill("orders")
    expect(page.get_by_role("option")).to_have_count(1)
    page.get_by_role("option", name="orders-sync").click()
    expect(page).to_have_url(re.compile(rf"task={bad['id']}"))
    expect(rows(page)).to_have_count(4)

    # Attempt "2 of 2" and the error's first line, as the API has them.
    api = {r["id"]: r for r in runs(server, task_id=bad["id"])}
    for row in rows(page).all():
        run = api[int(row.get_attribute("data-run-id"))]
        expect(row.get_by_test_id("run-attempt")).to_have_text(f"{run['attempt']} of 2")
        assert run["error"], run
        expect(row.get_by_test_id("run-error-snippet")).to_have_text(
            run["error"].strip().splitlines()[0][:79]
        )

    # Several statuses, several triggers: the retries only.
    pick(page, "Status", "failed")
    pick(page, "Status", "timed out")
    pick(page, "Trigger", "retry")
    expect(shown(page)).to_have_count(2)
    assert {r.get_attribute("data-status") for r in rows(page).all()} == {"failed"}
    assert query_of(page)["status"] == ["failed", "timed_out"]
    assert query_of(page)["trigger"] == ["retry"]
    screenshot(page, "runs-01-filtered")

    # The error-text search, and a time range before any of these runs: nothing matches.
    page.get_by_role("textbox", name="Error text").fill("EXITED with CODE 3")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=EXITED"))
    expect(shown(page)).to_have_count(2)
    page.get_by_role("textbox", name="Error text").fill("code 4")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No runs match.")).to_be_visible()
    page.get_by_role("textbox", name="Error text").fill("code 3")
    page.keyboard.press("Enter")
    expect(shown(page)).to_have_count(2)
    page.get_by_role("textbox", name="Scheduled before").fill("2020-01-01T00:00:00Z")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No runs match.")).to_be_visible()
    page.get_by_role("textbox", name="Scheduled before").fill("yesterday")
    page.keyboard.press("Enter")
    expect(page.get_by_text("ISO 8601 with an offset")).to_be_visible()
    assert query_of(page)["to"] == ["2020-01-01T00:00:00Z"]  # the bad text never reached the URL

    # A link reproduces the view (opened afresh: the key is kept per tab, so in this one).
    first = min(r["scheduled_for"] for r in api.values())
    view = f"{server.base}/runs?task={bad['id']}&status=failed&trigger=retry&trigger=manual&from={first.replace('+', '%2B')}&q=with%20code"
    page.goto("about:blank")
    page.goto(view)
    fresh = page
    expect(shown(fresh)).to_have_count(4)
    expect(fresh.get_by_role("textbox", name="Task", exact=True)).to_have_value("orders-sync")
    expect(fresh.get_by_role("textbox", name="Error text")).to_have_value("with code")
    expect(fresh.get_by_role("textbox", name="Scheduled from")).to_have_value(first)

    # Paging: the page and its size are in the URL, and a link to page 2 opens page 2.
    page.goto(f"{server.base}/runs?task={good['id']}")
    expect(page.get_by_role("table").get_by_text("23 runs")).to_be_visible()
    expect(rows(page)).to_have_count(20)
    page.get_by_role("button", name="Runs page 2").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(3)
    newest_three = [r["id"] for r in runs(server, task_id=good["id"])][20:]
    assert row_ids(page) == newest_three
    page.reload()
    expect(rows(page)).to_have_count(3)
    pick(page, "Runs per page", "50 per page")
    expect(page).to_have_url(re.compile(r"size=50"))
    assert "page" not in query_of(page)
    expect(rows(page)).to_have_count(23)
    screenshot(page, "runs-02-paging")


def test_pausing_live_updates_keeps_the_page_still(server: Server, page: Any, listener: Listener) -> None:  # noqa: F811
    task = server.create_task(name="pause-me", action={"type": "http", "url": listener.url()})
    run_now(server, task["id"])
    wait_until(lambda: settled(server, task["id"]), 20, "the first run")
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/runs?task={task['id']}")
    expect(page.get_by_test_id("live-state")).to_have_text("Live", timeout=15_000)
    expect(rows(page)).to_have_count(1)
    before = row_ids(page)

    # Live: a new run shows up without a reload.
    second = run_now(server, task["id"])
    expect(rows(page).first).to_have_attribute("data-run-id", str(second["id"]))

    # Paused: new runs do not move the page; Refresh or resuming brings them. A second tab, live,
    # shows when the events have arrived (rather than a guess at how long they take).
    watcher = page.context.new_page()  # signed in already: the session cookie reaches every tab
    watcher.goto(f"{server.base}/runs?task={task['id']}")
    expect(rows(watcher).first).to_have_attribute("data-run-id", str(second["id"]))
    page.get_by_role("switch", name="Live updates").uncheck()
    expect(page.get_by_test_id("paused-badge")).to_be_visible()
    third = run_now(server, task["id"])
    wait_until(lambda: settled(server, task["id"]), 20, "the third run")
    expect(rows(watcher).first).to_have_attribute("data-run-id", str(third["id"]))
    expect(rows(watcher).first).to_have_attribute("data-status", "succeeded")
    page.bring_to_front()  # a paused page refetches on focus no more than on events
    expect(rows(page)).to_have_count(2)
    assert row_ids(page) == [second["id"], *before]
    screenshot(page, "runs-03-paused")
    page.get_by_role("button", name="Refresh").click()
    expect(rows(page).first).to_have_attribute("data-run-id", str(third["id"]))
    fourth = run_now(server, task["id"])
    expect(rows(watcher).first).to_have_attribute("data-run-id", str(fourth["id"]))
    expect(rows(page).first).to_have_attribute("data-run-id", str(third["id"]))
    watcher.close()
    page.get_by_role("switch", name="Live updates").check()
    expect(page.get_by_test_id("paused-badge")).to_have_count(0)
    expect(rows(page).first).to_have_attribute("data-run-id", str(fourth["id"]))


def test_retry_and_cancel_one_selected_or_all_matching(server: Server, page: Any) -> None:  # noqa: F811
    task = failing_task(server, "billing-export", slots=3)
    sleeper = shell_task(server, "long-sleeper", "sleep 60")
    sign_in(page, server.base, ADMIN_KEY)

    # Cancel on a row: the running run is asked to stop.
    running = run_now(server, sleeper["id"])
    wait_until(lambda: runs(server, task_id=sleeper["id"])[0]["status"] == "running", 20, "a running run")
    page.goto(f"{server.base}/runs?task={sleeper['id']}")
    page.get_by_role("button", name=f"Cancel run #{running['id']}").click()
    confirm_dialog(page).get_by_role("button", name="Cancel run").click()
    wait_until(
        lambda: server.admin.get(f"/api/runs/{running['id']}").json()["status"] == "cancelled",
        20,
        "cancelled",
    )
    expect(rows(page).first).to_have_attribute("data-status", "cancelled")

    # Retry on a row: a run whose slot went on to a later attempt is skipped, and says why; the
    # last attempt of a slot gets a third.
    page.goto(f"{server.base}/runs?task={task['id']}")
    expect(rows(page)).to_have_count(6)
    items = runs(server, task_id=task["id"])
    first_attempt = next(r for r in items if r["attempt"] == 1)
    page.get_by_role("button", name=f"Retry run #{first_attempt['id']}").click()
    expect(page.get_by_text("its slot has a later attempt")).to_be_visible()
    last = next(
        r for r in items if r["attempt"] == 2 and r["scheduled_for"] == first_attempt["scheduled_for"]
    )
    page.get_by_role("button", name=f"Retry run #{last['id']}").click()
    expect(page.get_by_text(re.compile(rf"Run #{last['id']} retried: attempt 3 is run #\d+"))).to_be_visible()
    expect(rows(page)).to_have_count(7)
    wait_until(lambda: settled(server, task["id"]), 20, "the third attempt")

    # Bulk: the selected runs, after a confirmation that says how many.
    page.get_by_role("checkbox", name="Select the runs on this page").check()
    page.get_by_role("button", name="Retry selected (7)").click()
    dialog = confirm_dialog(page)
    expect(dialog).to_contain_text("7 selected runs")
    screenshot(page, "runs-04-confirm-selected")
    dialog.get_by_role("button", name="Retry 7 selected runs").click()
    report = page.get_by_test_id("retry-report")
    # Three slots: each one's last attempt is retried, every earlier one is skipped.
    expect(report).to_contain_text("The selected runs: 3 retried, 4 skipped")
    expect(report.get_by_test_id("retry-skipped").get_by_role("listitem")).to_have_count(4)
    screenshot(page, "runs-05-retry-report")
    wait_until(lambda: settled(server, task["id"]), 30, "the retries")

    # All matching: the filter's whole match, counted in the dialog and in the report.
    page.reload()
    pick(page, "Status", "failed")
    total = len(runs(server, task_id=task["id"], status="failed"))
    button = page.get_by_role("button", name=f"Retry all matching ({total} runs)")
    expect(button).to_be_enabled()
    button.click()
    dialog = confirm_dialog(page)
    expect(dialog).to_contain_text(f"all {total} runs")
    dialog.get_by_role("button", name=f"Retry all {total} runs").click()
    expect(report).to_contain_text(f"Every run the filter matches: 3 retried, {total - 3} skipped")
    wait_until(lambda: settled(server, task["id"]), 30, "the retries of all matching")
    after = runs(server, task_id=task["id"])
    assert max(r["attempt"] for r in after) == 5  # 2 by policy, then three by hand
    screenshot(page, "runs-06-retry-all-matching")


def test_run_page_attempts_rerun_retry_wait_and_a_requested_cancel(server: Server, page: Any) -> None:  # noqa: F811
    task = failing_task(server, "nightly-etl", slots=1)
    first, final = sorted(runs(server, task_id=task["id"]), key=lambda r: r["attempt"])
    sign_in(page, server.base, ADMIN_KEY)

    page.goto(f"{server.base}/runs/{final['id']}")
    expect(page.get_by_test_id("attempt-label")).to_have_text("attempt 2 of 2, final")
    expect(page.get_by_test_id("queue-wait")).to_have_text(re.compile(r"\d+(\.\d+)? (ms|s)$"))
    expect(page.get_by_test_id("run-error")).to_contain_text(ERROR)
    screenshot(page, "runs-07-attempt-chain")
    page.get_by_test_id("attempt-link").click()
    expect(page).to_have_url(re.compile(rf"/runs/{first['id']}$"))
    expect(page.get_by_test_id("attempt-label")).to_have_text("attempt 1 of 2, followed by attempt 2")
    expect(page.get_by_role("button", name="Retry now")).to_be_visible()

    # Retry now, on the last attempt: a third attempt of the same slot, opened.
    page.goto(f"{server.base}/runs/{final['id']}")
    page.get_by_role("button", name="Retry now").click()
    expect(page).not_to_have_url(re.compile(rf"/runs/{final['id']}$"))
    third = int(page.url.rsplit("/", 1)[1])
    api = server.admin.get(f"/api/runs/{third}").json()
    assert (api["attempt"], api["trigger"], api["scheduled_for"]) == (3, "retry", final["scheduled_for"])
    expect(page.get_by_test_id("attempt-label")).to_contain_text("attempt 3 (2 planned)")
    expect(page.get_by_test_id("attempt-chain").get_by_test_id("attempt-link")).to_have_count(2)

    # Re-run: a new manual run of the task, opened.
    page.get_by_role("button", name="Re-run task").click()
    expect(page).not_to_have_url(re.compile(rf"/runs/{third}$"))
    rerun = server.admin.get(f"/api/runs/{int(page.url.rsplit('/', 1)[1])}").json()
    assert (rerun["task_id"], rerun["trigger"], rerun["attempt"]) == (task["id"], "manual", 1)

    # While it runs the clock ticks; a cancel someone asked for is said as such, not as an error.
    sleeper = shell_task(server, "slow-report", "echo started; sleep 60")
    running = run_now(server, sleeper["id"])
    page.goto(f"{server.base}/runs/{running['id']}")
    expect(page.get_by_test_id("run-status")).to_have_text("running", timeout=15_000)
    elapsed = page.get_by_test_id("run-elapsed")
    shown = elapsed.inner_text()
    expect(elapsed).not_to_have_text(shown, timeout=5_000)
    expect(page.get_by_text("Running for")).to_be_visible()
    screenshot(page, "runs-08-running-clock")
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("cancelled", timeout=15_000)
    notice = page.get_by_test_id("cancel-notice")
    expect(notice).to_contain_text("Cancelled by key:bootstrap admin.")
    expect(page.get_by_test_id("run-error")).to_have_count(0)
    assert (
        server.admin.get(f"/api/runs/{running['id']}").json()["reason"]
        == "cancel requested by key:bootstrap admin"
    )
    screenshot(page, "runs-09-cancel-requested")

    # A retry waiting out its backoff has not waited in the queue yet: it says when it can start.
    patient = server.create_task(
        name="patient-retry",
        action={"type": "shell", "command": FAIL},
        retry={"max_attempts": 2, "backoff_seconds": 3600, "jitter": 0},
    )
    run_now(server, patient["id"])
    wait_until(lambda: len(runs(server, task_id=patient["id"])) == 2, 20, "the backed-off retry")
    waiting = runs(server, task_id=patient["id"])[0]
    assert (waiting["status"], waiting["attempt"]) == ("queued", 2)
    page.goto(f"{server.base}/runs/{waiting['id']}")
    expect(page.get_by_test_id("queue-wait")).to_contain_text("not due yet: it can start at")
    expect(page.get_by_test_id("attempt-label")).to_have_text("attempt 2 of 2")
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("cancel-notice")).to_contain_text("Cancelled by key:bootstrap admin.")
    expect(page.get_by_test_id("attempt-label")).to_have_text("attempt 2 of 2, final")


def test_log_tools_wrap_copy_download_search_follow_and_truncation(server: Server, page: Any) -> None:  # noqa: F811
    lines = shell_task(
        server, "printer", 'i=0; while [ $i -lt 120 ]; do i=$((i+1)); echo "line $i of the log"; done'
    )
    done = run_now(server, lines["id"])
    wait_until(lambda: settled(server, lines["id"]), 20, "the printer")
    output = server.admin.get(f"/api/runs/{done['id']}").json()["output"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    sign_in(page, server.base, ADMIN_KEY)
    page.goto(f"{server.base}/runs/{done['id']}")
    log = page.get_by_test_id("run-output")
    expect(log).to_contain_text("line 120 of the log")

    # Search: every match highlighted and counted, stepping through them.
    search = page.get_by_role("textbox", name="Search the output")
    search.fill("line 11")
    count = output.count("line 11")  # line 11, 110-119
    expect(page.get_by_test_id("output-matches")).to_have_text(f"1 of {count}")
    expect(log.locator("mark")).to_have_count(count)
    page.get_by_role("button", name="Next match").click()
    expect(page.get_by_test_id("output-matches")).to_have_text(f"2 of {count}")
    expect(log.locator("mark[data-current]")).to_have_text("line 11")
    screenshot(page, "runs-10-log-search")
    search.fill("")

    # Wrap off: long lines scroll sideways.
    assert log.evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"
    page.get_by_role("switch", name="Wrap lines").uncheck()
    assert log.evaluate("el => getComputedStyle(el).whiteSpace") == "pre"

    # Copy and download give the whole kept output.
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Output copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == output
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename == f"run-{done['id']}-output.txt"
    assert Path(download.path()).read_text(encoding="utf-8") == output

    # Follow: at the end while output grows; scrolling up to read stops it; switching it on returns.
    grower = shell_task(
        server, "grower", "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo tick $i; sleep 0.2; done"
    )
    live = run_now(server, grower["id"])
    page.goto(f"{server.base}/runs/{live['id']}")
    log = page.get_by_test_id("run-output")
    expect(log).to_contain_text("tick 40", timeout=20_000)
    at_end = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 24"
    assert log.evaluate(at_end)
    follow = page.get_by_role("switch", name="Follow")
    expect(follow).to_be_checked()
    log.evaluate("el => { el.scrollTop = 0; }")
    expect(follow).not_to_be_checked()
    expect(log).to_contain_text("tick 50", timeout=20_000)
    assert log.evaluate("el => el.scrollTop") == 0  # the reader stays where they are
    follow.check()
    expect(log).to_contain_text("tick 55", timeout=20_000)
    wait_until(lambda: bool(log.evaluate(at_end)), 5, "the log to follow again")
    screenshot(page, "runs-11-log-follow")
    server.admin.post(f"/api/runs/{live['id']}/cancel")

    # Truncation: 200 KB printed, 64 KiB kept; the notice stays at the top of the log as one reads.
    big = shell_task(
        server,
        "chatty",
        'i=0; while [ $i -lt 4000 ]; do i=$((i+1)); echo "chatty line $i padded out to fifty bytes"; done',
    )
    clipped = run_now(server, big["id"])
    wait_until(lambda: settled(server, big["id"]), 30, "the chatty run")
    kept = server.admin.get(f"/api/runs/{clipped['id']}").json()["output"]
    assert kept.startswith("[… ")  # the server's note of the cut
    page.goto(f"{server.base}/runs/{clipped['id']}")
    notice = page.get_by_test_id("output-truncated")
    expect(notice).to_contain_text("Output truncated: only its end was kept")
    log = page.get_by_test_id("run-output")
    log.evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
    box, note = log.bounding_box(), notice.bounding_box()
    assert box["y"] <= note["y"] <= box["y"] + 20, (box, note)  # pinned where the reader is
    screenshot(page, "runs-12-log-truncated")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    assert Path(info.value.path()).read_text(encoding="utf-8") == kept
