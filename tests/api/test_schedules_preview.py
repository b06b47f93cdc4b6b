"""/api/schedules/preview: next fire times in UTC and local time, a description, DST notes; 422s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import VIEWER, assert_problem, send_without_auth, snapshot

PREVIEW = "/api/schedules/preview"


async def preview(api: httpx.AsyncClient, schedule: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = await api.post(PREVIEW, json={"schedule": schedule, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_interval_preview_counts_from_now_by_default(frozen_api: httpx.AsyncClient) -> None:
    body = await preview(frozen_api, {"type": "interval", "seconds": 90})

    assert body["description"] == "every 1 minute 30 seconds"
    assert body["timezone"] == "UTC"
    assert len(body["fire_times"]) == 10
    assert body["fire_times"][0] == {"utc": "2026-06-01T12:01:30Z", "local": "2026-06-01T12:01:30Z"}
    assert body["fire_times"][9]["utc"] == "2026-06-01T12:15:00Z"
    assert body["dst_notes"] == []  # real elapsed time: clock changes do not move an interval


async def test_count_and_after_choose_the_window(api: httpx.AsyncClient) -> None:
    body = await preview(
        api, {"type": "cron", "expression": "0 9 * * MON-FRI"}, count=3, after="2026-01-02T10:00:00+00:00"
    )
    assert [t["utc"] for t in body["fire_times"]] == [
        "2026-01-05T09:00:00Z",
        "2026-01-06T09:00:00Z",
        "2026-01-07T09:00:00Z",
    ]
    assert "09:00" in body["description"]
    assert body["description"].endswith("(UTC)")


async def test_local_times_are_in_the_schedules_zone(api: httpx.AsyncClient) -> None:
    body = await preview(
        api,
        {"type": "cron", "expression": "0 8 * * *", "timezone": "America/New_York"},
        count=2,
        after="2026-07-01T00:00:00Z",
    )
    assert body["timezone"] == "America/New_York"
    assert body["fire_times"] == [
        {"utc": "2026-07-01T12:00:00Z", "local": "2026-07-01T08:00:00-04:00"},
        {"utc": "2026-07-02T12:00:00Z", "local": "2026-07-02T08:00:00-04:00"},
    ]
    # The year's changes are named even though neither touches an 08:00 run.
    assert [note[:10] for note in body["dst_notes"]] == ["2026-11-01", "2027-03-14"]
    assert all("no run of this schedule falls in the" in note for note in body["dst_notes"])


async def test_a_fixed_time_in_the_skipped_hour_runs_right_after_the_jump(api: httpx.AsyncClient) -> None:
    body = await preview(
        api,
        {"type": "cron", "expression": "30 2 * * *", "timezone": "Europe/Berlin"},
        count=3,
        after="2026-03-27T12:00:00Z",
    )
    assert body["fire_times"] == [
        {"utc": "2026-03-28T01:30:00Z", "local": "2026-03-28T02:30:00+01:00"},
        {"utc": "2026-03-29T01:00:00Z", "local": "2026-03-29T03:00:00+02:00"},
        {"utc": "2026-03-30T00:30:00Z", "local": "2026-03-30T02:30:00+02:00"},
    ]
    note = body["dst_notes"][0]  # the change ahead first, then the rest of the year's
    assert note.startswith("2026-03-29: clocks go forward 02:00→03:00 (Europe/Berlin)")
    assert "02:30" in note
    assert "03:00" in note


async def test_a_fixed_time_in_the_repeated_hour_runs_once(api: httpx.AsyncClient) -> None:
    body = await preview(
        api,
        {"type": "cron", "expression": "30 2 * * *", "timezone": "Europe/Berlin"},
        count=2,
        after="2026-10-24T12:00:00Z",
    )
    assert body["fire_times"] == [
        {"utc": "2026-10-25T00:30:00Z", "local": "2026-10-25T02:30:00+02:00"},
        {"utc": "2026-10-26T01:30:00Z", "local": "2026-10-26T02:30:00+01:00"},
    ]
    note = body["dst_notes"][0]  # the change ahead first, then the rest of the year's
    assert note.startswith("2026-10-25: clocks go back 03:00→02:00 (Europe/Berlin)")
    assert note.endswith("happens once.")


async def test_a_wildcard_hour_schedule_keeps_its_real_cadence(api: httpx.AsyncClient) -> None:
    body = await preview(
        api,
        {"type": "cron", "expression": "0 * * * *", "timezone": "Europe/Berlin"},
        count=3,
        after="2026-03-29T00:30:00Z",
    )
    # 02:00 local does not exist that night: one hour after 01:00+01:00 is 03:00+02:00.
    assert [t["local"] for t in body["fire_times"]] == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
        "2026-03-29T05:00:00+02:00",
    ]
    assert [t["utc"] for t in body["fire_times"]] == [
        "2026-03-29T01:00:00Z",
        "2026-03-29T02:00:00Z",
        "2026-03-29T03:00:00Z",
    ]


async def test_notes_cover_twelve_months_whatever_the_count(api: httpx.AsyncClient) -> None:
    body = await preview(
        api,
        {"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
        count=10,
        after="2026-12-01T15:00:00Z",
    )
    assert body["fire_times"][-1]["utc"] == "2026-12-11T07:30:00Z"
    assert body["dst_notes"] == [
        "2027-03-14: clocks go forward 02:00→03:00 (America/New_York); the 02:30 run happens at 03:00.",
        "2027-11-07: clocks go back 02:00→01:00 (America/New_York); no run of this schedule falls in the "
        "repeated time.",
    ]


async def test_a_schedule_that_ends_warns_about_the_year_ahead(api: httpx.AsyncClient) -> None:
    body = await preview(
        api,
        {
            "type": "cron",
            "expression": "30 2 * * *",
            "timezone": "Europe/Berlin",
            "end_at": "2026-01-03T00:00:00Z",
        },
        after="2026-01-01T00:00:00Z",
    )
    assert len(body["fire_times"]) == 2
    assert len(body["dst_notes"]) == 2  # March and October of the year ahead
    assert "until 2026-01-03 00:00 UTC" in body["description"]


async def test_once_previews_one_time_or_none_when_past(frozen_api: httpx.AsyncClient) -> None:
    future = await preview(frozen_api, {"type": "once", "at": "2026-06-02T08:00:00+02:00"})
    assert future["fire_times"] == [{"utc": "2026-06-02T06:00:00Z", "local": "2026-06-02T06:00:00Z"}]
    past = await preview(frozen_api, {"type": "once", "at": "2026-05-01T00:00:00Z"})
    assert past["fire_times"] == []
    assert past["description"] == "once at 2026-05-01 00:00 UTC"


@pytest.mark.parametrize(
    "expression", ["@daily", "@HOURLY", "*/15 * * * * *", "0 0 L * *", "0 0 * * 5L", "0 0 * * MON#1"]
)
async def test_cron_forms_the_editor_offers_are_previewed(api: httpx.AsyncClient, expression: str) -> None:
    body = await preview(api, {"type": "cron", "expression": expression}, count=5)
    assert len(body["fire_times"]) == 5
    assert body["description"]


async def test_up_to_100_fire_times(api: httpx.AsyncClient) -> None:
    body = await preview(api, {"type": "interval", "seconds": 1}, count=100)
    assert len(body["fire_times"]) == 100


async def test_a_viewer_may_preview_and_nothing_is_written(api: httpx.AsyncClient) -> None:
    before = await snapshot(api)
    response = await api.post(PREVIEW, json={"schedule": {"type": "interval", "seconds": 60}}, headers=VIEWER)
    assert response.status_code == 200
    assert await snapshot(api) == before


async def test_the_description_uses_english_ordinals(api: httpx.AsyncClient) -> None:
    body = await preview(
        api, {"type": "cron", "expression": "*/21 * * * *"}, count=3, after="2026-01-01T00:00:00Z"
    )
    assert body["description"] == "Every 21st minute of every hour (UTC)"
    assert [t["utc"] for t in body["fire_times"]] == [
        "2026-01-01T00:21:00Z",
        "2026-01-01T00:42:00Z",
        "2026-01-01T01:00:00Z",
    ]


async def test_preview_needs_a_key(api: httpx.AsyncClient) -> None:
    response = await send_without_auth(
        api, "POST", PREVIEW, json={"schedule": {"type": "interval", "seconds": 60}}
    )
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("body", "field", "mentions"),
    [
        ({"schedule": {"type": "cron", "expression": "0 0 30 2 *"}}, "schedule.expression", "can never fire"),
        ({"schedule": {"type": "cron", "expression": "every day"}}, "schedule.expression", "expected 5 fields"),
        # Steps beyond the field: the preview said "Every 61th minute" while listing hourly times.
        ({"schedule": {"type": "cron", "expression": "*/61 * * * *"}}, "schedule.expression", "(1-60)"),
        ({"schedule": {"type": "cron", "expression": "*/99999999999999999999 * * * *"}}, "schedule.expression", "(1-60)"),
        ({"schedule": {"type": "cron", "expression": "0 */25 * * *"}}, "schedule.expression", "(1-24)"),
        ({"schedule": {"type": "cron", "expression": "0 0 * * *", "timezone": "Moon/Base"}}, "schedule.timezone", "Moon/Base"),
        ({"schedule": {"type": "interval", "seconds": -60}}, "schedule.seconds", None),
        ({"schedule": {"type": "interval"}}, "schedule.seconds", "field required"),
        ({"schedule": {"type": "once", "at": "2026-01-01T00:00:00"}}, "schedule.at", "timezone"),
        ({"schedule": {"type": "fortnightly"}}, "schedule", "unknown type"),
        ({"schedule": None}, "schedule", None),
        ({}, "schedule", "field required"),
        ({"schedule": {"type": "interval", "seconds": 60}, "count": 0}, "count", None),
        ({"schedule": {"type": "interval", "seconds": 60}, "count": 101}, "count", None),
        ({"schedule": {"type": "interval", "seconds": 60}, "after": "2026-01-01T00:00:00"}, "after", "timezone"),
        ({"schedule": {"type": "interval", "seconds": 60}, "after": "soon"}, "after", None),
        ({"schedule": {"type": "interval", "seconds": 60}, "colour": "red"}, "colour", "unknown field"),
    ],
)  # fmt: skip
async def test_an_invalid_preview_is_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str, mentions: str | None
) -> None:
    assert_problem(await api.post(PREVIEW, json=body), 422, field=field, mentions=mentions)


# --- the edges of the calendar: schedules live in the years 1970-9000 -------------------------

EDGE_CASES = [
    pytest.param(
        {"schedule": {"type": "interval", "seconds": 31_622_400}, "after": "9999-12-31T00:00:00Z"},
        "after",
        id="interval-past-9999",
    ),
    pytest.param(
        {"schedule": {"type": "cron", "expression": "@yearly"}, "after": "9999-06-01T00:00:00Z"},
        "after",
        id="cron-past-9999",
    ),
    pytest.param(
        {
            "schedule": {"type": "cron", "expression": "* * * * *", "timezone": "Pacific/Kiritimati"},
            "after": "9999-12-31T00:00:00Z",
            "count": 100,
        },
        "after",
        id="dst-notes-past-9999",
    ),
    pytest.param(
        {"schedule": {"type": "once", "at": "0001-01-01T00:00:00+01:00"}},
        "schedule.at",
        id="once-before-year-1-utc",
    ),
    pytest.param(
        {
            "schedule": {"type": "cron", "expression": "0 0 * * *", "timezone": "Europe/Berlin"},
            "after": "0001-01-01T00:00:00Z",
            "count": 2,
        },
        "after",
        id="cron-in-year-1",
    ),
    pytest.param(
        {"schedule": {"type": "interval", "seconds": 60, "end_at": "9500-01-01T00:00:00Z"}},
        "schedule.end_at",
        id="window-ends-after-9000",
    ),
]


@pytest.mark.parametrize(("body", "field"), EDGE_CASES)
async def test_dates_at_the_edge_of_the_calendar_are_refused_by_name(
    server_api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(await server_api.post(PREVIEW, json=body), 422, field=field, mentions="between the years")


async def test_the_last_supported_year_still_previews(server_api: httpx.AsyncClient) -> None:
    body = {
        "schedule": {"type": "cron", "expression": "@yearly", "timezone": "Pacific/Kiritimati"},
        "after": "9000-06-01T00:00:00Z",
        "count": 3,
    }
    response = await server_api.post(PREVIEW, json=body)
    assert response.status_code == 200, response.text
    assert [t["utc"][:4] for t in response.json()["fire_times"]] == ["9000", "9001", "9002"]
