"""Remote actors and their keys: fetched with a signed GET, cached in the database."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from app.db.models import RemoteActor
from app.runtime import Runtime
from app.store import actors as actor_store
from federation.client import fetch_object
from federation.errors import (
    BlockedAddress,
    FetchError,
    FetchStatusError,
    InvalidDocument,
    KeyGone,
    KeyNotFound,
    KeyUnavailable,
    ParseError,
)
from federation.httpsig import KeyFetcher, PublicKey
from federation.keys import load_public_key_pem, multibase_to_public_key
from federation.parse import Actor, parse_actor

ACTOR_TTL = timedelta(days=1)
KEY_REFRESH_COOLDOWN = 60.0  # seconds between forced refetches of one key (forgery flood guard)


# "\u0000" preceded by an even number of backslashes: JSON text that decodes to a NUL.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def contains_nul(json_text: str) -> bool:
    """True when ``json_text`` decodes to a string holding U+0000 (PostgreSQL cannot store it)."""
    return _NUL_ESCAPE.search(json_text) is not None


def _strip_fragment(url: str) -> str:
    return url.split("#", 1)[0]


async def fetch_actor_document(rt: Runtime, uri: str) -> Actor:
    """GET and parse an actor; FetchError / ParseError on failure."""
    doc = await fetch_object(rt.http, uri, auth=rt.signed_get_auth())
    if contains_nul(json.dumps(doc)):
        raise ParseError("actor document holds a NUL character")
    return parse_actor(doc)


def _keys_of(actor: Actor) -> list[tuple[str, str, str]]:
    keys = [(k.id, k.owner, k.pem) for k in actor.public_keys if k.owner == actor.id]
    keys += [(k.id, k.controller, k.multibase) for k in actor.multikeys if k.controller == actor.id]
    return keys


async def store_actor(rt: Runtime, actor: Actor) -> RemoteActor:
    """Cache ``actor`` and its keys (in a transaction of its own); return the row."""
    now = rt.clock()
    async with rt.writes.begin() as session:
        row = await actor_store.upsert_remote_actor(session, actor, now)
        await actor_store.put_remote_keys(session, _keys_of(actor), now)
        session.expunge(row)
    return row


async def resolve_actor(rt: Runtime, uri: str, *, refresh: bool = False) -> RemoteActor:
    """Return the cached actor, fetching it when absent, stale (a day) or ``refresh``.

    A failed refresh falls back to the stale copy; with no copy at all the FetchError or
    ParseError propagates.
    """
    async with rt.sessions() as session:
        row = await actor_store.get_remote_actor(session, uri)
    if row is not None and not refresh and rt.clock() - row.fetched_at < ACTOR_TTL:
        return row
    try:
        actor = await fetch_actor_document(rt, uri)
    except (FetchError, ParseError):
        if row is not None:
            return row
        raise
    if actor.id != uri:
        raise ParseError("actor id differs from its URL")
    return await store_actor(rt, actor)


def _public_key(key_id: str, owner: str, material: str) -> PublicKey:
    try:
        if material.lstrip().startswith("-----BEGIN"):
            key = load_public_key_pem(material)
        else:
            key = multibase_to_public_key(material)
    except ParseError as exc:
        raise KeyNotFound(f"unusable public key {key_id}") from exc
    assert isinstance(key, RSAPublicKey | Ed25519PublicKey)
    return PublicKey(key_id=key_id, owner=owner, key=key)


def _has_host(url: str) -> bool:
    """True when ``url`` parses (as httpx will send it) and names a host."""
    try:
        return bool(httpx.URL(_strip_fragment(url)).host)
    except (httpx.InvalidURL, TypeError):
        return False


class KeyResolver:
    """The ``fetch_key(key_id, refresh)`` coroutine given to the signature verifier."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._refreshed: dict[str, float] = {}

    def fetcher(self) -> KeyFetcher:
        return self.fetch_key

    async def fetch_key(self, key_id: str, refresh: bool) -> PublicKey:
        if not key_id.startswith(("https://", "http://")) or not _has_host(key_id):
            raise KeyNotFound("keyId must be an http(s) URL")
        if not refresh:
            async with self._rt.sessions() as session:
                cached = await actor_store.get_remote_key(session, key_id)
            if cached is not None:
                return _public_key(key_id, cached.owner_uri, cached.public_key)
        else:
            last = self._refreshed.get(key_id, 0.0)
            if time.monotonic() - last < KEY_REFRESH_COOLDOWN:
                raise KeyNotFound("key was refreshed a moment ago and still does not verify")
            self._refreshed[key_id] = time.monotonic()
        return await self._fetch_remote(key_id)

    async def _fetch_remote(self, key_id: str) -> PublicKey:
        rt = self._rt
        try:
            doc = await fetch_object(rt.http, _strip_fragment(key_id), auth=rt.signed_get_auth())
            if contains_nul(json.dumps(doc)):
                raise ParseError("key document holds a NUL character")
            if "publicKeyPem" in doc and "inbox" not in doc:
                # A standalone key document: its owner must list it back (two-way link).
                owner = doc.get("owner")
                if not isinstance(owner, str):
                    raise KeyNotFound("key document has no owner")
                actor = await fetch_actor_document(rt, owner)
            else:
                actor = parse_actor(doc)
        except FetchStatusError as exc:
            if exc.status == 410:
                raise KeyGone("the key's actor is gone", key_id) from exc
            if exc.status in (404, 401, 403):
                raise KeyNotFound(f"key not found ({exc.status})") from exc
            raise KeyUnavailable(f"key fetch failed ({exc.status})") from exc
        except (InvalidDocument, BlockedAddress) as exc:
            # Not temporary: a 503 would make the sender retry for days (interop.md 3.12).
            raise KeyNotFound(f"key document unusable: {exc}") from exc
        except FetchError as exc:
            raise KeyUnavailable(f"key fetch failed: {exc}") from exc
        except ParseError as exc:
            raise KeyNotFound(f"key document unusable: {exc}") from exc
        row = await store_actor(rt, actor)
        for found_id, owner, material in _keys_of(actor):
            if found_id == key_id:
                return _public_key(key_id, owner, material)
        raise KeyNotFound(f"{row.uri} does not list key {key_id}")


def actor_document_json(row: RemoteActor) -> dict[str, object]:
    loaded = json.loads(row.document)
    assert isinstance(loaded, dict)
    return loaded
