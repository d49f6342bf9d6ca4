"""Receiving activities: verify -> parse -> check authority -> store -> 202. Processing is later.

Nothing is stored unless every check passes; each refusal raises an ``AppError`` whose status
and reason go back to the sender.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import BadRequest, Forbidden, Unauthorized, Unavailable
from app.runtime import Runtime
from app.services.remote import KeyResolver, contains_nul
from app.store.group_commit import GroupCommit
from app.store.inbox import NewInboxItem, insert_inbox_items
from federation.errors import (
    KeyGone,
    KeyUnavailable,
    ParseError,
    SignatureError,
    SignatureMalformed,
)
from federation.httpsig import Verified, verify_request
from federation.parse import Activity, parse_activity, same_origin
from federation.vocab import SAME_ORIGIN_OBJECT_TYPES

log = logging.getLogger("myna.inbox")
MAX_BODY = 1_048_576


@dataclass(frozen=True)
class Received:
    activity_id: str | None
    stored: bool
    reason: str


class InboxWriter:
    """Stores accepted activities in group commits: every activity that arrives while one
    transaction is being written goes into the next one (one commit per request was the
    inbox's limit, see README "Benchmarks"). Each caller still returns only once its own row is
    committed. Built once per process (the app lifespan), like the ``KeyResolver``."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._commits: GroupCommit[NewInboxItem, bool | Exception] = GroupCommit(self._write)

    async def store(self, item: NewInboxItem) -> bool:
        """Return whether ``item`` was newly stored (False for a duplicate id) once committed;
        raise the database error if it was not."""
        result = await self._commits.submit(item)
        if isinstance(result, Exception):
            raise result
        return result

    async def _write(self, items: list[NewInboxItem]) -> list[bool | Exception]:
        try:
            async with self._rt.writes.begin() as session:
                return list(await insert_inbox_items(session, items))
        except Exception:
            if len(items) == 1:
                raise
        # One activity the database refuses must not fail the others: write each on its own,
        # so only its sender gets the error.
        results: list[bool | Exception] = []
        for item in items:
            try:
                async with self._rt.writes.begin() as session:
                    results.extend(await insert_inbox_items(session, [item]))
            except Exception as exc:
                results.append(exc)
        return results


def _loads(body: bytes) -> object:
    try:
        # Strict UTF-8 first: json.loads(bytes) would let encoded surrogates through.
        text = body.decode("utf-8")
        doc = json.loads(text)
        # Lone surrogates ("\ud800" escapes) cannot be stored or re-encoded as UTF-8.
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
        raise BadRequest("body is not valid JSON") from exc
    if contains_nul(text):
        raise BadRequest("body holds a NUL character")
    return doc


def _is_delete_by_owner_of(body: bytes, key_id: str) -> bool:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(doc, dict)
        and doc.get("type") == "Delete"
        and isinstance(doc.get("actor"), str)
        and doc["actor"] == key_id.split("#", 1)[0]
    )


async def verify(
    rt: Runtime,
    keys: KeyResolver,
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    body: bytes | None,
) -> Verified:
    """Verify the request's signature or raise the matching AppError (401/400/503)."""
    try:
        return await verify_request(method, url, headers, body, keys.fetcher(), now=rt.clock())
    except SignatureMalformed as exc:
        raise BadRequest(str(exc)) from exc
    except KeyUnavailable as exc:
        raise Unavailable(str(exc)) from exc
    except SignatureError as exc:
        raise Unauthorized(str(exc)) from exc


def check_authority(activity: Activity, verified: Verified) -> None:
    """The signer must own the actor, and ids must live on the actor's origin (403 otherwise)."""
    if verified.key.owner != activity.actor:
        raise Forbidden("signature key does not belong to the activity's actor")
    if not same_origin(activity.id, activity.actor):
        raise Forbidden("activity id is not on the actor's origin")
    if activity.type in SAME_ORIGIN_OBJECT_TYPES and activity.object_id is not None:
        if not same_origin(activity.object_id, activity.actor):
            raise Forbidden("object id is not on the actor's origin")


async def receive(
    rt: Runtime,
    keys: KeyResolver,
    writer: InboxWriter,
    *,
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
) -> Received:
    """Run the inbox pipeline on one POST; return what happened or raise an AppError."""
    try:
        verified = await verify(rt, keys, method, url, headers, body)
    except Unauthorized as exc:
        # Interop: Mastodon re-sends Delete for actors that are already gone; their key fetch
        # answers 410, and a 401 would make the sender retry for days (as microblog.pub/Fedify).
        gone = exc.__cause__
        if isinstance(gone, KeyGone) and _is_delete_by_owner_of(body, gone.key_id):
            log.info("inbox.drop reason=actor_gone")
            return Received(None, False, "actor is gone; Delete dropped")
        raise
    doc = _loads(body)
    try:
        activity = parse_activity(doc)
    except ParseError as exc:
        raise BadRequest(str(exc)) from exc
    check_authority(activity, verified)
    stored = await writer.store(
        NewInboxItem(
            activity_id=activity.id,
            activity_type=activity.type,
            actor_uri=activity.actor,
            signer_key_id=verified.key.key_id,
            payload=body.decode("utf-8"),
            now=rt.clock(),
        )
    )
    if stored:
        rt.wakeups.inbox.set()
    log.info(
        "inbox.received id=%s type=%s actor=%s scheme=%s duplicate=%s",
        activity.id,
        activity.type,
        activity.actor,
        verified.scheme.value,
        not stored,
    )
    return Received(activity.id, stored, "accepted" if stored else "duplicate")
