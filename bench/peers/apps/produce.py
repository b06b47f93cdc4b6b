"""The producer's command line: ``python -m bench.peers.apps.produce MODULE enqueue|schedule …``.

MODULE is imported by its name (not run as ``__main__``), so the functions it registers carry the
names its workers know them by. Prints one JSON line: the seconds the producer's calls took.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

# The run's token, so every queue and key of one harness run is its own on a shared Redis.
RUN = os.environ.get("PEERS_RUN", "local")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("module")
    parser.add_argument("command", choices=["enqueue", "schedule"])
    parser.add_argument("--key", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--bulk", action="store_true")
    parser.add_argument("--due", type=float)
    args = parser.parse_args()
    app = importlib.import_module(args.module)
    if args.command == "enqueue" and args.bulk and not app.BULK:
        print(json.dumps({"seconds": None}))
        return
    started = time.perf_counter()
    if args.command == "enqueue":
        app.enqueue(args.key, args.n, args.bulk)
    else:
        app.schedule(args.key, args.n, args.due)
    print(json.dumps({"seconds": time.perf_counter() - started}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
