"""Helpers for tests that POST signed activities to Myna's inbox and process them, plus
builders of payloads in the shapes real servers send (Mastodon, Misskey, GoToSocial, Pleroma).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.db.models import (
    Follower,
    Following,
    InboxItem,
    Interaction,
    Media,
    Notification,
    Post,
    PostHashtag,
    RemoteActor,
    TimelineEntry,
)
from app.inbox_handlers import build_router
from app.jobs.inbox_worker import process_inbox_batch
from app.services.following import follow
from app.services.posting import Draft, publish
from tests.conftest import AsgiApp
from tests.support.fake_remote import FakeActor, signed_headers

BASE = "https://myna.test"
MYNA = f"{BASE}/users/myna"
INBOX = f"{MYNA}/inbox"
SHARED_INBOX = f"{BASE}/inbox"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

# Interop: the context Mastodon 4.x puts on a Create{Note} (NoteSerializer + ContextHelper).
MASTODON_CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    {
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "toot": "http://joinmastodon.org/ns#",
        "votersCount": "toot:votersCount",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
        "Hashtag": "as:Hashtag",
    },
]
# Interop: Mastodon still attaches a Linked Data Signature to public activities, and
# FEP-8b32 servers (Fedify, Mitra) add an Object Integrity Proof; both are ignored.
LD_SIGNATURE = {
    "type": "RsaSignature2017",
    "creator": "https://remote.example/users/alice#main-key",
    "created": "2024-05-01T12:00:00Z",
    "signatureValue": "ZmFrZQ==",
}
PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "verificationMethod": "https://remote.example/users/alice#ed25519-key",
    "proofPurpose": "assertionMethod",
    "proofValue": "z3sXaxjKs4M3BRicwWA9peyNPJvJqxtGsDmpt1jjoHCjgeUf71TRFz56osPSfDErszyLp5Ks1"
    "EhYSgpDaNM977Rg2",
    "created": "2024-05-01T12:00:00Z",
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def receive(
    asgi: AsgiApp, actor: FakeActor, doc: dict[str, Any], *, status: int = 202
) -> None:
    """POST ``doc`` to Myna's inbox signed as ``actor``; assert the answer's status."""
    body = json.dumps(doc).encode()
    headers = signed_headers(actor, INBOX, body, now=asgi.rt.clock())
    response = await asgi.client.post(INBOX.removeprefix(BASE), content=body, headers=headers)
    assert response.status_code == status, response.text


async def process(asgi: AsgiApp) -> int:
    return await process_inbox_batch(asgi.rt, build_router())


async def deliver(asgi: AsgiApp, actor: FakeActor, doc: dict[str, Any]) -> InboxItem:
    """Receive ``doc`` from ``actor``, process the queue, return the processed item."""
    await receive(asgi, actor, doc)
    await process(asgi)
    return await item(asgi, doc["id"])


async def rows(asgi: AsgiApp, model: Any) -> list[Any]:
    async with asgi.rt.sessions() as session:
        order = getattr(model, "id", None)
        stmt = select(model) if order is None else select(model).order_by(order)
        return list((await session.scalars(stmt)).all())


async def item(asgi: AsgiApp, activity_id: str) -> InboxItem:
    async with asgi.rt.sessions() as session:
        found = await session.scalar(select(InboxItem).where(InboxItem.activity_id == activity_id))
    assert found is not None, activity_id
    return found


def ignored(found: InboxItem) -> bool:
    return found.state == "done" and (found.last_error or "").startswith("ignored")


async def notifications(asgi: AsgiApp) -> list[tuple[str, str, str | None]]:
    return [(n.kind, n.actor_uri, n.object_uri) for n in await rows(asgi, Notification)]


async def remote_post(asgi: AsgiApp, uri: str) -> Post | None:
    async with asgi.rt.sessions() as session:
        return await session.scalar(select(Post).where(Post.uri == uri))


async def remote_actor(asgi: AsgiApp, uri: str) -> RemoteActor:
    async with asgi.rt.sessions() as session:
        found = await session.scalar(select(RemoteActor).where(RemoteActor.uri == uri))
    assert found is not None, uri
    return found


async def our_post(asgi: AsgiApp, text: str = "Hello fediverse", **draft: Any) -> Post:
    """Publish a post as the owner (nothing needs the network without mentions)."""
    return await publish(asgi.rt, Draft(text=text, **draft))


async def follow_accepted(asgi: AsgiApp, actor: FakeActor) -> None:
    """The owner follows ``actor`` and the follow is accepted."""
    row, _ = await follow(asgi.rt, actor.id)
    async with asgi.rt.writes.begin() as session:
        await session.execute(
            update(Following).where(Following.id == row.id).values(state="accepted")
        )


SNAPSHOT_MODELS = (
    Post,
    Media,
    PostHashtag,
    Interaction,
    TimelineEntry,
    Notification,
    Follower,
    Following,
)


async def snapshot(asgi: AsgiApp) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables handlers write (and the mutable actor columns), to compare."""
    taken: dict[str, list[tuple[Any, ...]]] = {}
    async with asgi.rt.sessions() as session:
        for model in SNAPSHOT_MODELS:
            columns = list(model.__table__.columns)
            result = await session.execute(select(*columns).order_by(*columns[:2]))
            taken[model.__tablename__] = [tuple(r) for r in result.all()]
        actors = await session.execute(
            select(
                RemoteActor.uri,
                RemoteActor.name,
                RemoteActor.gone_at,
                RemoteActor.blocked_us_at,
                RemoteActor.moved_to,
            ).order_by(RemoteActor.uri)
        )
        taken["remote_actors"] = [tuple(r) for r in actors.all()]
    return taken


