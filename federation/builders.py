"""Pure builders of outgoing ActivityStreams JSON. They never mutate their inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from federation.vocab import ACTIVITY_CONTEXT, ACTOR_CONTEXT, AS_NS

WEBFINGER_CONTEXT = "https://purl.archive.org/socialweb/webfinger"


def isoformat(moment: datetime) -> str:
    """``2026-08-21T10:00:00Z``: UTC, seconds precision, as Mastodon emits (aware input)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Image:
    url: str
    media_type: str
    description: str | None = None


@dataclass(frozen=True)
class ActorProfile:
    """Everything that goes into a local actor document."""

    id: str
    type: str
    username: str
    webfinger: str
    name: str
    summary_html: str
    profile_url: str
    inbox: str
    outbox: str
    followers: str
    following: str
    featured: str
    featured_tags: str
    shared_inbox: str
    public_key_pem: str
    ed25519_multibase: str | None
    manually_approves_followers: bool
    discoverable: bool
    indexable: bool
    published: datetime
    icon: Image | None
    header: Image | None
    fields: Sequence[tuple[str, str]]  # (name, value HTML)


def _image(image: Image) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "Image", "mediaType": image.media_type, "url": image.url}
    if image.description:
        doc["name"] = image.description
    return doc


def build_actor(profile: ActorProfile) -> dict[str, Any]:
    """Return the actor document with every field Mastodon reads (interop.md section 2.3)."""
    doc: dict[str, Any] = {
        "@context": [*ACTOR_CONTEXT, WEBFINGER_CONTEXT],
        "id": profile.id,
        "type": profile.type,
        "preferredUsername": profile.username,
        "webfinger": profile.webfinger,
        "name": profile.name,
        "summary": profile.summary_html,
        "url": profile.profile_url,
        "inbox": profile.inbox,
        "outbox": profile.outbox,
        "followers": profile.followers,
        "following": profile.following,
        "featured": profile.featured,
        "featuredTags": profile.featured_tags,
        "endpoints": {"sharedInbox": profile.shared_inbox},
        "manuallyApprovesFollowers": profile.manually_approves_followers,
        "discoverable": profile.discoverable,
        "indexable": profile.indexable,
        "published": isoformat(profile.published),
        "publicKey": {
            "id": f"{profile.id}#main-key",
            "owner": profile.id,
            "publicKeyPem": profile.public_key_pem,
        },
        "attachment": [
            {"type": "PropertyValue", "name": name, "value": value}
            for name, value in profile.fields
        ],
        "tag": [],
    }
    if profile.ed25519_multibase:
        doc["assertionMethod"] = [
            {
                "id": f"{profile.id}#ed25519-key",
                "type": "Multikey",
                "controller": profile.id,
                "publicKeyMultibase": profile.ed25519_multibase,
            }
        ]
    if profile.icon:
        doc["icon"] = _image(profile.icon)
    if profile.header:
        doc["image"] = _image(profile.header)
    return doc


def build_instance_actor(
    *, actor_id: str, domain: str, inbox: str, outbox: str, profile_url: str, public_key_pem: str
) -> dict[str, Any]:
    """Return the server's own ``Application`` actor, used to sign outbound GETs."""
    return {
        "@context": list(ACTOR_CONTEXT),
        "id": actor_id,
        "type": "Application",
        "preferredUsername": domain.split(":")[0],
        "name": domain,
        "url": profile_url,
        "inbox": inbox,
        "outbox": outbox,
        "manuallyApprovesFollowers": True,
        "discoverable": False,
        "indexable": False,
        "publicKey": {
            "id": f"{actor_id}#main-key",
            "owner": actor_id,
            "publicKeyPem": public_key_pem,
        },
    }


def _strip_context(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "@context"}


def build_accept(*, accept_id: str, actor: str, follow: Mapping[str, Any]) -> dict[str, Any]:
    """An ``Accept`` embedding the received Follow with its original id (interop.md 4.3)."""
    return {
        "@context": AS_NS,
        "id": accept_id,
        "type": "Accept",
        "actor": actor,
        "object": _strip_context(follow),
    }


def build_reject(*, reject_id: str, actor: str, follow: Mapping[str, Any]) -> dict[str, Any]:
    """A ``Reject`` of the same shape as ``build_accept``."""
    return {
        "@context": AS_NS,
        "id": reject_id,
        "type": "Reject",
        "actor": actor,
        "object": _strip_context(follow),
    }


def build_follow(*, follow_id: str, actor: str, target: str) -> dict[str, Any]:
    return {"@context": AS_NS, "id": follow_id, "type": "Follow", "actor": actor, "object": target}


def build_undo(*, undo_id: str, actor: str, activity: Mapping[str, Any]) -> dict[str, Any]:
    """An ``Undo`` embedding the original activity (Mastodon matches Undo by embedded object)."""
    return {
        "@context": AS_NS,
        "id": undo_id,
        "type": "Undo",
        "actor": actor,
        "object": _strip_context(activity),
    }


def build_ordered_collection(
    *,
    collection_id: str,
    total: int,
    first: str | None = None,
    items: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """An ``OrderedCollection`` with ``totalItems``; ``first`` links a page, or items inline."""
    doc: dict[str, Any] = {
        "@context": list(ACTIVITY_CONTEXT),
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first is not None:
        doc["first"] = first
    if items is not None:
        doc["orderedItems"] = list(items)
    return doc


def build_collection_page(
    *,
    page_id: str,
    part_of: str,
    items: Sequence[Any],
    next_page: str | None = None,
    prev_page: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": list(ACTIVITY_CONTEXT),
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": list(items),
    }
    if next_page:
        doc["next"] = next_page
    if prev_page:
        doc["prev"] = prev_page
    return doc
