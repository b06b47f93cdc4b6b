"""RESULTS-peers.md and the chart, from the harness's raw document (pure rendering, unit-tested)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.peers.stats import median, ratio

# (metric, column heading, format) in the medians table.
COLUMNS: list[tuple[str, str, str]] = [
    ("enqueue_jobs_s", "enqueue jobs/s", "{:,.0f}"),
    ("enqueue_bulk_jobs_s", "bulk enqueue jobs/s", "{:,.0f}"),
    ("drain_jobs_s", "drain jobs/s", "{:,.0f}"),
    ("drain_steady_jobs_s", "steady jobs/s", "{:,.0f}"),
    ("first_job_s", "first job s", "{:.2f}"),
    ("late_p50_ms", "late p50 ms", "{:,.0f}"),
    ("late_p99_ms", "late p99 ms", "{:,.0f}"),
    ("late_max_ms", "late max ms", "{:,.0f}"),
    ("late_ran", "ran", "{:,.0f}"),
    ("worker_cpu_ms_per_job", "worker CPU ms/job", "{:.2f}"),
    ("worker_rss_mb", "RSS MB", "{:,.0f}"),
    ("worker_pss_mb", "PSS MB", "{:,.0f}"),
]
API_COLUMNS: list[tuple[str, str, str]] = [
    ("api_get_tasks_rps", "GET /api/tasks?limit=50 req/s", "{:,.0f}"),
    ("control_get_tasks_rps", "Starlette control req/s", "{:,.0f}"),
    ("api_get_vs_control", "tasksched / control", "{:.2f}"),
    ("api_post_tasks_rps", "POST /api/tasks req/s", "{:,.0f}"),
    ("api_post_run_rps", "POST …/run req/s", "{:,.0f}"),
    ("api_non_2xx", "non-2xx", "{:,.0f}"),
]
# Ratios of tasksched to each peer: higher is better for rates, lower for lateness and memory.
RATIOS: list[tuple[str, str]] = [
    ("enqueue_jobs_s", "enqueue"),
    ("drain_jobs_s", "drain"),
    ("drain_steady_jobs_s", "steady"),
    ("late_p99_ms", "late p99"),
    ("worker_pss_mb", "PSS"),
    ("first_job_s", "first job"),
]


def fmt(value: Any, pattern: str) -> str:
    if value is None:
        return "—"
    return pattern.format(value)


def medians(runs: Sequence[dict[str, Any]], system: str) -> dict[str, float | None]:
    mine = [r for r in runs if r.get("system") == system]
    metrics = {k for r in mine for k, v in r.items() if isinstance(v, int | float) and k != "rep"}
    return {m: median([r[m] for r in mine if isinstance(r.get(m), int | float)]) for m in sorted(metrics)}


def systems_in(doc: dict[str, Any]) -> list[str]:
    order: list[str] = []
    for run in doc["runs"]:
        if run["system"] not in order:
            order.append(run["system"])
    return order


def table(rows: list[list[str]], heading: list[str]) -> list[str]:
    lines = ["| " + " | ".join(heading) + " |", "| --- |" + " ---: |" * (len(heading) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def medians_table(doc: dict[str, Any], columns: list[tuple[str, str, str]], only: list[str]) -> list[str]:
    rows = []
    for system in only:
        values = medians(doc["runs"], system)
        count = sum(1 for r in doc["runs"] if r.get("system") == system)
        rows.append(
            [doc["labels"].get(system, system), str(count)] + [fmt(values.get(m), f) for m, _, f in columns]
        )
    return table(rows, ["system", "runs"] + [h for _, h, _ in columns])


def ratio_table(doc: dict[str, Any]) -> list[str]:
    ours = [s for s in systems_in(doc) if s.startswith("ts-")]
    peers = [s for s in systems_in(doc) if not s.startswith("ts-")]
    rows = []
    for mine in ours:
        mine_values = medians(doc["runs"], mine)
        for peer in peers:
            theirs = medians(doc["runs"], peer)
            cells = [fmt(ratio(mine_values.get(m), theirs.get(m)), "{:.2f}x") for m, _ in RATIOS]
            rows.append([doc["labels"].get(mine, mine), doc["labels"].get(peer, peer), *cells])
    return table(rows, ["tasksched", "peer"] + [h for _, h in RATIOS])


def render(doc: dict[str, Any]) -> str:
    machine = doc["machine"]
    order = systems_in(doc)
    lines = [
        "# Side-by-side with the peers (`python -m bench.peers`)",
        "",
        "Written by the harness (`bench/peers/`, see `bench/README.md`); do not edit by hand.",
        "",
        f"- Started {doc['started']}, finished {doc['finished']}; {doc['repeat']} repetition(s) asked for "
        "(the tables say how many runs each median is of)"
        + (" (`--quick`: a smoke test, not a measurement)" if doc["quick"] else "")
        + f"; {doc['sizes']['jobs']:,} jobs to enqueue and drain, {doc['sizes']['burst']:,} due at one instant, "
        f"{doc['sizes']['api_seconds']} s per wrk run.",
        f"- Command: `{doc['argv']}`",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} memory, {machine['kernel']}; "
        f"load average before {machine['load_before']}, after {machine['load_after']}. "
        "The cores are shared with other work, so absolute numbers move between sittings; compare "
        "systems within one sitting (repetitions interleave the systems).",
        "- Same job body for every system: `bench/peers/job.py` (one Redis `INCR`, a plain function; the burst "
        "jobs also push `time.time() - due` first). Counts are read from Redis, not from any system's own records.",
        "",
        "## Medians",
        "",
        *medians_table(doc, COLUMNS, order),
        "",
        "Enqueue: one call of the system's producer API per job (tasksched: `POST /api/tasks/{id}/run`), and "
        "its bulk API where it has one (into a queue no worker takes). Drain: the workers start on the jobs "
        "enqueued one by one; "
        '"drain" runs from spawning them to the last job, "steady" is the middle 80 % (10 %→90 % of the '
        'counter), "first job" from spawn to the first job done. CPU and memory: the worker processes and '
        "their children (tasksched `serve`: the whole process), peak of samples every 0.25 s; PostgreSQL "
        "and Redis themselves are not included. Lateness: the job's start minus the instant it was due, "
        "through each system's own delayed-job mechanism.",
        "",
    ]
    api_systems = [s for s in order if s.startswith("ts-")]
    if api_systems:
        lines += [
            "## API (wrk -t1 -c8)",
            "",
            *medians_table(doc, API_COLUMNS, api_systems),
            "",
            "tasksched answers `GET /api/tasks` from its listing cache (a page is read again after a write), "
            "so under a read-only wrk it does not run the query on every request; the control "
            "(`bench/peers/control.py`) runs the page query, and the count when the page is full, on every "
            "request. `POST /api/tasks` creates tasks with distinct names; `POST …/run` queues runs of one "
            "task (no worker takes them while wrk runs). non-2xx counts every refused request of the three.",
            "",
        ]
    lines += ["## Ratios, tasksched ÷ peer (medians)", "", *ratio_table(doc), ""]
    lines += [
        "Rates (enqueue, drain, steady): above 1 means tasksched is faster. Lateness, PSS and first job: "
        "below 1 means tasksched is better.",
        "",
        "## Versions",
        "",
    ]
    for system in order:
        versions = ", ".join(f"{k} {v}" for k, v in doc["versions"].get(system, {}).items())
        lines.append(f"- {doc['labels'].get(system, system)}: {versions}")
    lines += ["", "## Commands", ""]
    for system in order:
        commands = doc["commands"].get(system, [])
        lines.append(f"- {doc['labels'].get(system, system)}: " + "; ".join(f"`{c}`" for c in commands))
    lines += ["", "## Every run", ""]
    metrics = [m for m, _, _ in COLUMNS + API_COLUMNS]
    rows = []
    for run in doc["runs"]:
        rows.append(
            [doc["labels"].get(run["system"], run["system"]), str(run["rep"]), run.get("load", "—")]
            + [fmt(run.get(m), f) for m, _, f in COLUMNS + API_COLUMNS]
        )
    lines += ["Load average (1, 5, 15 min) as each system's run ended.", ""]
    lines += table(rows, ["system", "rep", "load", *metrics])
    errors = [(r["system"], r["rep"], e) for r in doc["runs"] for e in r.get("errors", [])]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {system} (rep {rep}): {error}" for system, rep, error in errors]
    return "\n".join(lines) + "\n"


def chart(doc: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = systems_in(doc)
    names = [doc["labels"].get(s, s).replace(" (", "\n(") for s in order]
    values = {s: medians(doc["runs"], s) for s in order}
    panels = [
        ("Enqueue, jobs/s (one by one)", "enqueue_jobs_s"),
        ("Drain with 2 workers, jobs/s", "drain_jobs_s"),
        ("1,000 due at once: p99 lateness, ms", "late_p99_ms"),
        ("Worker memory, PSS MB", "worker_pss_mb"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    for ax, (title, metric) in zip(axes.flat, panels, strict=True):
        heights = [values[s].get(metric) or 0.0 for s in order]
        colours = ["tab:orange" if s.startswith("ts-") else "tab:blue" for s in order]
        ax.barh(names, heights, color=colours)
        ax.set_title(title + (" (log scale)" if metric == "late_p99_ms" else ""))
        if metric == "late_p99_ms" and any(heights):
            ax.set_xscale("log")
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        for y, h in enumerate(heights):
            if h:
                ax.text(h, y, f" {h:,.0f}", va="center", fontsize=7)
    fig.suptitle(
        f"tasksched (orange) and peers, medians of up to {doc['repeat']} runs, {doc['sizes']['jobs']:,} jobs; "
        f"{doc['machine']['nproc']} shared CPUs, load {doc['machine']['load_before']} before, "
        f"{doc['machine']['load_after']} after"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def short_table(doc: dict[str, Any]) -> str:
    """The README's summary: enqueue, drain (steady), lateness p50/p99 and worker PSS, medians."""
    rows = []
    for system in systems_in(doc):
        v = medians(doc["runs"], system)
        bulk = v.get("enqueue_bulk_jobs_s")
        enqueue = fmt(v.get("enqueue_jobs_s"), "{:,.0f}") + (f" ({bulk:,.0f} bulk)" if bulk else "")
        drain = (
            fmt(v.get("drain_jobs_s"), "{:,.0f}") + " (" + fmt(v.get("drain_steady_jobs_s"), "{:,.0f}") + ")"
        )
        late = fmt(v.get("late_p50_ms"), "{:,.0f}") + " / " + fmt(v.get("late_p99_ms"), "{:,.0f}")
        memory = fmt(v.get("worker_rss_mb"), "{:,.0f}") + " (" + fmt(v.get("worker_pss_mb"), "{:,.0f}") + ")"
        rows.append([doc["labels"].get(system, system), enqueue, drain, late, memory])
    heading = [
        "system",
        "enqueue jobs/s",
        "drain jobs/s (steady)",
        "lateness p50 / p99 ms",
        "worker RSS (PSS) MB",
    ]
    return "\n".join(table(rows, heading)) + "\n"
