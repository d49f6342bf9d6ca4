"""Access to what the lifespan built, from a request."""

from __future__ import annotations

from starlette.requests import Request

from app.db.models import LocalActor
from app.errors import NotFound
from app.runtime import Runtime
from app.services.inbox import InboxWriter
from app.services.remote import KeyResolver
from app.store.actors import get_local_actor


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def keys_of(request: Request) -> KeyResolver:
    resolver: KeyResolver = request.app.state.key_resolver
    return resolver


def inbox_writer_of(request: Request) -> InboxWriter:
    writer: InboxWriter = request.app.state.inbox_writer
    return writer


async def owner_of(request: Request, username: str | None = None) -> LocalActor:
    """The local actor named in the path (or the owner); NotFound for anyone else."""
    rt = runtime_of(request)
    name = username if username is not None else rt.settings.username
    if name.lower() != rt.settings.username.lower():
        raise NotFound("no such actor")
    async with rt.sessions() as session:
        actor = await get_local_actor(session, rt.settings.username)
    if actor is None:
        raise NotFound("no such actor")
    return actor
