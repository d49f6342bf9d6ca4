"""Tests for federation.note_parse: parse_note over real payloads (tests/fixtures/notes, see
SOURCES.md there) and every tolerated quirk."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import ParseError
from federation.note_parse import parse_note
from federation.notes import Attachment
from federation.vocab import PUBLIC

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notes"
ME = "https://myna.example/users/me"
FOLLOWERS = ME + "/followers"
BOB = "https://mastodon.example/users/bob"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def minimal(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "https://remote.example/notes/1",
        "type": "Note",
        "attributedTo": "https://remote.example/users/a",
        "content": "<p>hi</p>",
    }
    doc.update(extra)
    return doc


# --- parse_note: real payloads ------------------------------------------------------------


def test_parse_mastodon_note() -> None:
    doc = fixture("mastodon-note.json")
    view = parse_note(doc)
    assert view.id == "https://mastodon.example/users/alice/statuses/115072386420000001"
    assert view.type == "Note"
    assert view.attributed_to == "https://mastodon.example/users/alice"
    assert view.summary is None and view.sensitive is False
    assert view.language == "en"
    assert view.in_reply_to == "https://gts.example/users/bob/statuses/01K3B0000000000000000000AB"
    assert view.published == datetime(2025, 8, 20, 10, 0, tzinfo=UTC)
    assert view.updated == datetime(2025, 8, 20, 10, 7, 30, tzinfo=UTC)
    assert view.url == "https://mastodon.example/@alice/115072386420000001"
    assert view.to == (PUBLIC,)
    assert view.cc == (
        "https://mastodon.example/users/alice/followers",
        "https://gts.example/users/bob",
    )
    assert view.mentions == ("https://gts.example/users/bob",)
    assert view.hashtags == ("fediverse",)
    assert view.quote == "https://gts.example/users/bob/statuses/01K3A0000000000000000000CD"
    # The preview card (a Link attachment) is not media.
    assert view.attachments == (
        Attachment(
            url="https://files.mastodon.example/media_attachments/files/115/072/386/384/000/001/original/0a1b2c3d4e5f6789.jpg",
            media_type="image/jpeg",
            name="A black cat asleep on a keyboard",
            width=1920,
            height=1080,
            blurhash="UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
        ),
    )
    # Mastodon's own markup survives sanitising: h-card, invisible/ellipsis, quote-inline.
    assert '<span class="h-card" translate="no"><a href="https://gts.example/@bob"' in view.content
    assert '<span class="invisible">https://</span>' in view.content
    assert '<p class="quote-inline">RE: ' in view.content
    assert 'class="mention hashtag"' in view.content
    assert "translate=" in view.content
    assert view.raw is doc


def test_parse_gotosocial_note() -> None:
    view = parse_note(fixture("gotosocial-note.json"))
    assert view.id == "http://localhost:8080/users/admin/statuses/01F8MH75CBF9JFX4ZAD54N0W0R"
    assert view.attributed_to == "http://localhost:8080/users/admin"
    assert view.to == (PUBLIC,)  # a bare string
    assert view.cc == ("http://localhost:8080/users/admin/followers",)
    assert view.summary is None  # ""
    assert view.language == "en"
    assert view.hashtags == ("welcome",) and view.mentions == ()
    assert view.published == datetime(2021, 10, 20, 11, 36, 45, tzinfo=UTC)
    assert view.updated is None and view.in_reply_to is None and view.quote is None
    assert view.attachments == (
        Attachment(
            url="http://localhost:8080/fileserver/01F8MH17FWEB39HZJ76B6VXSKF/attachment/original/01F8MH6NEM8D7527KZAECTCR76.jpg",
            media_type="image/jpeg",
            name="Black and white image of some 50's style text saying: Welcome On Board",
            blurhash="LIIE|gRj00WB-;j[t7j[4nWBj[Rj",
        ),
    )
    assert view.content == (
        '<p>hello world! <a href="http://localhost:8080/tags/welcome" rel="nofollow noopener" '
        'target="_blank" class="mention hashtag">#<span>welcome</span></a> ! first post on the '
        "instance :rainbow: !</p>"
    )


def test_parse_misskey_note() -> None:
    view = parse_note(fixture("misskey-note.json"))
    assert view.attributed_to == "https://misskey.example/users/9zyx8wv7ut"
    assert view.quote == "https://mastodon.example/users/alice/statuses/115072386420000001"
    assert view.summary == "\u200b"  # a content warning with empty text, kept
    assert view.sensitive is True
    assert view.language is None
    assert view.published == datetime(2025, 8, 20, 11, 22, 33, 444000, tzinfo=UTC)
    assert view.in_reply_to is None  # null
    assert view.mentions == ("https://mastodon.example/users/alice",)
    assert view.hashtags == ("misskey",)
    assert view.attachments == (
        Attachment(
            "https://misskey.example/files/webpublic-3f1e2d4c-5b6a-4789-8abc-def012345678",
            "image/webp",
        ),
    )
    assert "<b>wow</b>" in view.content
    assert 'class="u-url mention"' in view.content


def test_parse_misskey_note_with_content_only_in_content_map() -> None:
    doc = fixture("misskey-note.json")
    html_text = doc.pop("content")
    doc["contentMap"] = {"ja": html_text}
    view = parse_note(doc)
    assert view.language == "ja"
    assert view.content == parse_note(fixture("misskey-note.json")).content


def test_parse_pleroma_note() -> None:
    doc = fixture("pleroma-note.json")
    view = parse_note(doc)
    assert view.id == "https://remote.example/objects/9f774c80-861c-4afc-9e80-223b39b6f10d"
    assert view.attributed_to == "https://remote.example/users/alice"
    assert view.to == (
        "https://remote.example/users/alice/followers",
        "https://local.example/club/test",
    )
    assert view.cc == (PUBLIC,)
    assert view.mentions == ("https://local.example/club/test",)
    assert view.summary is None
    assert view.published == datetime(2026, 8, 11, 2, 17, 57, 582854, tzinfo=UTC)
    assert view.updated == datetime(2026, 8, 11, 2, 18, 30, 96062, tzinfo=UTC)
    assert view.url is None and view.attachments == ()
    # data-user and rel="ugc" go; the h-card survives.
    assert view.content == (
        '<span class="h-card"><a href="https://local.example/club/test" rel="nofollow noopener" '
        'target="_blank" class="u-url mention">@<span>test</span></a></span> test2'
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_parse_note_does_not_mutate_real_payloads(name: str) -> None:
    doc = fixture(name)
    before = copy.deepcopy(doc)
    parse_note(doc)
    assert doc == before


# --- parse_note: one test per quirk -------------------------------------------------------


@pytest.mark.parametrize(
    "note_type", ["Note", "Question", "Article", "Page", "Image", "Audio", "Video", "Event"]
)
def test_parse_note_accepts_status_types(note_type: str) -> None:
    assert parse_note(minimal(type=note_type)).type == note_type


def test_parse_note_picks_the_known_type_out_of_a_list() -> None:
    assert parse_note(minimal(type=["Hashtag", "Note"])).type == "Note"


@pytest.mark.parametrize(
    "doc",
    [
        None,
        [],
        "https://remote.example/notes/1",
        minimal(id=None),
        minimal(id=""),
        minimal(id="urn:uuid:1"),
        minimal(id="https://"),
        minimal(type="Person"),
        minimal(type=None),
        minimal(attributedTo=None),
        minimal(attributedTo="not a url"),
        minimal(attributedTo=[{"type": "Collection", "id": "https://remote.example/c"}]),
    ],
)
def test_parse_note_rejects_unusable_documents(doc: Any) -> None:
    with pytest.raises(ParseError):
        parse_note(doc)


def test_attributed_to_as_an_object() -> None:
    doc = minimal(attributedTo={"type": "Person", "id": "https://remote.example/users/a"})
    assert parse_note(doc).attributed_to == "https://remote.example/users/a"


def test_attributed_to_as_a_peertube_list_takes_the_first_actor() -> None:
    doc = minimal(
        type="Video",
        attributedTo=[
            {"type": "Collection", "id": "https://remote.example/c/1"},
            {"type": "Person", "id": "https://remote.example/accounts/a"},
            {"type": "Group", "id": "https://remote.example/video-channels/c"},
        ],
    )
    assert parse_note(doc).attributed_to == "https://remote.example/accounts/a"


def test_content_missing_falls_back_to_the_first_content_map_entry() -> None:
    view = parse_note(minimal(content=None, contentMap={"de": "<p>hallo</p>", "en": "<p>hi</p>"}))
    assert (view.content, view.language) == ("<p>hallo</p>", "de")


def test_content_map_language_is_the_key_whose_value_matches_content() -> None:
    doc = minimal(content="<p>hi</p>", contentMap={"de": "<p>hallo</p>", "en": "<p>hi</p>"})
    assert parse_note(doc).language == "en"


def test_content_map_with_an_invalid_language_tag_gives_no_language() -> None:
    assert parse_note(minimal(contentMap={"und": "<p>hi</p>"})).language is None
    assert parse_note(minimal(contentMap={"not a tag!": "<p>hi</p>"})).language is None


def test_missing_content_is_empty() -> None:
    """A poll vote (a Note with ``name`` and no content) still parses."""
    view = parse_note(minimal(content=None, name="orange"))
    assert view.content == "" and view.language is None


def test_converted_types_fall_back_to_name() -> None:
    view = parse_note(minimal(type="Article", content=None, name="A <title>"))
    assert view.content == "<p>A &lt;title&gt;</p>"


def test_content_is_sanitised() -> None:
    view = parse_note(minimal(content='<p onclick="x">hi<script>alert(1)</script></p>'))
    assert view.content == "<p>hi</p>"


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (PUBLIC, (PUBLIC,)),
        ([PUBLIC, FOLLOWERS, PUBLIC], (PUBLIC, FOLLOWERS)),
        ("as:Public", (PUBLIC,)),
        (["Public"], (PUBLIC,)),
        ([{"id": BOB, "type": "Person"}, 3, None, ""], (BOB,)),
        (None, ()),
    ],
)
def test_audience_as_string_list_object_or_missing(to: Any, expected: tuple[str, ...]) -> None:
    doc = minimal(to=to) if to is not None else minimal()
    assert parse_note(doc).to == expected


def test_tag_as_a_single_object() -> None:
    doc = minimal(tag={"type": "Mention", "href": BOB, "name": "@bob@mastodon.example"})
    assert parse_note(doc).mentions == (BOB,)


def test_hashtags_are_lower_cased_without_hash_and_deduplicated() -> None:
    tags = [
        {"type": "Hashtag", "name": "#Cats", "href": "https://x/tags/cats"},
        {"type": "Hashtag", "name": "cats"},
        {"type": "Hashtag", "name": "#"},
        {"type": "Hashtag"},
        {"type": "Emoji", "name": ":blob:"},
        "not an object",
        {"type": "Mention", "href": "not a url"},
    ]
    view = parse_note(minimal(tag=tags))
    assert view.hashtags == ("cats",) and view.mentions == ()


def test_attachment_as_a_single_object_with_name_as_alt_text() -> None:
    doc = minimal(
        attachment={
            "type": "Document",
            "mediaType": "image/png",
            "url": "https://r/1.png",
            "name": "alt",
        }
    )
    assert parse_note(doc).attachments == (Attachment("https://r/1.png", "image/png", "alt"),)


def test_attachment_summary_wins_over_name() -> None:
    doc = minimal(
        attachment=[{"type": "Image", "url": "https://r/1.png", "summary": "s", "name": "n"}]
    )
    assert parse_note(doc).attachments[0].name == "s"


def test_attachment_url_as_a_link_list_like_old_pleroma() -> None:
    doc = minimal(
        attachment=[
            {
                "type": "Document",
                "name": "",
                "url": [{"type": "Link", "mediaType": "image/jpeg", "href": "https://r/1.jpg"}],
            }
        ]
    )
    assert parse_note(doc).attachments == (Attachment("https://r/1.jpg", "image/jpeg"),)


def test_attachments_without_url_or_with_bad_values_are_tolerated() -> None:
    doc = minimal(
        attachment=[
            {"type": "Document", "mediaType": "image/png"},
            {"type": "Document", "url": "javascript:alert(1)"},
            {
                "type": "Document",
                "url": "https://r/2",
                "width": True,
                "height": -3,
                "blurhash": "<>",
            },
            42,
        ]
    )
    assert parse_note(doc).attachments == (Attachment("https://r/2", "application/octet-stream"),)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://r/@a/1", "https://r/@a/1"),
        ({"type": "Link", "href": "https://r/@a/1"}, "https://r/@a/1"),
        (
            [
                {"type": "Link", "mediaType": "application/activity+json", "href": "https://r/1"},
                {"type": "Link", "mediaType": "text/html", "href": "https://r/@a/1"},
            ],
            "https://r/@a/1",
        ),
        (["https://r/a", "https://r/b"], "https://r/a"),
        ("mailto:x@r", None),
        (12, None),
    ],
)
def test_url_as_string_link_or_list_preferring_html(url: Any, expected: str | None) -> None:
    assert parse_note(minimal(url=url)).url == expected


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2025-08-20T10:00:00Z", datetime(2025, 8, 20, 10, tzinfo=UTC)),
        ("2025-08-20T12:00:00+02:00", datetime(2025, 8, 20, 10, tzinfo=UTC)),
        ("2025-08-20T10:00:00.123Z", datetime(2025, 8, 20, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2025-08-20T10:00:00.123456789Z", datetime(2025, 8, 20, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2025-08-20T10:00:00", datetime(2025, 8, 20, 10, tzinfo=UTC)),
        ("yesterday", None),
        (1692525600, None),
        ("", None),
    ],
)
def test_published_parsing(published: Any, expected: datetime | None) -> None:
    assert parse_note(minimal(published=published)).published == expected


@pytest.mark.parametrize("key", ["quote", "quoteUrl", "quoteUri", "_misskey_quote"])
def test_quote_from_any_of_the_four_properties(key: str) -> None:
    assert parse_note(minimal(**{key: "https://r/q/1"})).quote == "https://r/q/1"


def test_quote_takes_the_first_present_in_mastodon_order() -> None:
    doc = minimal(
        quoteUri="https://r/q/4", quoteUrl="https://r/q/3", _misskey_quote="https://r/q/2"
    )
    assert parse_note(doc).quote == "https://r/q/2"


def test_quote_as_an_embedded_object_and_a_deleted_quote() -> None:
    assert (
        parse_note(minimal(quote={"id": "https://r/q/1", "type": "Note"})).quote == "https://r/q/1"
    )
    # Mastodon sends {"type": "Tombstone"} (no id) when the quoted post is gone.
    assert parse_note(minimal(quote={"type": "Tombstone"})).quote is None


def test_in_reply_to_as_an_embedded_object() -> None:
    doc = minimal(inReplyTo={"id": "https://r/p/1", "url": "https://r/@a/1", "type": "Note"})
    assert parse_note(doc).in_reply_to == "https://r/p/1"


def test_summary_from_summary_map_and_blank_summary_is_none() -> None:
    assert parse_note(minimal(summaryMap={"en": "cw"})).summary == "cw"
    assert parse_note(minimal(summary="  ")).summary is None


def test_sensitive_must_be_true_not_truthy() -> None:
    assert parse_note(minimal(sensitive="true")).sensitive is False
    assert parse_note(minimal(sensitive=True)).sensitive is True


def test_proof_and_signature_are_ignored() -> None:
    plain = parse_note(minimal())
    signed = parse_note(
        minimal(
            signature={"type": "RsaSignature2017", "signatureValue": "x"},
            proof={"type": "DataIntegrityProof", "proofValue": "z"},
        )
    )
    assert signed.id == plain.id and signed.content == plain.content


def test_lone_surrogates_are_replaced_in_text_fields() -> None:
    view = parse_note(minimal(content="<p>a\ud800</p>", summary="cw\udfff"))
    assert view.content == "<p>a\ufffd</p>" and view.summary == "cw\ufffd"


# --- properties ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
URLISH = st.sampled_from(
    [
        "https://r.example/a", "http://r.example:8080/b", "https://", "http://[::1", "https://x:99999/",
        "as:Public", PUBLIC, "javascript:alert(1)", "", "https://r.example/\ud800",
    ]
)  # fmt: skip
VALUE = st.one_of(JSON, URLISH, st.lists(st.one_of(URLISH, JSON), max_size=3))
KEYS = st.sampled_from(
    [
        "id", "type", "attributedTo", "content", "contentMap", "summary", "summaryMap", "name",
        "sensitive", "inReplyTo", "published", "updated", "url", "to", "cc", "tag", "attachment",
        "quote", "quoteUrl", "quoteUri", "_misskey_quote", "nameMap",
    ]
)  # fmt: skip
NOTEISH = st.builds(
    lambda base, extra: {**base, **extra},
    st.fixed_dictionaries(
        {
            "id": st.one_of(URLISH, JSON),
            "type": st.one_of(st.sampled_from(["Note", "Article", ["Note"]]), JSON),
            "attributedTo": st.one_of(
                URLISH,
                st.fixed_dictionaries({"id": URLISH, "type": st.sampled_from(["Person", 1])}),
                JSON,
            ),
        }
    ),
    st.dictionaries(KEYS, VALUE, max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, NOTEISH))
def test_parse_note_raises_only_parse_error(doc: Any) -> None:
    before = copy.deepcopy(doc)
    try:
        view = parse_note(doc)
    except ParseError:
        pass
    else:
        assert view.id.startswith(("http://", "https://"))
        assert "<script" not in view.content
    assert repr(doc) == repr(before)  # not mutated (repr: NaN != NaN)
