"""The composition root's product: everything a request, a job or a command needs, built once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.session import create_engine, create_sessionmaker
from app.keys import LocalKeys, load_keys
from app.urls import Urls
from federation.client import create_client
from federation.httpsig import HttpSignatureAuth, Scheme, Signer

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wakeups:
    """In-process nudges so workers in the same process react at once instead of polling."""

    inbox: asyncio.Event = field(default_factory=asyncio.Event)
    delivery: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Runtime:
    settings: Settings
    urls: Urls
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # reads
    writes: async_sessionmaker[AsyncSession]  # write transactions: ``async with rt.writes.begin()``
    http: httpx.AsyncClient
    keys: LocalKeys
    clock: Clock
    wakeups: Wakeups

    @property
    def actor_signer(self) -> Signer:
        return Signer(self.urls.actor_key(), self.keys.actor_rsa)

    @property
    def instance_signer(self) -> Signer:
        return Signer(self.urls.instance_key, self.keys.instance_rsa)

    def signed_get_auth(self) -> httpx.Auth:
        """Every outbound GET is signed by the instance actor (draft-cavage, widest support)."""
        return HttpSignatureAuth(self.instance_signer, Scheme.CAVAGE, clock=self.clock)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, clock: Clock = utcnow, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Runtime]:
    """Build the runtime (engine, HTTP client, keys) and close it all on exit."""
    keys = load_keys(settings.keys_dir)
    engine = create_engine(settings.database_url)
    if transport is not None:
        http = httpx.AsyncClient(transport=transport, headers={"User-Agent": settings.user_agent})
    else:
        http = create_client(
            user_agent=settings.user_agent, allow_private=settings.allow_private_network
        )
    try:
        yield Runtime(
            settings=settings,
            urls=Urls.from_settings(settings),
            engine=engine,
            sessions=create_sessionmaker(engine),
            writes=create_sessionmaker(engine, immediate=True),
            http=http,
            keys=keys,
            clock=clock,
            wakeups=Wakeups(),
        )
    finally:
        await http.aclose()
        await engine.dispose()
