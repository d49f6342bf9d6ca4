"""Likes, emoji reactions, boosts, their Undo, and Block and Move, through the real inbox."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.db.models import Follower, Following, Interaction, TimelineEntry
from app.services.audience import inboxes
from app.services.following import owner
from tests.support.fake_remote import FakeActor, FakeRemote, activity, pooled_rsa_key
from tests.support.inbox_flow import (
    MYNA,
    announce_of,
    deliver,
    follow_accepted,
    ignored,
    like_of,
    mastodon_note,
    notifications,
    our_post,
    remote_actor,
    remote_post,
    rows,
    undo_of,
)


@pytest.fixture
def alice(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://remote.example", "alice", key=pooled_rsa_key(0))


@pytest.fixture
def bob(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://other.example", "bob", key=pooled_rsa_key(1))


async def interactions(asgi) -> list[tuple[str, str, str, str | None]]:
    return [(i.kind, i.actor_uri, i.object_uri, i.content) for i in await rows(asgi, Interaction)]


# -- Like and reactions -------------------------------------------------------------------------


async def test_like_of_our_post_is_recorded_once_and_notified(asgi, alice):
    mine = await our_post(asgi)
    done = await deliver(asgi, alice, like_of(alice, mine.uri, "1"))
    assert done.state == "done" and done.last_error is None
    assert await interactions(asgi) == [("like", alice.id, mine.uri, None)]
    assert await notifications(asgi) == [("like", alice.id, mine.uri)]

    duplicate = await deliver(asgi, alice, like_of(alice, mine.uri, "2"))
    assert ignored(duplicate)
    assert len(await interactions(asgi)) == 1 and len(await notifications(asgi)) == 1


async def test_like_of_a_post_that_is_not_ours_is_ignored(asgi, alice):
    for n, target in enumerate(
        ["https://other.example/users/bob/statuses/1", "https://myna.test/users/myna/statuses/x"]
    ):
        assert ignored(await deliver(asgi, alice, like_of(alice, target, str(n))))
    assert await interactions(asgi) == [] and await notifications(asgi) == []


async def test_misskey_and_pleroma_emoji_reactions_are_recorded_as_reactions(asgi, alice, bob):
    mine = await our_post(asgi)
    # Interop: Misskey sends a reaction as Like with _misskey_reaction (and content), custom
    # emoji as ":name:" with an Emoji tag (ApRendererService#renderLike).
    misskey = {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {
                "misskey": "https://misskey-hub.net/ns#",
                "_misskey_reaction": "misskey:_misskey_reaction",
                "Emoji": "toot:Emoji",
            },
        ],
        "type": "Like",
        "id": f"{alice.id.rsplit('/users/', 1)[0]}/likes/9q0ab1c2d3",
        "actor": alice.id,
        "object": mine.uri,
        "content": ":blobcat:",
        "_misskey_reaction": ":blobcat:",
        "tag": [
            {
                "id": "https://remote.example/emojis/blobcat",
                "type": "Emoji",
                "name": ":blobcat:",
                "updated": "2024-01-01T00:00:00.000Z",
                "icon": {
                    "type": "Image",
                    "mediaType": "image/png",
                    "url": "https://remote.example/files/blobcat.png",
                },
            }
        ],
    }
    # Interop: Pleroma/Akkoma EmojiReact (content is the emoji).
    pleroma = {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://other.example/schemas/litepub-0.1.jsonld",
            {"@language": "und"},
        ],
        "actor": bob.id,
        "cc": ["https://www.w3.org/ns/activitystreams#Public"],
        "content": "🔥",
        "context": "https://other.example/contexts/1",
        "id": "https://other.example/activities/5c7a7a9a-0e1b-4c5e-9f0e-5b6d2f4b7e11",
        "object": mine.uri,
        "to": [MYNA, f"{bob.id}/followers"],
        "type": "EmojiReact",
    }
    assert (await deliver(asgi, alice, misskey)).last_error is None
    assert (await deliver(asgi, bob, pleroma)).last_error is None

    assert await interactions(asgi) == [
        ("react", alice.id, mine.uri, ":blobcat:"),
        ("react", bob.id, mine.uri, "🔥"),
    ]
    assert await notifications(asgi) == [("react", alice.id, mine.uri), ("react", bob.id, mine.uri)]

    undo = undo_of(bob, pleroma)
    assert (await deliver(asgi, bob, undo)).last_error is None
    assert await interactions(asgi) == [("react", alice.id, mine.uri, ":blobcat:")]


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded", "by-id"])
async def test_undo_like_removes_it_and_its_notification(asgi, alice, embedded):
    mine = await our_post(asgi)
    like = like_of(alice, mine.uri)
    await deliver(asgi, alice, like)

    done = await deliver(asgi, alice, undo_of(alice, like if embedded else like["id"]))

    assert done.state == "done" and done.last_error is None
    assert await interactions(asgi) == [] and await notifications(asgi) == []


# -- Announce -----------------------------------------------------------------------------------


async def test_gotosocial_boost_of_our_post_is_recorded_notified_and_undone(asgi, bob):
    mine = await our_post(asgi)
    boost = announce_of(bob, mine.uri)
    done = await deliver(asgi, bob, boost)

    assert done.state == "done" and done.last_error is None
    assert await interactions(asgi) == [("announce", bob.id, mine.uri, None)]
    assert await notifications(asgi) == [("boost", bob.id, mine.uri)]

    await deliver(asgi, bob, undo_of(bob, boost))
    assert await interactions(asgi) == [] and await notifications(asgi) == []


async def test_boost_of_our_followers_only_post_is_ignored(asgi, bob):
    mine = await our_post(asgi, visibility="followers")
    assert ignored(await deliver(asgi, bob, announce_of(bob, mine.uri)))
    assert await interactions(asgi) == []


async def test_boost_by_a_followed_account_fetches_the_post_onto_the_timeline(
    asgi, fake_remote, alice, bob
):
    await follow_accepted(asgi, bob)
    note = mastodon_note(alice, 40, content="<p>boost me</p>")
    fake_remote.documents[note["id"]] = note
    boost = announce_of(bob, note["id"])

    done = await deliver(asgi, bob, boost)

    assert done.state == "done" and done.last_error is None
    post = await remote_post(asgi, note["id"])
    assert post is not None and post.author_uri == alice.id and post.visibility == "public"
    assert post.content == "<p>boost me</p>"
    entries = await rows(asgi, TimelineEntry)
    assert [(e.post_uri, e.boosted_by, e.activity_id) for e in entries] == [
        (note["id"], bob.id, boost["id"])
    ]
    assert await notifications(asgi) == []

    await deliver(asgi, bob, undo_of(bob, boost))
    assert await rows(asgi, TimelineEntry) == []


async def test_boosts_that_do_not_concern_the_owner_are_ignored(asgi, fake_remote, alice, bob):
    note = mastodon_note(alice, 41)
    fake_remote.documents[note["id"]] = note
    # Not followed: nothing is fetched.
    assert ignored(await deliver(asgi, bob, announce_of(bob, note["id"], "1")))
    assert fake_remote.gets_of(note["id"]) == []
    # Followed, but the "note" claims an author on another origin than its own.
    await follow_accepted(asgi, bob)
    fake_remote.documents[note["id"]] = {**note, "attributedTo": bob.id}
    assert ignored(await deliver(asgi, bob, announce_of(bob, note["id"], "2")))
    # Followed, but the boosted post is followers-only.
    private = mastodon_note(alice, 42, to=[f"{alice.id}/followers"], cc=[])
    fake_remote.documents[private["id"]] = private
    assert ignored(await deliver(asgi, bob, announce_of(bob, private["id"], "3")))
    assert await remote_post(asgi, note["id"]) is None
    assert await remote_post(asgi, private["id"]) is None
    assert await rows(asgi, TimelineEntry) == []


# -- Block --------------------------------------------------------------------------------------


async def test_block_stops_delivery_ends_follows_and_its_undo_clears_it(asgi, alice):
    await follow_accepted(asgi, alice)
    await deliver(asgi, alice, activity(alice, "Follow", MYNA, "f1"))
    block = activity(alice, "Block", MYNA, "b1")

    done = await deliver(asgi, alice, block)

    assert done.state == "done" and done.last_error is None
    assert (await remote_actor(asgi, alice.id)).blocked_us_at is not None
    assert await rows(asgi, Follower) == [] and await rows(asgi, Following) == []
    assert await notifications(asgi) == [("follow", alice.id, None)]  # no notification
    # Nothing is addressed to the blocker any more, even when it is named explicitly.
    me = await owner(asgi.rt)
    async with asgi.rt.sessions() as session:
        targets = await inboxes(session, me.id, include_followers=True, actor_uris=[alice.id])
    assert targets == []

    await deliver(asgi, alice, undo_of(alice, block))
    assert (await remote_actor(asgi, alice.id)).blocked_us_at is None


async def test_block_of_someone_else_is_ignored(asgi, alice):
    done = await deliver(asgi, alice, activity(alice, "Block", "https://other.example/u/x", "b"))
    assert ignored(done)
    assert (await remote_actor(asgi, alice.id)).blocked_us_at is None


# -- Move ---------------------------------------------------------------------------------------


def move_of(old: FakeActor, new: FakeActor, suffix: str = "1") -> dict:
    return {**activity(old, "Move", old.id, f"move-{suffix}"), "target": new.id}


@pytest.mark.parametrize("follow_moves", [False, True], ids=["record-only", "follow-moves"])
async def test_move_is_recorded_notified_and_followed_when_enabled(
    asgi, fake_remote, alice, follow_moves
):
    new = fake_remote.add_actor("https://new.example", "alice", key=pooled_rsa_key(3))
    new.document["alsoKnownAs"] = [alice.id]
    await follow_accepted(asgi, alice)
    if follow_moves:
        asgi.rt.settings = replace(asgi.rt.settings, follow_moves=True)

    done = await deliver(asgi, alice, move_of(alice, new))

    assert done.state == "done" and done.last_error is None
    assert (await remote_actor(asgi, alice.id)).moved_to == new.id
    assert await notifications(asgi) == [("move", alice.id, new.id)]
    old_row, new_row = await remote_actor(asgi, alice.id), await remote_actor(asgi, new.id)
    followed = {new_row.id: "new", old_row.id: "old"}
    now_following = sorted(followed[f.remote_actor_id] for f in await rows(asgi, Following))
    assert now_following == (["new"] if follow_moves else ["old"])

    again = await deliver(asgi, alice, move_of(alice, new, "2"))
    assert ignored(again) and len(await notifications(asgi)) == 1


async def test_move_to_an_account_that_does_not_name_the_old_one_is_ignored(
    asgi, fake_remote, alice
):
    new = fake_remote.add_actor("https://new.example", "alice", key=pooled_rsa_key(3))
    await follow_accepted(asgi, alice)
    done = await deliver(asgi, alice, move_of(alice, new))
    assert ignored(done) and "alsoKnownAs" in (done.last_error or "")
    assert (await remote_actor(asgi, alice.id)).moved_to is None
    assert await notifications(asgi) == []
