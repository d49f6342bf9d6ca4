"""Parse incoming ActivityStreams JSON once, at the boundary, into small typed views.

Tolerance for other servers' quirks (a single value where a list is expected, an object where
an id is expected) lives here. Every function raises only ``ParseError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from federation.errors import ParseError
from federation.vocab import ACTIVITY_TYPES, ACTOR_TYPES, AS_NS


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list: ``None`` → [], a scalar or object → [value]."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def id_of(value: Any) -> str | None:
    """Return the id of a link, an embedded object, or a bare id string; None if there is none."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        inner = value.get("id")
        return inner if isinstance(inner, str) and inner else None
    return None


def origin_of(url: str) -> str:
    """Return ``scheme://host[:port]`` in lower case, or raise ParseError for a non-http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ParseError(f"invalid URL: {url[:100]!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ParseError(f"not an http(s) URL: {url[:100]!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def host_of(url: str) -> str:
    """Return the lower-cased hostname of an http(s) URL (ParseError otherwise)."""
    hostname = urlsplit(origin_of(url)).hostname
    assert hostname is not None
    return hostname


def same_origin(a: str, b: str) -> bool:
    """True when both are http(s) URLs on the same host (case-insensitive), per Mastodon."""
    try:
        return host_of(a) == host_of(b)
    except ParseError:
        return False


def _str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def _type_of(doc: Mapping[str, Any]) -> str | None:
    for candidate in as_list(doc.get("type")):
        if isinstance(candidate, str):
            return candidate
    return None


def has_as_context(doc: Mapping[str, Any]) -> bool:
    """True when ``@context`` is or contains the ActivityStreams namespace."""
    return any(
        c in (AS_NS, AS_NS + "#", "http://www.w3.org/ns/activitystreams")
        for c in as_list(doc.get("@context"))
    )


@dataclass(frozen=True)
class Activity:
    """An incoming activity: what the inbox and the router need to know about it."""

    id: str
    type: str
    actor: str
    object_id: str | None
    object: Mapping[str, Any] | None
    raw: Mapping[str, Any]


def parse_activity(doc: Any) -> Activity:
    """Return the ``Activity`` view of ``doc``.

    Raises ParseError when it is not a JSON object with a string ``id``, a ``type`` and an
    ``actor`` that are http(s) URLs, or when the type is not an activity type Myna knows.
    """
    if not isinstance(doc, Mapping):
        raise ParseError("activity must be a JSON object")
    activity_id = _str(doc, "id")
    if not activity_id:
        raise ParseError("activity has no id")
    origin_of(activity_id)
    activity_type = _type_of(doc)
    if not activity_type:
        raise ParseError("activity has no type")
    if activity_type not in ACTIVITY_TYPES:
        raise ParseError(f"unsupported activity type: {activity_type[:64]}")
    actor = id_of(doc.get("actor"))
    if not actor:
        raise ParseError("activity has no actor")
    origin_of(actor)
    raw_object = doc.get("object")
    embedded = raw_object if isinstance(raw_object, Mapping) else None
    object_id = id_of(raw_object)
    if object_id is not None:
        if object_id.startswith(("http://", "https://")):
            origin_of(object_id)
    return Activity(activity_id, activity_type, actor, object_id, embedded, doc)


@dataclass(frozen=True)
class PublicKeyInfo:
    id: str
    owner: str
    pem: str


@dataclass(frozen=True)
class MultikeyInfo:
    id: str
    controller: str
    multibase: str


@dataclass(frozen=True)
class Actor:
    """A remote actor document, reduced to what Myna uses."""

    id: str
    type: str
    preferred_username: str | None
    name: str | None
    inbox: str
    shared_inbox: str | None
    url: str | None
    followers: str | None
    public_keys: tuple[PublicKeyInfo, ...]
    multikeys: tuple[MultikeyInfo, ...]
    raw: Mapping[str, Any]


def parse_actor(doc: Any) -> Actor:
    """Return the ``Actor`` view of ``doc``; ParseError if it is not a usable actor."""
    if not isinstance(doc, Mapping):
        raise ParseError("actor must be a JSON object")
    actor_id = _str(doc, "id")
    if not actor_id:
        raise ParseError("actor has no id")
    origin_of(actor_id)
    actor_type = _type_of(doc)
    if actor_type not in ACTOR_TYPES:
        raise ParseError(f"not an actor type: {str(actor_type)[:64]}")
    inbox = id_of(doc.get("inbox"))
    if not inbox:
        raise ParseError("actor has no inbox")
    origin_of(inbox)
    endpoints = doc.get("endpoints")
    shared = id_of(endpoints.get("sharedInbox")) if isinstance(endpoints, Mapping) else None
    shared = shared or id_of(doc.get("sharedInbox"))
    if shared is not None:
        origin_of(shared)
    keys = []
    for entry in as_list(doc.get("publicKey"))[:10]:
        if isinstance(entry, Mapping):
            key_id, pem = _str(entry, "id"), _str(entry, "publicKeyPem")
            if key_id and pem:
                keys.append(PublicKeyInfo(key_id, id_of(entry.get("owner")) or actor_id, pem))
    multikeys = []
    for entry in as_list(doc.get("assertionMethod"))[:10]:
        if isinstance(entry, Mapping) and _type_of(entry) == "Multikey":
            key_id, value = _str(entry, "id"), _str(entry, "publicKeyMultibase")
            if key_id and value:
                controller = id_of(entry.get("controller")) or actor_id
                multikeys.append(MultikeyInfo(key_id, controller, value))
    url = next(
        (
            u
            for u in (
                id_of(v) or (v.get("href") if isinstance(v, Mapping) else None)
                for v in as_list(doc.get("url"))
            )
            if isinstance(u, str)
        ),
        None,
    )
    name = _str(doc, "name")
    return Actor(
        id=actor_id,
        type=str(actor_type),
        preferred_username=_str(doc, "preferredUsername"),
        name=name,
        inbox=inbox,
        shared_inbox=shared,
        url=url,
        followers=id_of(doc.get("followers")),
        public_keys=tuple(keys),
        multikeys=tuple(multikeys),
        raw=doc,
    )
