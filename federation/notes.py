"""Note objects: addressing ↔ visibility and the outgoing ``Note``.

Outgoing notes are built by ``build_note`` from a ``NoteData``; ``addressing`` gives the
``to``/``cc`` Mastodon expects for each visibility (interop.md 4.10). Incoming notes are
parsed by :mod:`federation.note_parse`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from federation.builders import isoformat
from federation.vocab import (
    ACTIVITY_CONTEXT,
    AS_NS,
    EXTENSIONS,
    PUBLIC,
    PUBLIC_ALIASES,
)

Visibility = Literal["public", "unlisted", "followers", "direct"]

# --- addressing ---------------------------------------------------------------------------


def _dedupe(values: Sequence[str], *, skip: set[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value not in skip and value not in out:
            out.append(value)
    return out


def addressing(
    visibility: Visibility, *, followers_url: str, mentioned: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Return ``(to, cc)`` for a note of ``visibility``, exactly as Mastodon addresses it.

    public: to [Public], cc [followers, *mentioned]; unlisted: to [followers],
    cc [Public, *mentioned]; followers: to [followers], cc [*mentioned] (Mastodon counts a
    post as followers-only only when the followers collection is in ``to``); direct:
    to [*mentioned], cc []. Mentioned actor ids are deduplicated, order kept.
    Raises ValueError for an unknown visibility.
    """
    people = _dedupe(mentioned, skip={followers_url, *PUBLIC_ALIASES})
    if visibility == "public":
        return [PUBLIC], [followers_url, *people]
    if visibility == "unlisted":
        return [followers_url], [PUBLIC, *people]
    if visibility == "followers":
        return [followers_url], people
    if visibility == "direct":
        return people, []
    raise ValueError(f"unknown visibility: {visibility!r}")


def _is_public(value: object) -> bool:
    return isinstance(value, str) and value in PUBLIC_ALIASES


def visibility_of(to: Sequence[str], cc: Sequence[str], followers_url: str | None) -> Visibility:
    """Return the visibility Mastodon's ``StatusParser#visibility`` computes from the audience.

    Public (or ``as:Public`` / ``Public``) in ``to`` → public; in ``cc`` → unlisted; the
    author's followers collection in ``to`` → followers; anything else → direct (Mastodon's
    "limited" and "direct"). A followers collection only in ``cc`` is therefore direct.
    """
    if any(_is_public(item) for item in to):
        return "public"
    if any(_is_public(item) for item in cc):
        return "unlisted"
    if followers_url is not None and followers_url in to:
        return "followers"
    return "direct"


# --- outgoing notes -----------------------------------------------------------------------

# Interop: the terms Mastodon (ContextHelper :quotes), Misskey (ApRendererService#addContext)
# and Pleroma use for quote posts; FEP-044f ``quote`` is the one Mastodon ≥ 4.4 reads first.
QUOTE_CONTEXT: Final[dict[str, Any]] = {
    "quote": {"@id": "https://w3id.org/fep/044f#quote", "@type": "@id"},
    "quoteUrl": "as:quoteUrl",
    "_misskey_quote": "https://misskey-hub.net/ns#_misskey_quote",
}


@dataclass(frozen=True)
class Attachment:
    """A media attachment, as sent and as read."""

    url: str
    media_type: str
    name: str | None = None  # the alt text
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None


@dataclass(frozen=True)
class NoteData:
    """Everything that goes into a local ``Note``."""

    id: str
    url: str
    attributed_to: str
    content: str  # HTML
    summary: str | None  # content warning, plain text
    sensitive: bool
    language: str | None
    published: datetime
    updated: datetime | None
    in_reply_to: str | None
    to: Sequence[str]
    cc: Sequence[str]
    tags: Sequence[Mapping[str, Any]]
    attachments: Sequence[Attachment]
    replies: str | None  # the replies collection id
    source: str | None = None  # the plain text the owner typed
    generator: Mapping[str, Any] | None = None
    quote: str | None = None  # id of the quoted note


def mention_tag(href: str, handle: str) -> dict[str, Any]:
    """``{"type": "Mention", "href": actor id, "name": "@user@host"}``."""
    return {"type": "Mention", "href": href, "name": "@" + handle.lstrip("@")}


def hashtag_tag(name: str, href: str) -> dict[str, Any]:
    """``{"type": "Hashtag", "href": tag page, "name": "#name"}``."""
    return {"type": "Hashtag", "href": href, "name": "#" + name.lstrip("#")}


def _attachment(attachment: Attachment) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "Document",
        "mediaType": attachment.media_type,
        "url": attachment.url,
    }
    optional = {
        "name": attachment.name,
        "width": attachment.width,
        "height": attachment.height,
        "blurhash": attachment.blurhash,
    }
    doc.update({key: value for key, value in optional.items() if value is not None})
    return doc


def build_note(note: NoteData) -> dict[str, Any]:
    """Return the ``Note`` document for ``note``, shaped like Mastodon's NoteSerializer.

    ``summary`` and ``inReplyTo`` are ``null`` when absent (as Mastodon sends them);
    ``contentMap`` is present only with a language, ``updated`` only after an edit (Mastodon
    ignores content changes in an Update without a newer ``updated``). ``tag`` and
    ``attachment`` are always lists. ``replies`` is the replies collection id as a link (not
    an embedded first page): Mastodon dereferences it when it wants replies. ``source``
    carries the typed text as ``text/plain``; a quote sets ``quote``, ``quoteUrl`` and
    ``_misskey_quote`` to the quoted id and adds their terms to the context.
    """
    context: list[Any] = list(ACTIVITY_CONTEXT)
    if note.quote:
        context = [AS_NS, {**EXTENSIONS, **QUOTE_CONTEXT}]
    doc: dict[str, Any] = {
        "@context": context,
        "id": note.id,
        "type": "Note",
        "summary": note.summary or None,
        "inReplyTo": note.in_reply_to,
        "published": isoformat(note.published),
        "url": note.url,
        "attributedTo": note.attributed_to,
        "to": list(note.to),
        "cc": list(note.cc),
        "sensitive": note.sensitive,
        "content": note.content,
    }
    if note.language:
        doc["contentMap"] = {note.language: note.content}
    if note.updated is not None:
        doc["updated"] = isoformat(note.updated)
    doc["attachment"] = [_attachment(a) for a in note.attachments]
    doc["tag"] = [dict(tag) for tag in note.tags]
    if note.replies:
        doc["replies"] = note.replies
    if note.source is not None:
        doc["source"] = {"content": note.source, "mediaType": "text/plain"}
    if note.generator is not None:
        doc["generator"] = dict(note.generator)
    if note.quote:
        doc["quote"] = note.quote
        doc["quoteUrl"] = note.quote
        doc["_misskey_quote"] = note.quote
    return doc
