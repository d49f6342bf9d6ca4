"""Golden tests for federation.activities (and how they combine with builders.build_undo)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from federation.activities import (
    build_add,
    build_announce,
    build_block,
    build_create,
    build_delete,
    build_like,
    build_remove,
    build_tombstone,
    build_update,
)
from federation.builders import build_undo
from federation.notes import NoteData, build_note
from federation.parse import parse_activity
from federation.vocab import ACTIVITY_CONTEXT, AS_NS, EXTENSIONS, PUBLIC

ME = "https://myna.example/users/me"
FOLLOWERS = ME + "/followers"
NOTE_ID = ME + "/statuses/1"
BOB = "https://mastodon.example/users/bob"
BOB_NOTE = BOB + "/statuses/7"
CONTEXT = [AS_NS, EXTENSIONS]


def note(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": NOTE_ID,
        "url": "https://myna.example/@me/1",
        "attributed_to": ME,
        "content": "<p>hello</p>",
        "summary": None,
        "sensitive": False,
        "language": "en",
        "published": datetime(2026, 8, 21, 10, 0, tzinfo=UTC),
        "updated": None,
        "in_reply_to": None,
        "to": [PUBLIC],
        "cc": [FOLLOWERS, BOB],
        "tags": [],
        "attachments": [],
        "replies": None,
    }
    values.update(changes)
    return build_note(NoteData(**values))


def test_build_create_golden() -> None:
    assert build_create(activity_id=NOTE_ID + "/activity", actor=ME, note=note()) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me/statuses/1/activity",
        "type": "Create",
        "actor": "https://myna.example/users/me",
        "published": "2026-08-21T10:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://myna.example/users/me/followers", "https://mastodon.example/users/bob"],
        "object": {
            "id": "https://myna.example/users/me/statuses/1",
            "type": "Note",
            "summary": None,
            "inReplyTo": None,
            "published": "2026-08-21T10:00:00Z",
            "url": "https://myna.example/@me/1",
            "attributedTo": "https://myna.example/users/me",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://myna.example/users/me/followers", "https://mastodon.example/users/bob"],
            "sensitive": False,
            "content": "<p>hello</p>",
            "contentMap": {"en": "<p>hello</p>"},
            "attachment": [],
            "tag": [],
        },
    }


def test_build_create_hoists_the_quote_context_of_the_note() -> None:
    quoting = note(quote=BOB_NOTE)
    create = build_create(activity_id=NOTE_ID + "/activity", actor=ME, note=quoting)
    assert create["@context"] == quoting["@context"]
    assert "quote" in create["@context"][1]
    assert "@context" not in create["object"]
    assert create["object"]["quote"] == BOB_NOTE


def test_build_create_does_not_mutate_or_alias_the_note() -> None:
    original = note()
    before = copy.deepcopy(original)
    create = build_create(activity_id=NOTE_ID + "/activity", actor=ME, note=original)
    create["@context"].append("x")
    create["to"].append("y")
    assert original == before


def test_build_create_is_an_activity_the_parser_accepts() -> None:
    activity = parse_activity(
        build_create(activity_id=NOTE_ID + "/activity", actor=ME, note=note())
    )
    assert (activity.type, activity.actor, activity.object_id) == ("Create", ME, NOTE_ID)


def test_build_update_of_an_edited_note_golden() -> None:
    edited = note(content="<p>hello again</p>", updated=datetime(2026, 8, 21, 11, 0, tzinfo=UTC))
    update = build_update(activity_id=NOTE_ID + "#updates/1", actor=ME, obj=edited)
    assert update == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me/statuses/1#updates/1",
        "type": "Update",
        "actor": "https://myna.example/users/me",
        "published": "2026-08-21T11:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://myna.example/users/me/followers", "https://mastodon.example/users/bob"],
        "object": {k: v for k, v in edited.items() if k != "@context"},
    }
    assert update["object"]["updated"] == "2026-08-21T11:00:00Z"


def test_build_update_of_the_actor_takes_explicit_audience_and_actor_context() -> None:
    actor_doc = {
        "@context": [AS_NS, "https://w3id.org/security/v1"],
        "id": ME,
        "type": "Person",
        "preferredUsername": "me",
    }
    update = build_update(
        activity_id=ME + "#updates/1700000000", actor=ME, obj=actor_doc, to=[PUBLIC], cc=[FOLLOWERS]
    )
    assert update == {
        "@context": [AS_NS, "https://w3id.org/security/v1"],
        "id": "https://myna.example/users/me#updates/1700000000",
        "type": "Update",
        "actor": "https://myna.example/users/me",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://myna.example/users/me/followers"],
        "object": {"id": ME, "type": "Person", "preferredUsername": "me"},
    }


def test_build_update_without_any_audience_omits_to_and_cc() -> None:
    update = build_update(activity_id=ME + "#u", actor=ME, obj={"id": ME, "type": "Person"})
    assert "to" not in update and "cc" not in update
    assert update["@context"] == CONTEXT


def test_build_tombstone_golden() -> None:
    assert build_tombstone(NOTE_ID, datetime(2026, 8, 22, 9, 30, tzinfo=UTC)) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me/statuses/1",
        "type": "Tombstone",
        "formerType": "Note",
        "deleted": "2026-08-22T09:30:00Z",
    }
    assert build_tombstone(NOTE_ID, former_type="") == {
        "@context": CONTEXT,
        "id": NOTE_ID,
        "type": "Tombstone",
    }


def test_build_delete_golden() -> None:
    assert build_delete(
        activity_id=NOTE_ID + "#delete", actor=ME, object_id=NOTE_ID, to=[PUBLIC], cc=[FOLLOWERS]
    ) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me/statuses/1#delete",
        "type": "Delete",
        "actor": "https://myna.example/users/me",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://myna.example/users/me/followers"],
        "object": {"id": "https://myna.example/users/me/statuses/1", "type": "Tombstone"},
    }


def test_build_delete_is_an_activity_the_parser_accepts() -> None:
    delete = build_delete(activity_id=ME + "#delete", actor=ME, object_id=ME, to=[PUBLIC], cc=[])
    assert parse_activity(delete).object_id == ME


def test_build_like_golden_and_its_undo_embeds_it() -> None:
    like = build_like(activity_id=ME + "#likes/7", actor=ME, object_id=BOB_NOTE)
    assert like == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me#likes/7",
        "type": "Like",
        "actor": "https://myna.example/users/me",
        "object": "https://mastodon.example/users/bob/statuses/7",
    }
    undo = build_undo(undo_id=ME + "#likes/7/undo", actor=ME, activity=like)
    assert undo["object"] == {
        "id": "https://myna.example/users/me#likes/7",
        "type": "Like",
        "actor": "https://myna.example/users/me",
        "object": "https://mastodon.example/users/bob/statuses/7",
    }


def test_build_announce_golden() -> None:
    assert build_announce(
        activity_id=ME + "/statuses/2/activity",
        actor=ME,
        object_id=BOB_NOTE,
        to=[PUBLIC],
        cc=[BOB, FOLLOWERS],
        published=datetime(2026, 8, 21, 12, 0, 1, 999, tzinfo=UTC),
    ) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me/statuses/2/activity",
        "type": "Announce",
        "actor": "https://myna.example/users/me",
        "published": "2026-08-21T12:00:01Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://mastodon.example/users/bob", "https://myna.example/users/me/followers"],
        "object": "https://mastodon.example/users/bob/statuses/7",
    }


def test_build_block_golden() -> None:
    assert build_block(activity_id=ME + "#blocks/3", actor=ME, target=BOB) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me#blocks/3",
        "type": "Block",
        "actor": "https://myna.example/users/me",
        "object": "https://mastodon.example/users/bob",
        "to": ["https://mastodon.example/users/bob"],
    }


def test_build_add_and_remove_golden() -> None:
    featured = ME + "/collections/featured"
    assert build_add(activity_id=ME + "#pins/1", actor=ME, object_id=NOTE_ID, target=featured) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me#pins/1",
        "type": "Add",
        "actor": "https://myna.example/users/me",
        "object": "https://myna.example/users/me/statuses/1",
        "target": "https://myna.example/users/me/collections/featured",
    }
    assert build_remove(
        activity_id=ME + "#pins/1/remove", actor=ME, object_id=NOTE_ID, target=featured
    ) == {
        "@context": CONTEXT,
        "id": "https://myna.example/users/me#pins/1/remove",
        "type": "Remove",
        "actor": "https://myna.example/users/me",
        "object": "https://myna.example/users/me/statuses/1",
        "target": "https://myna.example/users/me/collections/featured",
    }


def test_builders_return_fresh_contexts() -> None:
    like = build_like(activity_id=ME + "#l", actor=ME, object_id=BOB_NOTE)
    like["@context"].append("mutated")
    assert ACTIVITY_CONTEXT == [AS_NS, EXTENSIONS]
