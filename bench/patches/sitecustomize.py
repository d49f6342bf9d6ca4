"""Loaded by the Myna processes the benchmarks start when ``--client httpx-aiohttp`` is given
(this directory is put first on their PYTHONPATH): Myna's outbound client keeps its httpx API
and its address guard, with aiohttp's transport underneath. An experiment for the figures in
the report, not a way to configure Myna."""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("MYNA_BENCH_CLIENT") == "httpx-aiohttp":
    import httpx
    from httpx_aiohttp import AiohttpTransport

    import federation.client

    _original = federation.client.create_client

    def create_client(**kwargs: Any) -> httpx.AsyncClient:
        if kwargs.get("transport") is None:
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
            kwargs["transport"] = AiohttpTransport(limits=limits, trust_env=False)
        return _original(**kwargs)

    federation.client.create_client = create_client
