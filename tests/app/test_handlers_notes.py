"""Create, Update and Delete of notes and actors, received through the real inbox.

Each test POSTs signed activities (shaped like Mastodon's) to Myna's inbox, then runs the
inbox worker once and looks at the database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.db.models import (
    Block,
    Follower,
    Following,
    Interaction,
    Media,
    PostHashtag,
    TimelineEntry,
)
from app.services.following import owner
from tests.support.fake_remote import AS2, FakeActor, FakeRemote, activity, pooled_rsa_key
from tests.support.inbox_flow import (
    LD_SIGNATURE,
    MYNA,
    PROOF,
    PUBLIC,
    create_of,
    delete_of,
    deliver,
    follow_accepted,
    ignored,
    item,
    later,
    mastodon_note,
    mention_of_myna,
    notifications,
    our_post,
    process,
    receive,
    remote_actor,
    remote_post,
    rows,
    update_of,
)

IMAGE = {
    "type": "Document",
    "mediaType": "image/png",
    "url": "https://remote.example/system/media_attachments/files/1/original/a.png",
    "name": "A heron in the reeds",
    "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
    "focalPoint": [0.0, 0.0],
    "width": 640,
    "height": 480,
}


@pytest.fixture
def alice(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://remote.example", "alice", key=pooled_rsa_key(0))


@pytest.fixture
def bob(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://other.example", "bob", key=pooled_rsa_key(1))


# -- Create -------------------------------------------------------------------------------------


async def test_mastodon_reply_is_stored_sanitised_in_the_thread_and_notified(asgi, alice):
    mine = await our_post(asgi)
    html = (
        '<p><span class="h-card" translate="no"><a href="https://myna.test/@myna" '
        'class="u-url mention">@<span>myna</span></a></span> Lovely! '
        '<a href="https://remote.example/tags/birds" class="mention hashtag" rel="tag">'
        '#<span>Birds</span></a><script>alert(1)</script><img src="x" onerror="y"></p>'
    )
    note = mastodon_note(
        alice,
        1,
        content=html,
        inReplyTo=mine.uri,
        inReplyToAtomUri=mine.uri,
        cc=[f"{alice.id}/followers", MYNA],
        attachment=[IMAGE],
        tag=[
            mention_of_myna(),
            {"type": "Hashtag", "href": "https://remote.example/tags/birds", "name": "#Birds"},
        ],
    )
    doc = {**create_of(alice, note), "signature": LD_SIGNATURE}

    done = await deliver(asgi, alice, doc)

    assert done.state == "done" and done.last_error is None
    post = await remote_post(asgi, note["id"])
    assert post is not None
    assert post.local_actor_id is None and post.author_uri == alice.id
    assert post.visibility == "public" and post.language == "en"
    assert post.in_reply_to == mine.uri and post.url == "https://remote.example/@alice/1"
    assert "<script>" not in post.content and "<img" not in post.content
    assert "alert(1)" not in post.content and "Lovely!" in post.content
    assert 'rel="nofollow noopener"' in post.content
    assert json.loads(post.raw or "{}") == note
    assert {"type": "Mention", "href": MYNA, "name": "@myna@myna.test"} in json.loads(
        post.tags_json
    )
    assert [(h.post_id, h.name) for h in await rows(asgi, PostHashtag)] == [(post.id, "birds")]
    (media,) = await rows(asgi, Media)
    assert (media.post_id, media.remote_url, media.file_name) == (post.id, IMAGE["url"], None)
    assert (media.media_type, media.description, media.width) == ("image/png", IMAGE["name"], 640)
    # One notification: the reply (its mention of the owner is not notified twice).
    assert await notifications(asgi) == [("reply", alice.id, note["id"])]
    assert await rows(asgi, TimelineEntry) == []
    # The public reply is listed in our post's replies collection.
    replies = await asgi.client.get(
        f"{mine.uri.removeprefix('https://myna.test')}/replies", headers={"Accept": AS2}
    )
    assert replies.status_code == 200
    assert note["id"] in json.dumps(replies.json())


async def test_direct_mention_from_a_stranger_is_stored_and_notified(asgi, alice):
    note = mastodon_note(alice, 2, to=[MYNA], cc=[], tag=[mention_of_myna()])
    doc = {**create_of(alice, note), "proof": PROOF}

    done = await deliver(asgi, alice, doc)

    assert done.state == "done" and done.last_error is None
    post = await remote_post(asgi, note["id"])
    assert post is not None and post.visibility == "direct"
    assert await notifications(asgi) == [("mention", alice.id, note["id"])]
    assert await rows(asgi, TimelineEntry) == []


async def test_posts_of_followed_accounts_go_on_the_timeline(asgi, alice):
    await follow_accepted(asgi, alice)
    public = mastodon_note(alice, 3)
    private = mastodon_note(alice, 4, to=[f"{alice.id}/followers"], cc=[])
    await receive(asgi, alice, create_of(alice, public))
    await receive(asgi, alice, create_of(alice, private))
    assert await process(asgi) == 2

    assert (await remote_post(asgi, public["id"])).visibility == "public"  # type: ignore[union-attr]
    assert (await remote_post(asgi, private["id"])).visibility == "followers"  # type: ignore[union-attr]
    entries = await rows(asgi, TimelineEntry)
    assert [(e.post_uri, e.boosted_by) for e in entries] == [
        (public["id"], None),
        (private["id"], None),
    ]
    assert await notifications(asgi) == []


async def test_a_strangers_reply_to_a_followed_accounts_post_is_kept_for_the_thread(
    asgi, alice, bob
):
    await follow_accepted(asgi, alice)
    parent = mastodon_note(alice, 5)
    reply = mastodon_note(bob, 6, inReplyTo=parent["id"])
    await deliver(asgi, alice, create_of(alice, parent))

    done = await deliver(asgi, bob, create_of(bob, reply))

    assert done.state == "done" and done.last_error is None
    assert (await remote_post(asgi, reply["id"])).in_reply_to == parent["id"]  # type: ignore[union-attr]
    assert [e.post_uri for e in await rows(asgi, TimelineEntry)] == [parent["id"]]


async def test_unrelated_post_is_ignored(asgi, alice):
    note = mastodon_note(alice, 7, inReplyTo="https://other.example/users/bob/statuses/1")
    done = await deliver(asgi, alice, create_of(alice, note))

    assert ignored(done)
    assert await remote_post(asgi, note["id"]) is None
    assert await notifications(asgi) == []


async def test_create_by_reference_is_fetched_from_the_origin(asgi, fake_remote, alice):
    note = mastodon_note(alice, 8, tag=[mention_of_myna()], cc=[MYNA])
    fake_remote.documents[note["id"]] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        **note,
    }
    done = await deliver(asgi, alice, create_of(alice, note["id"]))

    assert done.state == "done" and done.last_error is None
    assert fake_remote.gets_of(note["id"])
    assert (await remote_post(asgi, note["id"])) is not None
    assert await notifications(asgi) == [("mention", alice.id, note["id"])]


async def test_create_is_idempotent_by_note_id(asgi, alice):
    note = mastodon_note(alice, 9, tag=[mention_of_myna()], cc=[MYNA])
    await receive(asgi, alice, create_of(alice, note))
    await receive(asgi, alice, create_of(alice, note, suffix="-again"))
    assert await process(asgi) == 2

    assert ignored(await item(asgi, create_of(alice, note, suffix="-again")["id"]))
    assert len(await notifications(asgi)) == 1


async def test_quotes_of_our_post_notify_and_count_as_interactions(asgi, alice):
    mine = await our_post(asgi)
    # Interop: FEP-044f ``quote`` (Mastodon 4.4+), ``quoteUrl`` (Pleroma/Akkoma) and
    # ``_misskey_quote`` (Misskey, Sharkey).
    notes = [
        mastodon_note(alice, 10 + n, content=f"<p>quoting {n}</p>", **{key: mine.uri})
        for n, key in enumerate(("quote", "quoteUrl", "_misskey_quote"))
    ]
    for note in notes:
        await receive(asgi, alice, create_of(alice, note))
    assert await process(asgi) == 3

    for note in notes:
        assert (await remote_post(asgi, note["id"])).quote_of == mine.uri  # type: ignore[union-attr]
    assert await notifications(asgi) == [("quote", alice.id, n["id"]) for n in notes]
    quotes = await rows(asgi, Interaction)
    assert [(q.kind, q.actor_uri, q.object_uri, q.activity_id) for q in quotes] == [
        ("quote", alice.id, mine.uri, n["id"]) for n in notes
    ]


async def test_create_of_an_object_that_is_not_a_status_is_unhandled(asgi, alice):
    # Interop: Pleroma's chat messages arrive as Create{ChatMessage}.
    chat = {
        "id": f"{alice.id}/objects/1",
        "type": "ChatMessage",
        "attributedTo": alice.id,
        "to": [MYNA],
        "content": "hi",
    }
    done = await deliver(asgi, alice, activity(alice, "Create", chat, "chat"))
    assert done.state == "unhandled"
    assert await remote_post(asgi, chat["id"]) is None


# -- Update -------------------------------------------------------------------------------------


async def test_update_by_the_author_edits_the_post_and_stale_updates_are_ignored(asgi, alice):
    first = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    note = mastodon_note(
        alice,
        20,
        cc=[MYNA],
        attachment=[IMAGE],
        tag=[mention_of_myna(), {"type": "Hashtag", "name": "#old", "href": "https://r/tags/old"}],
    )
    await deliver(asgi, alice, create_of(alice, note))
    edited = {
        **note,
        "content": "<p>Edited <b>text</b><iframe src=x></iframe></p>",
        "contentMap": {"de": "<p>Bearbeitet</p>"},
        "summary": "CW",
        "sensitive": True,
        "attachment": [],
        "tag": [mention_of_myna(), {"type": "Hashtag", "name": "#New", "href": "https://r/t/new"}],
    }

    done = await deliver(asgi, alice, update_of(alice, edited, later(first, 10)))

    assert done.state == "done" and done.last_error is None
    post = await remote_post(asgi, note["id"])
    assert post is not None
    assert post.content == "<p>Edited <b>text</b></p>"
    assert (post.summary, post.sensitive, post.edited_at) == ("CW", True, later(first, 10))
    assert [h.name for h in await rows(asgi, PostHashtag)] == ["new"]
    assert await rows(asgi, Media) == []
    assert post.visibility == "public"

    stale = {**edited, "content": "<p>older</p>"}
    done = await deliver(asgi, alice, update_of(alice, stale, later(first, 5)))
    assert ignored(done)
    assert (await remote_post(asgi, note["id"])).content == "<p>Edited <b>text</b></p>"  # type: ignore[union-attr]


async def test_update_of_the_actor_refreshes_the_cached_document(asgi, alice):
    await deliver(asgi, alice, create_of(alice, mastodon_note(alice, 21, tag=[mention_of_myna()])))
    changed = {**alice.document, "name": "Alice Renamed", "summary": "<p>new bio</p>"}
    doc = {
        "@context": changed["@context"],
        "id": f"{alice.id}#updates/1",
        "type": "Update",
        "actor": alice.id,
        "to": [PUBLIC],
        "object": changed,
        "signature": LD_SIGNATURE,
    }

    done = await deliver(asgi, alice, doc)

    assert done.state == "done" and done.last_error is None
    assert (await remote_actor(asgi, alice.id)).name == "Alice Renamed"


# -- Delete -------------------------------------------------------------------------------------


async def test_delete_by_the_author_keeps_a_tombstone_that_refuses_recreation(asgi, alice):
    mine = await our_post(asgi)
    note = mastodon_note(
        alice, 30, inReplyTo=mine.uri, cc=[MYNA], attachment=[IMAGE], tag=[mention_of_myna()]
    )
    await deliver(asgi, alice, create_of(alice, note))
    assert await notifications(asgi) == [("reply", alice.id, note["id"])]

    done = await deliver(asgi, alice, delete_of(alice, note["id"]))

    assert done.state == "done" and done.last_error is None
    post = await remote_post(asgi, note["id"])
    assert post is not None and post.deleted_at is not None
    assert post.content == "" and post.raw is None
    assert await rows(asgi, Media) == []
    assert await notifications(asgi) == []
    replies = await asgi.client.get(
        f"{mine.uri.removeprefix('https://myna.test')}/replies", headers={"Accept": AS2}
    )
    assert note["id"] not in json.dumps(replies.json())

    again = await deliver(asgi, alice, create_of(alice, note, suffix="-again"))
    assert ignored(again) and "deleted" in (again.last_error or "")
    assert (await remote_post(asgi, note["id"])).deleted_at is not None  # type: ignore[union-attr]
    assert await notifications(asgi) == []


async def test_delete_of_the_actor_marks_it_gone_and_ends_everything(asgi, alice):
    await follow_accepted(asgi, alice)
    await deliver(asgi, alice, activity(alice, "Follow", MYNA, "f1"))
    note = mastodon_note(alice, 31)
    await deliver(asgi, alice, create_of(alice, note))
    assert len(await rows(asgi, Follower)) == len(await rows(asgi, Following)) == 1

    doc = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{alice.id}#delete",
        "type": "Delete",
        "actor": alice.id,
        "to": [PUBLIC],
        "object": alice.id,
    }
    done = await deliver(asgi, alice, doc)

    assert done.state == "done" and done.last_error is None
    assert (await remote_actor(asgi, alice.id)).gone_at is not None
    assert await rows(asgi, Follower) == [] and await rows(asgi, Following) == []
    assert (await remote_post(asgi, note["id"])).deleted_at is not None  # type: ignore[union-attr]
    assert await rows(asgi, TimelineEntry) == []


async def test_delete_of_an_unknown_note_is_ignored(asgi, alice):
    done = await deliver(asgi, alice, delete_of(alice, f"{alice.id}/statuses/404"))
    assert ignored(done)


async def test_posts_from_blocked_actors_and_domains_are_ignored(asgi, alice, bob):
    me = await owner(asgi.rt)
    async with asgi.rt.writes.begin() as session:
        session.add(Block(local_actor_id=me.id, target=alice.id, created_at=asgi.rt.clock()))
        session.add(
            Block(
                local_actor_id=me.id,
                target="other.example",
                is_domain=True,
                created_at=asgi.rt.clock(),
            )
        )
    for actor in (alice, bob):
        note = mastodon_note(actor, 50, to=[MYNA], cc=[], tag=[mention_of_myna()])
        assert ignored(await deliver(asgi, actor, create_of(actor, note)))
        assert await remote_post(asgi, note["id"]) is None
    assert await notifications(asgi) == []