# -- payloads -----------------------------------------------------------------------------------


def mastodon_note(
    actor: FakeActor,
    number: int,
    *,
    content: str = "<p>Hello</p>",
    to: list[str] | None = None,
    cc: list[str] | None = None,
    published: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Note as Mastodon's NoteSerializer emits it (public unless ``to``/``cc`` say else)."""
    origin, username = actor.id.split("/users/")
    note_id = f"{actor.id}/statuses/{number}"
    when = iso(published or datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    note: dict[str, Any] = {
        "id": note_id,
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": when,
        "url": f"{origin}/@{username}/{number}",
        "attributedTo": actor.id,
        "to": [PUBLIC] if to is None else to,
        "cc": [f"{actor.id}/followers"] if cc is None else cc,
        "sensitive": False,
        "atomUri": note_id,
        "inReplyToAtomUri": None,
        "conversation": (
            f"tag:{origin.split('://')[1]},2024-05-01:objectId={number}:objectType=Conversation"
        ),
        "content": content,
        "contentMap": {"en": content},
        "attachment": [],
        "tag": [],
        "replies": {
            "id": f"{note_id}/replies",
            "type": "Collection",
            "first": {
                "type": "CollectionPage",
                "next": f"{note_id}/replies?only_other_accounts=true&page=true",
                "partOf": f"{note_id}/replies",
                "items": [],
            },
        },
    }
    note.update(extra)
    return note


def mention_of_myna() -> dict[str, Any]:
    return {"type": "Mention", "href": MYNA, "name": "@myna@myna.test"}


def create_of(actor: FakeActor, note: dict[str, Any] | str, suffix: str = "") -> dict[str, Any]:
    """Mastodon's Create around ``note`` (or around a bare note id)."""
    note_id = note if isinstance(note, str) else note["id"]
    doc: dict[str, Any] = {
        "@context": MASTODON_CONTEXT,
        "id": f"{note_id}/activity{suffix}",
        "type": "Create",
        "actor": actor.id,
        "object": note,
    }
    if isinstance(note, dict):
        doc.update(published=note["published"], to=note["to"], cc=note["cc"])
    return doc


def update_of(actor: FakeActor, note: dict[str, Any], edited: datetime) -> dict[str, Any]:
    """Mastodon's Update of an edited note (``updated`` set, as 4.12 requires)."""
    return {
        "@context": MASTODON_CONTEXT,
        "id": f"{note['id']}#updates/{int(edited.timestamp())}",
        "type": "Update",
        "actor": actor.id,
        "published": iso(edited),
        "to": note["to"],
        "cc": note["cc"],
        "object": {**note, "updated": iso(edited)},
    }


def delete_of(actor: FakeActor, object_id: str, suffix: str = "") -> dict[str, Any]:
    """Mastodon's Delete of a status: a Tombstone object."""
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", {"atomUri": "ostatus:atomUri"}],
        "id": f"{object_id}#delete{suffix}",
        "type": "Delete",
        "actor": actor.id,
        "to": [PUBLIC],
        "object": {"id": object_id, "type": "Tombstone", "atomUri": object_id},
    }


def like_of(actor: FakeActor, object_id: str, suffix: str = "1") -> dict[str, Any]:
    """Mastodon's Like: ``{id: actor#likes/N, object: status id}``."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor.id}#likes/{suffix}",
        "type": "Like",
        "actor": actor.id,
        "object": object_id,
    }


def announce_of(actor: FakeActor, object_id: str, suffix: str = "1") -> dict[str, Any]:
    """GoToSocial's Announce (``to`` a single string, status-like id, published offset)."""
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "actor": actor.id,
        "cc": [MYNA, f"{actor.id}/followers"],
        "id": f"{actor.id}/statuses/01FF25D5Q0DH7CHD57CTRS6WK{suffix}",
        "object": object_id,
        "published": "2024-05-01T14:20:00+02:00",
        "to": PUBLIC,
        "type": "Announce",
    }


def undo_of(actor: FakeActor, inner: dict[str, Any] | str, suffix: str = "") -> dict[str, Any]:
    """Mastodon's Undo: the undone activity embedded (without its @context)."""
    if isinstance(inner, dict):
        inner = {k: v for k, v in inner.items() if k != "@context"}
        undo_id = f"{inner['id']}/undo{suffix}"
    else:
        undo_id = f"{actor.id}#undo/{abs(hash(inner))}{suffix}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": undo_id,
        "type": "Undo",
        "actor": actor.id,
        "object": inner,
    }


def later(moment: datetime, minutes: int = 5) -> datetime:
    return moment + timedelta(minutes=minutes)
