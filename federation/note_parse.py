"""Incoming notes: any status-like object → ``NoteView``.

Incoming objects of any status-like type are parsed once by ``parse_note`` into a
``NoteView``, with the other servers' quirks handled here. ``parse_note`` raises only
``ParseError``. Addressing and outgoing notes are :mod:`federation.notes`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from federation.errors import ParseError
from federation.notes import Attachment
from federation.parse import as_list, id_of, origin_of
from federation.sanitize import sanitize_html
from federation.vocab import ACTOR_TYPES, PUBLIC, PUBLIC_ALIASES

# Interop: Mastodon reads Note and Question as statuses and converts the others
# (ActivityPub::Activity::Create, SUPPORTED_TYPES + CONVERTED_TYPES).
NOTE_TYPES: Final = frozenset(
    {"Note", "Question", "Article", "Page", "Image", "Audio", "Video", "Event"}
)
_CONVERTED_TYPES: Final = NOTE_TYPES - {"Note", "Question"}
# Interop: quote properties in Mastodon's order (StatusParser#quote_uri): FEP-044f, Misskey,
# Pleroma/Misskey ``quoteUrl``, Fedibird ``quoteUri``; the first usable one wins.
_QUOTE_KEYS: Final = ("quote", "_misskey_quote", "quoteUrl", "quoteUri")
MAX_TAGS: Final = 200
MAX_ATTACHMENTS: Final = 16
MAX_DESCRIPTION: Final = 10_000  # Mastodon keeps this much of a remote description
_LANGUAGE: Final = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_BLURHASH: Final = re.compile(r"[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{6,100}")
_SURROGATES: Final = re.compile("[\ud800-\udfff]")
_FRACTION: Final = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class NoteView:
    """An incoming status-like object, reduced to what Myna uses."""

    id: str
    type: str
    attributed_to: str
    content: str  # sanitised HTML
    summary: str | None  # content warning, plain text as sent
    sensitive: bool
    language: str | None
    in_reply_to: str | None
    published: datetime | None
    updated: datetime | None
    url: str | None
    to: tuple[str, ...]  # Public aliases normalised to the full IRI
    cc: tuple[str, ...]
    mentions: tuple[str, ...]  # hrefs of Mention tags
    hashtags: tuple[str, ...]  # names of Hashtag tags, lower-cased, without "#"
    attachments: tuple[Attachment, ...]
    quote: str | None
    raw: Mapping[str, Any]


def _clean(value: str) -> str:
    return _SURROGATES.sub("\ufffd", value)


def _string(value: Any) -> str | None:
    return _clean(value) if isinstance(value, str) else None


def _http_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL with a host, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        origin_of(value)
    except ParseError:
        return None
    return _clean(value)


def _types(doc: Mapping[str, Any]) -> list[str]:
    return [t for t in as_list(doc.get("type")) if isinstance(t, str)]


def _href(value: Any, *, prefer: str | None = None) -> str | None:
    """The first http(s) URL of a url-like value: a string, a Link (``href``), an object
    (``id`` or ``url``), or a list of these; the entry with ``mediaType == prefer`` first."""
    candidates: list[tuple[bool, str]] = []
    for item in as_list(value)[:20]:
        url: str | None = None
        preferred = False
        if isinstance(item, str):
            url = _http_url(item)
        elif isinstance(item, Mapping):
            url = (
                _http_url(item.get("href"))
                or _http_url(item.get("url"))
                or _http_url(item.get("id"))
            )
            preferred = prefer is not None and item.get("mediaType") == prefer
        if url:
            candidates.append((preferred, url))
    for preferred, url in candidates:
        if preferred:
            return url
    return candidates[0][1] if candidates else None


def _reference(value: Any) -> str | None:
    """The http(s) id of a reference: a string, an embedded object, or the first of a list."""
    for item in as_list(value)[:20]:
        url = _http_url(id_of(item))
        if url:
            return url
    return None


def _actor(value: Any) -> str | None:
    """The first actor-like entry of ``attributedTo``: a string, or an object whose type is
    an actor type (or absent). Interop: PeerTube sends [Person, Group] objects."""
    for item in as_list(value)[:20]:
        if isinstance(item, Mapping):
            types = _types(item)
            if types and not any(t in ACTOR_TYPES for t in types):
                continue
            item = id_of(item)
        url = _http_url(item)
        if url:
            return url
    return None


def _datetime(value: Any) -> datetime | None:
    """Parse an ISO 8601 / RFC 3339 timestamp (``Z`` or an offset); naive means UTC."""
    if not isinstance(value, str) or not 10 <= len(value) <= 64:
        return None
    text = _FRACTION.sub(r"\1", value.strip())  # Interop: more than 6 fraction digits
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _audience(value: Any) -> tuple[str, ...]:
    out: list[str] = []
    for item in as_list(value):
        entry = id_of(item)
        if entry is None:
            continue
        entry = PUBLIC if entry in PUBLIC_ALIASES else _clean(entry)
        if entry not in out:
            out.append(entry)
    return tuple(out)


def _language_map(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        return []
    return [(k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str)]


def _language(tag: str | None) -> str | None:
    if tag is None or len(tag) > 35 or not _LANGUAGE.fullmatch(tag) or tag.lower() == "und":
        return None
    return tag


def _content(doc: Mapping[str, Any], note_type: str) -> tuple[str, str | None]:
    """Return (raw HTML, language) from ``content`` / ``contentMap`` (interop.md 4.7).

    ``content`` wins; its language is the ``contentMap`` key whose value equals it (as
    GoToSocial does), else the first key (as Mastodon does). Without ``content`` the first
    ``contentMap`` entry gives both. Converted types (Article, Page...) fall back to ``name``.
    """
    content = doc.get("content")
    entries = _language_map(doc.get("contentMap"))
    if isinstance(content, str) and content:
        matching = [key for key, value in entries if value == content]
        key = matching[0] if matching else (entries[0][0] if entries else None)
        return content, _language(key)
    if entries:
        return entries[0][1], _language(entries[0][0])
    name = doc.get("name")
    if note_type in _CONVERTED_TYPES and isinstance(name, str) and name.strip():
        names = _language_map(doc.get("nameMap"))
        return f"<p>{html.escape(name)}</p>", _language(names[0][0] if names else None)
    return "", None


def _summary(doc: Mapping[str, Any]) -> str | None:
    summary = doc.get("summary")
    if not isinstance(summary, str):
        entries = _language_map(doc.get("summaryMap"))
        summary = entries[0][1] if entries else None
    if summary is None or not summary.strip():
        return None
    return _clean(summary)


def _tags(doc: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    mentions: list[str] = []
    hashtags: list[str] = []
    for tag in as_list(doc.get("tag"))[:MAX_TAGS]:
        if not isinstance(tag, Mapping):
            continue
        types = _types(tag)
        if "Mention" in types:
            href = _http_url(tag.get("href"))
            if href and href not in mentions:
                mentions.append(href)
        elif "Hashtag" in types:
            name = tag.get("name")
            if isinstance(name, str):
                name = _clean(name).strip().lstrip("#").strip().lower()
                if name and len(name) <= 256 and name not in hashtags:
                    hashtags.append(name)
    return tuple(mentions), tuple(hashtags)


def _dimension(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000:
        return value
    return None


def _attachments(doc: Mapping[str, Any]) -> tuple[Attachment, ...]:
    out: list[Attachment] = []
    for item in as_list(doc.get("attachment"))[:MAX_ATTACHMENTS]:
        if not isinstance(item, Mapping) or "Link" in _types(item):
            continue  # Interop: Mastodon 4.7 sends its preview card as a Link attachment
        url = _href(item.get("url"))
        if url is None:
            continue
        media_type = _string(item.get("mediaType"))
        if not media_type:
            # Interop: old Pleroma puts mediaType on the Link inside ``url``.
            links = [u for u in as_list(item.get("url")) if isinstance(u, Mapping)]
            media_type = next(
                (
                    _clean(m)
                    for m in (link.get("mediaType") for link in links)
                    if isinstance(m, str)
                ),
                "application/octet-stream",
            )
        # Interop: Mastodon reads ``summary`` first, then ``name`` (MediaAttachmentParser).
        description = _string(item.get("summary")) or _string(item.get("name")) or ""
        description = description.strip()[:MAX_DESCRIPTION]
        blurhash = item.get("blurhash")
        out.append(
            Attachment(
                url=url,
                media_type=media_type,
                name=description or None,
                width=_dimension(item.get("width")),
                height=_dimension(item.get("height")),
                blurhash=blurhash
                if isinstance(blurhash, str) and _BLURHASH.fullmatch(blurhash)
                else None,
            )
        )
    return tuple(out)


def _quote(doc: Mapping[str, Any]) -> str | None:
    for key in _QUOTE_KEYS:
        quoted = _reference(doc.get(key))
        if quoted:
            return quoted
    return None


def parse_note(doc: Any) -> NoteView:
    """Return the ``NoteView`` of a Note-like object (Note, Question, Article, Page, Image,
    Audio, Video, Event).

    Raises ParseError when ``doc`` is not a JSON object, has no http(s) ``id``, is not of a
    status type, or has no actor in ``attributedTo``. Everything else is optional and
    tolerated in the shapes other servers send (see the module's helpers); ``content`` is
    passed through ``sanitize_html``. ``proof`` and ``signature`` are ignored. ``doc`` is not
    modified; it is kept as ``raw``.
    """
    if not isinstance(doc, Mapping):
        raise ParseError("note must be a JSON object")
    note_id = doc.get("id")
    if not isinstance(note_id, str) or not note_id:
        raise ParseError("note has no id")
    origin_of(note_id)
    note_type = next((t for t in _types(doc) if t in NOTE_TYPES), None)
    if note_type is None:
        raise ParseError(f"not a note type: {str(doc.get('type'))[:64]}")
    attributed_to = _actor(doc.get("attributedTo"))
    if attributed_to is None:
        raise ParseError("note has no attributedTo")
    content, language = _content(doc, note_type)
    mentions, hashtags = _tags(doc)
    return NoteView(
        id=_clean(note_id),
        type=note_type,
        attributed_to=attributed_to,
        content=sanitize_html(content),
        summary=_summary(doc),
        sensitive=doc.get("sensitive") is True,
        language=language,
        in_reply_to=_reference(doc.get("inReplyTo")),
        published=_datetime(doc.get("published")),
        updated=_datetime(doc.get("updated")),
        url=_href(doc.get("url"), prefer="text/html"),
        to=_audience(doc.get("to")),
        cc=_audience(doc.get("cc")),
        mentions=mentions,
        hashtags=hashtags,
        attachments=_attachments(doc),
        quote=_quote(doc),
        raw=doc,
    )
