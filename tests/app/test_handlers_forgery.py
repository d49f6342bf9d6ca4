"""A valid signer trying to change what is not theirs changes nothing.

alice and carol live on the same server, so the inbox's origin checks let carol's activities
about alice's objects through; the handlers must refuse them by author. bob lives elsewhere:
his Create/Update/Delete of alice's objects are refused at the inbox with 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.services.remote import resolve_actor
from tests.conftest import AsgiApp
from tests.support.fake_remote import FakeActor, FakeRemote, activity, pooled_rsa_key
from tests.support.inbox_flow import (
    MYNA,
    PUBLIC,
    announce_of,
    create_of,
    delete_of,
    deliver,
    follow_accepted,
    like_of,
    mastodon_note,
    mention_of_myna,
    our_post,
    receive,
    remote_post,
    snapshot,
    undo_of,
    update_of,
)

EDITED = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def alice(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://remote.example", "alice", key=pooled_rsa_key(0))


@pytest.fixture
def carol(fake_remote: FakeRemote) -> FakeActor:
    """On alice's server: same origin, different author."""
    return fake_remote.add_actor("https://remote.example", "carol", key=pooled_rsa_key(2))


@pytest.fixture
def bob(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://other.example", "bob", key=pooled_rsa_key(1))


async def alices_note(asgi: AsgiApp, alice: FakeActor) -> dict[str, Any]:
    """A note by alice that mentions the owner, stored through a real Create."""
    note = mastodon_note(alice, 1, content="<p>original</p>", cc=[MYNA], tag=[mention_of_myna()])
    assert (await deliver(asgi, alice, create_of(alice, note))).last_error is None
    return note


async def assert_changes_nothing(
    asgi: AsgiApp, signer: FakeActor, docs: dict[str, dict[str, Any]], subtests: Any
) -> None:
    await resolve_actor(asgi.rt, signer.id)  # the signer's key fetch is not a change
    before = await snapshot(asgi)
    for name, doc in docs.items():
        with subtests.test(case=name):
            found = await deliver(asgi, signer, doc)
            assert found.state in ("done", "unhandled"), found.last_error
            assert await snapshot(asgi) == before


async def test_same_origin_actor_cannot_delete_or_update_anothers_note(
    asgi, alice, carol, subtests
):
    note = await alices_note(asgi, alice)
    carols_claim = {**note, "attributedTo": carol.id, "content": "<p>pwned</p>"}
    docs = {
        "delete-tombstone": delete_of(carol, note["id"]),
        "delete-by-id": {**delete_of(carol, note["id"], "2"), "object": note["id"]},
        "update-keeping-alice-as-author": update_of(
            carol, {**note, "content": "<p>pwned</p>"}, EDITED
        ),
        "update-claiming-authorship": {
            **update_of(carol, carols_claim, EDITED),
            "id": f"{carol.id}#updates/2",
        },
    }
    await assert_changes_nothing(asgi, carol, docs, subtests)
    post = await remote_post(asgi, note["id"])
    assert post is not None and post.deleted_at is None and post.content == "<p>original</p>"


async def test_other_origin_delete_and_update_are_refused_at_the_inbox(asgi, alice, bob):
    note = await alices_note(asgi, alice)
    await resolve_actor(asgi.rt, bob.id)
    before = await snapshot(asgi)
    forged_delete = {**delete_of(alice, note["id"]), "id": f"{bob.id}#delete/1", "actor": bob.id}
    forged_update = {**update_of(alice, note, EDITED), "id": f"{bob.id}#updates/1", "actor": bob.id}
    forged_actor = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Delete",
        "id": f"{bob.id}#delete/2",
        "actor": bob.id,
        "object": alice.id,
    }
    for doc in (forged_delete, forged_update, forged_actor):
        await receive(asgi, bob, doc, status=403)
    assert await snapshot(asgi) == before


async def test_create_of_a_note_attributed_to_someone_else_is_refused(asgi, alice, carol, bob):
    for actor in (alice, carol, bob):
        await resolve_actor(asgi.rt, actor.id)
    before = await snapshot(asgi)
    # carol (same origin) sends a note in alice's name, mentioning the owner.
    forged = mastodon_note(
        carol,
        2,
        content="<p>I am alice</p>",
        cc=[MYNA],
        tag=[mention_of_myna()],
        attributedTo=alice.id,
    )
    found = await deliver(asgi, carol, create_of(carol, forged))
    assert found.state == "done" and "attributed to someone else" in (found.last_error or "")
    # bob cannot even put a note on alice's origin.
    await receive(
        asgi,
        bob,
        {
            **create_of(alice, mastodon_note(alice, 3)),
            "actor": bob.id,
            "id": f"{bob.id}/statuses/3/activity",
        },
        status=403,
    )
    assert await snapshot(asgi) == before


async def test_undo_of_anothers_like_or_boost_changes_nothing(asgi, alice, carol, subtests):
    mine = await our_post(asgi)
    like = like_of(alice, mine.uri)
    boost = announce_of(alice, mine.uri)
    await deliver(asgi, alice, like)
    await deliver(asgi, alice, boost)

    def wearing(inner: dict[str, Any]) -> dict[str, Any]:
        """alice's activity id, but claiming carol as its actor."""
        return {**inner, "actor": carol.id}

    docs = {}
    for name, inner in (("like", like), ("announce", boost)):
        docs[f"embedded-{name}-of-alice"] = undo_of(carol, inner, f"-{name}-1")
        docs[f"{name}-id-of-alice"] = undo_of(carol, inner["id"], f"-{name}-2")
        docs[f"{name}-of-alice-worn-by-carol"] = undo_of(carol, wearing(inner), f"-{name}-3")
    await assert_changes_nothing(asgi, carol, docs, subtests)


async def test_same_origin_actor_cannot_update_delete_block_or_move_another_actor(
    asgi, fake_remote, alice, carol, subtests
):
    await follow_accepted(asgi, alice)
    await deliver(asgi, alice, activity(alice, "Block", MYNA, "block"))
    new = fake_remote.add_actor("https://new.example", "alice", key=pooled_rsa_key(3))
    new.document["alsoKnownAs"] = [alice.id]
    renamed = {**alice.document, "name": "Not Alice"}
    docs = {
        "update-person": {
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Update",
            "id": f"{carol.id}#updates/1",
            "actor": carol.id,
            "to": [PUBLIC],
            "object": renamed,
        },
        "delete-person": {
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Delete",
            "id": f"{carol.id}#delete",
            "actor": carol.id,
            "object": alice.id,
        },
        "move-of-alice": {**activity(carol, "Move", alice.id, "move"), "target": new.id},
        "undo-of-alices-block": undo_of(carol, activity(alice, "Block", MYNA, "block")),
        "undo-of-alices-block-worn": undo_of(
            carol, {**activity(alice, "Block", MYNA, "block"), "actor": carol.id}
        ),
    }
    await assert_changes_nothing(asgi, carol, docs, subtests)


async def test_boost_with_a_forged_embedded_object_uses_only_the_reference(
    asgi, fake_remote, alice, bob
):
    await follow_accepted(asgi, bob)
    real = mastodon_note(alice, 4, content="<p>the real text</p>")
    fake_remote.documents[real["id"]] = real
    forged = {**real, "content": "<p>words alice never wrote</p>"}
    boost = {**announce_of(bob, real["id"]), "object": forged}

    found = await deliver(asgi, bob, boost)

    assert found.state == "done" and found.last_error is None
    post = await remote_post(asgi, real["id"])
    assert post is not None and post.content == "<p>the real text</p>"
    assert fake_remote.gets_of(real["id"])
