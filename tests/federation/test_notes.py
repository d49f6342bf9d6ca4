"""Tests for federation.notes: addressing ↔ visibility and build_note (parse_note is in
test_note_parse.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from federation.note_parse import parse_note
from federation.notes import (
    Attachment,
    NoteData,
    Visibility,
    addressing,
    build_note,
    hashtag_tag,
    mention_tag,
    visibility_of,
)
from federation.vocab import ACTIVITY_CONTEXT, AS_NS, EXTENSIONS, PUBLIC

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notes"
ME = "https://myna.example/users/me"
FOLLOWERS = ME + "/followers"
BOB = "https://mastodon.example/users/bob"
EVE = "https://gts.example/users/eve"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


# --- addressing / visibility --------------------------------------------------------------

VISIBILITIES: list[Visibility] = ["public", "unlisted", "followers", "direct"]


@pytest.mark.parametrize(
    ("visibility", "to", "cc"),
    [
        ("public", [PUBLIC], [FOLLOWERS, BOB, EVE]),
        ("unlisted", [FOLLOWERS], [PUBLIC, BOB, EVE]),
        ("followers", [FOLLOWERS], [BOB, EVE]),
        ("direct", [BOB, EVE], []),
    ],
)
def test_addressing_matches_mastodon(visibility: Visibility, to: list[str], cc: list[str]) -> None:
    assert addressing(visibility, followers_url=FOLLOWERS, mentioned=[BOB, EVE, BOB]) == (to, cc)


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("mentioned", [[], [BOB], [BOB, EVE]])
def test_visibility_of_addressing_round_trips(visibility: Visibility, mentioned: list[str]) -> None:
    to, cc = addressing(visibility, followers_url=FOLLOWERS, mentioned=mentioned)
    assert visibility_of(to, cc, FOLLOWERS) == visibility


def test_addressing_rejects_unknown_visibility() -> None:
    with pytest.raises(ValueError, match="visibility"):
        addressing("private", followers_url=FOLLOWERS, mentioned=[])  # type: ignore[arg-type]


def test_followers_only_in_cc_is_direct_not_followers_only() -> None:
    """Mastodon checks ``audience_to.include?(followers)`` (interop.md 4.10 a)."""
    assert visibility_of([BOB], [FOLLOWERS], FOLLOWERS) == "direct"


@pytest.mark.parametrize("alias", ["as:Public", "Public", PUBLIC])
def test_visibility_of_accepts_public_aliases(alias: str) -> None:
    assert visibility_of([alias], [], None) == "public"
    assert visibility_of([FOLLOWERS], [alias], FOLLOWERS) == "unlisted"


def test_visibility_of_without_a_followers_url_is_direct() -> None:
    assert visibility_of([FOLLOWERS], [], None) == "direct"


@pytest.mark.parametrize(
    ("name", "visibility"),
    [
        ("mastodon-note.json", "public"),
        ("gotosocial-note.json", "public"),
        ("misskey-note.json", "unlisted"),
        ("pleroma-note.json", "unlisted"),
    ],
)
def test_visibility_of_real_payloads(name: str, visibility: Visibility) -> None:
    view = parse_note(fixture(name))
    followers = view.attributed_to + "/followers"
    assert visibility_of(view.to, view.cc, followers) == visibility


# --- build_note ---------------------------------------------------------------------------

PUBLISHED = datetime(2026, 8, 21, 10, 0, tzinfo=UTC)


def note_data(**changes: Any) -> NoteData:
    values: dict[str, Any] = {
        "id": ME + "/statuses/1",
        "url": "https://myna.example/@me/1",
        "attributed_to": ME,
        "content": "<p>hello</p>",
        "summary": None,
        "sensitive": False,
        "language": None,
        "published": PUBLISHED,
        "updated": None,
        "in_reply_to": None,
        "to": [PUBLIC],
        "cc": [FOLLOWERS],
        "tags": [],
        "attachments": [],
        "replies": None,
    }
    values.update(changes)
    return NoteData(**values)


def test_build_note_minimal_golden() -> None:
    assert build_note(note_data()) == {
        "@context": ["https://www.w3.org/ns/activitystreams", EXTENSIONS],
        "id": "https://myna.example/users/me/statuses/1",
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": "2026-08-21T10:00:00Z",
        "url": "https://myna.example/@me/1",
        "attributedTo": "https://myna.example/users/me",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://myna.example/users/me/followers"],
        "sensitive": False,
        "content": "<p>hello</p>",
        "attachment": [],
        "tag": [],
    }


def test_build_note_full_golden() -> None:
    data = note_data(
        content='<p>hi <span class="h-card">@bob</span> #cats</p>',
        summary="cw",
        sensitive=True,
        language="en",
        updated=datetime(2026, 8, 21, 12, 30, 5, tzinfo=timezone(timedelta(hours=2))),
        in_reply_to="https://mastodon.example/users/bob/statuses/9",
        cc=[FOLLOWERS, BOB],
        tags=[
            mention_tag(BOB, "bob@mastodon.example"),
            hashtag_tag("cats", "https://myna.example/tags/cats"),
        ],
        attachments=[
            Attachment(
                "https://myna.example/media/1.png", "image/png", "a cat", 640, 480, "LEHV6n"
            ),
            Attachment("https://myna.example/media/2.mp4", "video/mp4", None, None, None, None),
        ],
        replies=ME + "/statuses/1/replies",
        source="hi @bob@mastodon.example #cats",
        generator={"type": "Application", "name": "Myna"},
    )
    assert build_note(data) == {
        "@context": ["https://www.w3.org/ns/activitystreams", EXTENSIONS],
        "id": "https://myna.example/users/me/statuses/1",
        "type": "Note",
        "summary": "cw",
        "inReplyTo": "https://mastodon.example/users/bob/statuses/9",
        "published": "2026-08-21T10:00:00Z",
        "url": "https://myna.example/@me/1",
        "attributedTo": "https://myna.example/users/me",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://myna.example/users/me/followers", "https://mastodon.example/users/bob"],
        "sensitive": True,
        "content": '<p>hi <span class="h-card">@bob</span> #cats</p>',
        "contentMap": {"en": '<p>hi <span class="h-card">@bob</span> #cats</p>'},
        "updated": "2026-08-21T10:30:05Z",
        "attachment": [
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": "https://myna.example/media/1.png",
                "name": "a cat",
                "width": 640,
                "height": 480,
                "blurhash": "LEHV6n",
            },
            {
                "type": "Document",
                "mediaType": "video/mp4",
                "url": "https://myna.example/media/2.mp4",
            },
        ],
        "tag": [
            {
                "type": "Mention",
                "href": "https://mastodon.example/users/bob",
                "name": "@bob@mastodon.example",
            },
            {"type": "Hashtag", "href": "https://myna.example/tags/cats", "name": "#cats"},
        ],
        "replies": "https://myna.example/users/me/statuses/1/replies",
        "source": {"content": "hi @bob@mastodon.example #cats", "mediaType": "text/plain"},
        "generator": {"type": "Application", "name": "Myna"},
    }


def test_build_note_quote_sets_all_three_properties_and_their_context() -> None:
    quoted = "https://mastodon.example/users/bob/statuses/7"
    doc = build_note(note_data(quote=quoted))
    assert doc["quote"] == doc["quoteUrl"] == doc["_misskey_quote"] == quoted
    context = doc["@context"]
    assert context[0] == AS_NS
    assert context[1]["quote"] == {"@id": "https://w3id.org/fep/044f#quote", "@type": "@id"}
    assert context[1]["quoteUrl"] == "as:quoteUrl"
    assert context[1]["_misskey_quote"] == "https://misskey-hub.net/ns#_misskey_quote"
    assert context[1]["sensitive"] == "as:sensitive"
    assert parse_note(doc).quote == quoted


def test_build_note_does_not_share_or_mutate_its_inputs() -> None:
    tags = [{"type": "Hashtag", "href": "https://myna.example/tags/x", "name": "#x"}]
    data = note_data(tags=tags)
    doc = build_note(data)
    doc["tag"][0]["name"] = "#changed"
    doc["@context"].append("x")
    assert tags[0]["name"] == "#x"
    assert ACTIVITY_CONTEXT == [AS_NS, EXTENSIONS]


def test_mention_and_hashtag_tags_normalise_their_prefix() -> None:
    assert mention_tag(BOB, "@bob@mastodon.example") == mention_tag(BOB, "bob@mastodon.example")
    assert mention_tag(BOB, "bob@mastodon.example")["name"] == "@bob@mastodon.example"
    assert hashtag_tag("#cats", "h") == {"type": "Hashtag", "href": "h", "name": "#cats"}


def test_build_note_round_trips_through_parse_note() -> None:
    data = note_data(
        language="fr",
        summary="attention",
        in_reply_to="https://mastodon.example/users/bob/statuses/9",
        tags=[mention_tag(BOB, "bob@mastodon.example"), hashtag_tag("Chats", "https://t/c")],
        attachments=[Attachment("https://myna.example/m.png", "image/png", "alt", 2, 3, None)],
        updated=PUBLISHED + timedelta(minutes=5),
    )
    view = parse_note(build_note(data))
    assert view.id == data.id and view.type == "Note" and view.attributed_to == ME
    assert view.content == "<p>hello</p>" and view.language == "fr"
    assert view.summary == "attention" and view.sensitive is False
    assert view.published == PUBLISHED and view.updated == PUBLISHED + timedelta(minutes=5)
    assert view.in_reply_to == data.in_reply_to and view.url == data.url
    assert view.to == (PUBLIC,) and view.cc == (FOLLOWERS,)
    assert view.mentions == (BOB,) and view.hashtags == ("chats",)
    assert view.attachments == (Attachment("https://myna.example/m.png", "image/png", "alt", 2, 3),)
