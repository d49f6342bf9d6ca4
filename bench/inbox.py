"""Inbox throughput: signed Create POSTs per second accepted (202) and stored by a real
`myna serve` (SQLite, loopback), from a load generator with pre-signed requests.

The sender is a real remote actor served by the sink, so Myna fetches its key once (the
warm-up) and then verifies every request against its cached key. Ceilings, measured in the
same run with the same load generator: a bare Starlette + uvicorn app answering 202 to the
same POSTs, the same app also doing one JSON parse and one RSA verify per request, and the
raw RSA-2048 verify rate.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import (
    HOST,
    MynaServer,
    Report,
    bench_key,
    cpu_seconds,
    free_port,
    rsa_verify_rate,
    rss_mib,
    start_echo,
    temp_workdir,
)
from bench.loadgen import LoadResult, encode_request, run_load
from federation.httpsig import Scheme, Signer, sign_request
from federation.keys import public_key_to_pem
from tests.support.sink import Sink

AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONCURRENCY = 32


def actor_document(origin: str) -> dict[str, Any]:
    actor = f"{origin}/users/bench"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Person", "preferredUsername": "bench", "name": "Bench",
        "inbox": f"{actor}/inbox", "outbox": f"{actor}/outbox",
        "followers": f"{actor}/followers", "endpoints": {"sharedInbox": f"{origin}/inbox"},
        "publicKey": {"id": f"{actor}#main-key", "owner": actor,
                      "publicKeyPem": public_key_to_pem(bench_key().public_key())},
    }  # fmt: skip


def signed_creates(origin: str, inbox_url: str, count: int, start: int = 0) -> list[bytes]:
    """``count`` distinct Create{Note} POSTs (about 2 KB each), signed now, as raw bytes."""
    actor = f"{origin}/users/bench"
    signer = Signer(f"{actor}#main-key", bench_key())
    requests = []
    for n in range(start, start + count):
        note = f"{actor}/statuses/{n}"
        body = json.dumps(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{note}/activity",
                "type": "Create",
                "actor": actor,
                "published": "2026-11-27T12:00:00Z",
                "to": [PUBLIC],
                "cc": [f"{actor}/followers"],
                "object": {
                    "id": note,
                    "type": "Note",
                    "attributedTo": actor,
                    "published": "2026-11-27T12:00:00Z",
                    "to": [PUBLIC],
                    "cc": [f"{actor}/followers"],
                    "content": "<p>" + f"Benchmark note {n}. " * 80 + "</p>",
                },
            }
        ).encode()
        headers = {"Content-Type": AS2}
        headers.update(sign_request("POST", inbox_url, headers, body, signer, Scheme.CAVAGE))
        requests.append(encode_request("POST", inbox_url, headers, body))
    return requests


def _stored(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM inbox_items").fetchone()[0])


def _load(port: int, requests: list[bytes]) -> LoadResult:
    return asyncio.run(run_load(HOST, port, requests, CONCURRENCY))


def _measure(
    workdir: Path, origin: str, count: int, extra_env: dict[str, str]
) -> tuple[LoadResult, int, float, float, float, list[bytes]]:
    """Start Myna, warm it up, send ``count`` Creates; return the load result, rows stored,
    server CPU seconds, RSS before and after (MiB), and the requests sent."""
    server = MynaServer(workdir / f"run-{len(extra_env)}", extra_env=extra_env)
    server.workdir.mkdir()
    server.start()
    try:
        inbox_url = f"{server.base_url}/users/myna/inbox"
        time.sleep(1.0)
        rss_before = rss_mib(server.pid)
        warm = _load(server.port, signed_creates(origin, inbox_url, 50, start=10**6))
        if warm.statuses.get(202, 0) != 50:
            raise RuntimeError(f"warm-up answers: {dict(warm.statuses)}\n{server.log_tail()}")
        requests = signed_creates(origin, inbox_url, count)
        cpu_before = cpu_seconds(server.pid)
        result = _load(server.port, requests)
        cpu = cpu_seconds(server.pid) - cpu_before
        stored = _stored(server.database_path) - 50
        time.sleep(1.0)
        rss_after = rss_mib(server.pid)
    finally:
        server.stop()
    return result, stored, cpu, rss_before, rss_after, requests


def run(*, count: int = 4000, quick: bool = False) -> Report:
    count = 1000 if quick else count
    report = Report(f"inbox: {count:,} signed Create POSTs, concurrency {CONCURRENCY}")
    report.header()
    with temp_workdir() as tmp:
        workdir = Path(tmp)
        sink_port = free_port()
        origin = f"http://{HOST}:{sink_port}"
        with Sink(sink_port, documents={"/users/bench": actor_document(origin)}):
            result, stored, cpu, rss_before, rss_after, requests = _measure(
                workdir, origin, count, {}
            )
            report.figure("Myna RSS before (idle)", rss_before, "MiB")
            report.figure("Myna RSS after", rss_after, "MiB")
            report.figures.update(rss_before_mib=rss_before, rss_after_mib=rss_after)
            report.note(f"answers: {dict(result.statuses)}, errors: {result.errors}")
            report.figure("Create activities stored", stored, "")
            report.figure("Myna p50 latency", result.percentile(0.5) * 1000, "ms")
            report.figure("Myna p99 latency", result.percentile(0.99) * 1000, "ms")
            report.figure("Myna server CPU per request (incl. processing)", cpu / count * 1e6, "µs")
            off, off_stored, off_cpu, *_ = _measure(
                workdir, origin, count, {"MYNA_WORKERS_IN_PROCESS": "0"}
            )
            report.note(
                f"without in-process workers: answers {dict(off.statuses)}, stored {off_stored}"
            )
            report.figure("Myna server CPU per request, workers off", off_cpu / count * 1e6, "µs")

        # Ceilings with the same requests and load generator.
        echo, echo_port = start_echo(workdir, verify=False)
        try:
            echo_result = _load(echo_port, requests)
        finally:
            echo.stop()
        verify, verify_port = start_echo(workdir, verify=True)
        try:
            verify_result = _load(verify_port, requests)
        finally:
            verify.stop()
        verify_rate = rsa_verify_rate(1.0)
        accepted = result.statuses.get(202, 0) / result.elapsed
        accepted_off = off.statuses.get(202, 0) / off.elapsed
        report.figure("ceiling: RSA-2048 verify, 1 thread", verify_rate, "/s")
        report.figure("ceiling: Starlette+uvicorn POST -> 202", echo_result.rate, "/s")
        report.figure("ceiling: same + JSON parse + 1 RSA verify", verify_result.rate, "/s")
        report.figure("Myna accepted/s vs bare POST echo", accepted, "/s", of=echo_result.rate)
        report.figure("Myna accepted/s vs echo + verify", accepted, "/s", of=verify_result.rate)
        report.figure("Myna accepted/s vs RSA verify", accepted, "/s", of=verify_rate)
        report.figure(
            "Myna accepted/s, workers off, vs echo + verify", accepted_off, "/s",
            of=verify_result.rate,
        )  # fmt: skip
        report.figures.update(accepted_per_s=accepted, accepted_workers_off_per_s=accepted_off)
    return report
