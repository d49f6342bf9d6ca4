"""Memory: resident set size of the `myna serve` process, idle and after each load, against a
bare Starlette + uvicorn process measured in the same run.

When the inbox and fan-out benchmarks ran in the same invocation their before/after figures
are reused; otherwise smaller runs of both are made here.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import fanout, inbox
from bench.common import Report, rss_mib, start_echo, temp_workdir


def _echo_rss() -> float:
    with temp_workdir() as tmp:
        proc, _port = start_echo(Path(tmp), verify=False)
        try:
            time.sleep(1.0)
            return rss_mib(proc.pid)
        finally:
            proc.stop()


def run(
    inbox_report: Report | None = None, fanout_report: Report | None = None, *, quick: bool = False
) -> Report:
    if inbox_report is None:
        print("(memory: running a smaller inbox benchmark)")
        inbox_report = inbox.run(count=1000)
    if fanout_report is None:
        print("(memory: running a smaller fan-out benchmark)")
        fanout_report = fanout.run(quick=True)
    report = Report("memory: RSS of the `myna serve` process")
    report.header()
    bare = _echo_rss()
    report.figure("ceiling: bare Starlette + uvicorn, idle", bare, "MiB")
    for name, source in (("inbox", inbox_report), ("fan-out", fanout_report)):
        before = source.figures["rss_before_mib"]
        after = source.figures["rss_after_mib"]
        report.figure(f"Myna idle, before the {name} run (x bare)", before, "MiB", of=bare)
        report.figure(f"Myna after the {name} run (x bare)", after, "MiB", of=bare)
        report.figure(f"growth during the {name} run", after - before, "MiB")
    return report
