"""``python -m bench.peers [--quick] [--systems huey,celery,...] [--repeat 3]``: see bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.peers import envs, report, systems
from bench.peers.runner import FULL, QUICK, Sizes, log, run_system

BENCH = Path(__file__).resolve().parents[1]


def machine(load_before: str) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split()
    total_kb = int(meminfo[meminfo.index("MemTotal:") + 1])
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{total_kb / 1024 / 1024:.1f} GiB",
        "kernel": f"Linux {platform.release()}",
        "load_before": load_before,
        "load_after": "",
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 run of fewer jobs: a smoke test")
    parser.add_argument(
        "--systems", default=",".join(systems.ALL), help="comma-separated, of: " + ", ".join(systems.ALL)
    )
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 3; --quick: 1)")
    parser.add_argument("--jobs", type=int, help="override the number of jobs to enqueue and drain")
    parser.add_argument("--burst", type=int, help="override the number of jobs due at one instant")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS-peers.md")
    parser.add_argument("--chart", type=Path, default=BENCH / "peers.png")
    parser.add_argument("--render", type=Path, help="only render the report and chart from a raw JSON file")
    args = parser.parse_args(argv)
    raw_path = args.output.with_suffix(".json")

    if args.render:
        saved: dict[str, Any] = json.loads(args.render.read_text())
        args.output.write_text(report.render(saved))
        report.chart(saved, args.chart)
        return

    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(systems.ALL))
    if unknown:
        parser.error(f"unknown systems: {', '.join(unknown)}")
    repeat = args.repeat or (1 if args.quick else 3)
    base = QUICK if args.quick else FULL
    sizes = Sizes(jobs=args.jobs or base.jobs, burst=args.burst or base.burst, api_seconds=base.api_seconds)
    run = secrets.token_hex(4)
    logs = envs.CACHE / "logs" / run
    shown_argv = "python -m bench.peers " + " ".join(argv if argv is not None else sys.argv[1:])

    made = {name: systems.make(name, logs, run) for name in chosen}
    for system in made.values():  # install first, so no repetition waits on pip
        if isinstance(system, systems.Peer):
            envs.ensure(system.env_name)
    doc: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "finished": "",
        "quick": args.quick,
        "repeat": repeat,
        "sizes": {"jobs": sizes.jobs, "burst": sizes.burst, "api_seconds": sizes.api_seconds},
        "argv": shown_argv.strip(),
        "machine": machine(load_average()),
        "labels": {name: s.label for name, s in made.items()},
        "versions": {name: s.versions() for name, s in made.items()},
        "commands": {},
        "runs": [],
    }
    log(f"run {run}: {', '.join(chosen)} x {repeat}; logs in {logs}")
    try:
        for rep in range(1, repeat + 1):
            for name in chosen:
                system = systems.make(name, logs, run)
                log(f"{name} (rep {rep}/{repeat}), load {load_average()}")
                result = run_system(system, sizes, rep)
                result["load"] = load_average()
                doc["runs"].append(result)
                doc["commands"][name] = result.pop("commands", [])
                doc["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                doc["machine"]["load_after"] = load_average()
                raw_path.write_text(json.dumps(doc, indent=1) + "\n")
                args.output.write_text(report.render(doc))
    finally:
        import redis

        systems.System(name="cleanup", label="", logs=logs, run=run).cleanup_redis(redis.Redis())
    report.chart(doc, args.chart)
    log(f"wrote {args.output}, {raw_path} and {args.chart}")
    subprocess.run(["uptime"], check=False)
    time.sleep(0)


if __name__ == "__main__":
    main()
