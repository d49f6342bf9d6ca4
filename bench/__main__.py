"""``python -m bench [inbox|fanout|memory|client ...] [--quick] [--json FILE]``.

With no name every benchmark runs (a few minutes on 2 cores). Each prints its figures and
their ratio to ceilings measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import CLIENT, Report, dump_json

NAMES = ("inbox", "fanout", "memory", "client")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*NAMES, []], metavar="NAME",
                        help=f"benchmarks to run: {', '.join(NAMES)} (default: all)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--client", choices=["httpx", "httpx-aiohttp"], default="httpx",
        help="experiment: the transport under Myna's outbound httpx client (default httpx)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    CLIENT["name"] = args.client
    if args.client != "httpx":
        print(f"(Myna processes run with the {args.client} transport: an experiment)")
    names = args.names or list(NAMES)
    started = time.perf_counter()
    reports: list[Report] = []
    inbox_report = fanout_report = None
    if "inbox" in names:
        from bench import inbox

        inbox_report = inbox.run(quick=args.quick)
        reports.append(inbox_report)
    if "fanout" in names:
        from bench import fanout

        fanout_report = fanout.run(quick=args.quick)
        reports.append(fanout_report)
    if "client" in names:
        from bench import client
        from tests.support.sink import Sink

        with Sink() as sink:
            reports.append(client.run(sink.base_url, quick=args.quick))
    if "memory" in names:
        from bench import memory

        reports.append(memory.run(inbox_report, fanout_report, quick=args.quick))
    print(f"\nbench: {len(reports)} benchmark(s) in {time.perf_counter() - started:.0f} s")
    if args.json:
        dump_json(args.json, reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
