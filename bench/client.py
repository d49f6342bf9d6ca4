"""Outbound client ceilings: raw POST rate and the delivery path (`federation.delivery.deliver`,
a fresh signature per request) to a local sink, for httpx and, when installed, httpx-aiohttp
(the httpx API over aiohttp's transport) and plain aiohttp."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.common import Report, bench_key
from federation.client import AS2_CONTENT_TYPE, create_client
from federation.delivery import deliver
from federation.httpsig import Scheme, Signer, sign_request

USER_AGENT = "Myna-bench/1 (+http://127.0.0.1/)"
KEY_ID = "http://127.0.0.1/users/bench#main-key"


def activity_body(n: int = 0, size: int = 1500) -> bytes:
    """A Create{Note} of about ``size`` bytes (the size performance.md measured with)."""
    doc: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"http://127.0.0.1/activities/{n}",
        "type": "Create",
        "actor": "http://127.0.0.1/users/bench",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": f"http://127.0.0.1/notes/{n}", "type": "Note", "content": ""},
    }
    pad = size - len(json.dumps(doc))
    doc["object"]["content"] = "<p>" + "x" * max(0, pad - 7) + "</p>"
    return json.dumps(doc).encode()


def has_aiohttp() -> bool:
    return importlib.util.find_spec("aiohttp") is not None


def has_httpx_aiohttp() -> bool:
    return importlib.util.find_spec("httpx_aiohttp") is not None


def make_client(kind: str) -> httpx.AsyncClient:
    """Myna's outbound client (`create_client`, the address guard included) over ``kind``'s
    transport: ``httpx`` (httpcore) or ``httpx-aiohttp``."""
    if kind == "httpx":
        return create_client(user_agent=USER_AGENT, allow_private=True)
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    transport = AiohttpTransport(limits=limits, trust_env=False)
    return create_client(user_agent=USER_AGENT, allow_private=True, transport=transport)


async def _drive(n: int, concurrency: int, one: Callable[[int], Awaitable[bool]]) -> float:
    """Run ``one(i)`` for i < n with ``concurrency`` workers; return successes per second."""
    counter = iter(range(n))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for i in counter:
            success = await one(i)  # not `ok += await ...`: that reads ok before awaiting
            ok += success

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 300)
    return ok / (time.perf_counter() - started)


async def httpx_rate(
    kind: str, sink_url: str, n: int, concurrency: int, *, signed: bool, in_thread: bool = False
) -> float:
    """POSTs per second through Myna's client: unsigned, or via `deliver` (fresh signature)."""
    body = activity_body()
    signer = Signer(KEY_ID, bench_key())
    headers = {"Content-Type": AS2_CONTENT_TYPE}
    async with make_client(kind) as client:

        async def one(i: int) -> bool:
            url = f"{sink_url}/inbox/{i % 3000}"
            if signed:
                result = await deliver(client, url, body, signer, sign_in_thread=in_thread)
                return result.ok
            response = await client.post(url, content=body, headers=headers)
            return response.status_code == 202

        await _drive(min(n, 64), concurrency, one)  # warm the pool
        return await _drive(n, concurrency, one)


async def aiohttp_rate(
    sink_url: str, n: int, concurrency: int, *, signed: bool, in_thread: bool = False
) -> float:
    """The same with a plain aiohttp session (not the httpx API), signing like `deliver`."""
    import aiohttp

    body = activity_body()
    signer = Signer(KEY_ID, bench_key())
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> bool:
            url = f"{sink_url}/inbox/{i % 3000}"
            headers = {"Content-Type": AS2_CONTENT_TYPE, "User-Agent": USER_AGENT}
            if signed:
                args = ("POST", url, headers, body, signer, Scheme.CAVAGE)
                if in_thread:
                    headers.update(await asyncio.to_thread(sign_request, *args))
                else:
                    headers.update(sign_request(*args))
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                return bool(response.status == 202)

        await _drive(min(n, 64), concurrency, one)
        return await _drive(n, concurrency, one)


def run(sink_url: str, *, n: int = 1500, quick: bool = False) -> Report:
    """Compare the outbound clients on the delivery path; every figure against raw signing."""
    from bench.common import rsa_sign_rate

    report = Report("client: outbound POSTs to a local sink (1.5 KB bodies)")
    report.header()
    n = 600 if quick else n
    sign1, sign2 = rsa_sign_rate(1.0, 1), rsa_sign_rate(1.0, 2)
    report.figure("ceiling: RSA-2048 sign, 1 thread", sign1, "/s")
    report.figure("ceiling: RSA-2048 sign, 2 threads", sign2, "/s")
    kinds = ["httpx"] + (["httpx-aiohttp"] if has_httpx_aiohttp() else [])
    if not has_httpx_aiohttp():
        report.note("httpx-aiohttp not installed: `pip install httpx-aiohttp` to compare it")
    for kind in kinds:
        for concurrency in (16, 64):
            rate = asyncio.run(httpx_rate(kind, sink_url, n, concurrency, signed=False))
            report.figure(f"{kind}: unsigned POST, concurrency {concurrency}", rate, "/s")
        for in_thread in (False, True):
            where = "signing in a thread" if in_thread else "signing inline"
            rate = asyncio.run(httpx_rate(kind, sink_url, n, 16, signed=True, in_thread=in_thread))
            report.figure(f"{kind}: deliver(), {where}, conc. 16", rate, "/s", of=sign2)
    if has_aiohttp():
        rate = asyncio.run(aiohttp_rate(sink_url, n, 16, signed=False))
        report.figure("aiohttp: unsigned POST, concurrency 16", rate, "/s")
        rate = asyncio.run(aiohttp_rate(sink_url, n, 16, signed=True, in_thread=True))
        report.figure("aiohttp: signed, signing in a thread, conc. 16", rate, "/s", of=sign2)
    return report
