"""A minimal HTTP/1.1 keep-alive load generator over asyncio streams.

Requests are serialised to bytes before the clock starts, so the generator costs a few
microseconds per request and the server under test is what is measured.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def encode_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The exact bytes of one HTTP/1.1 request (keep-alive, Content-Length set)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1"]
    names = {name.lower() for name in headers}
    if "host" not in names:
        lines.append(f"Host: {parts.netloc}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    elapsed: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return (status, connection kept alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, keep = 0, False, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def run_load(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, limit: float = 120.0
) -> LoadResult:
    """Send every request once over ``concurrency`` keep-alive connections, within ``limit``
    seconds (TimeoutError past it); measure."""
    queue = list(reversed(requests))
    result = LoadResult(elapsed=0.0)

    async def worker() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while queue:
            data = queue.pop()
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            started = time.perf_counter()
            try:
                writer.write(data)
                status, keep = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                writer.close()
                reader = writer = None
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout=limit)
    result.elapsed = time.perf_counter() - started
    return result
