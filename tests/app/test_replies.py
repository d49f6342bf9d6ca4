"""Replies to mentions: a draft with the thread as context, per-actor rate limits, one reply
per thread to bots, no unsolicited mentions, and nothing at all unless switched on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db.models import OutgoingActivity
from app.db.models_ai import Draft
from app.main import create_app
from app.services import drafting
from app.services.replies import ThreadItem, context_text, only_mention
from federation.content import find_mentions
from generation import TextRequest, TextResult, Usage
from generation.offline import OfflineProvider
from tests.conftest import AsgiApp, Clock
from tests.support.fake_remote import FakeActor, FakeRemote
from tests.support.inbox_flow import (
    MYNA,
    PUBLIC,
    create_of,
    deliver,
    mastodon_note,
    mention_of_myna,
    our_post,
    rows,
)

ALICE = "alice@remote.example"


@asynccontextmanager
async def running(
    settings: Settings, clock: Clock, fake_remote: FakeRemote, **changes: Any
) -> AsyncIterator[AsgiApp]:
    """The app with replies to mentions switched on (and ``changes``)."""
    settings = replace(settings, reply_to_mentions=True, **changes)
    app = create_app(settings, clock=clock, transport=fake_remote.transport)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            yield AsgiApp(client, app.state.runtime, settings)


def mention(actor: FakeActor, number: int, text: str, **extra: Any) -> dict[str, Any]:
    """A public note by ``actor`` that mentions the owner."""
    extra.setdefault("tag", [mention_of_myna()])
    extra.setdefault("cc", [f"{actor.id}/followers", MYNA])
    return mastodon_note(actor, number, content=f"<p>@myna {text}</p>", **extra)


async def drafts(app: AsgiApp) -> list[Draft]:
    return list(await rows(app, Draft))


async def test_mention_gets_a_reply_draft_with_the_thread_as_context(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> None:
    alice = fake_remote.add_actor(username="alice")
    bob = fake_remote.add_actor(username="bob")
    async with running(initialised, clock, fake_remote) as app:
        ours = await our_post(app, "What do birds dream of?")
        # Bob's answer is not stored here: it is fetched (signed) for the context.
        bobs = mastodon_note(bob, 7, content="<p>Of worms, surely.</p>", inReplyTo=ours.uri)
        fake_remote.documents[bobs["id"]] = bobs
        note = mention(alice, 1, "what do you think?", inReplyTo=bobs["id"])
        await deliver(app, alice, create_of(alice, note))
        (draft,) = await drafts(app)
        assert draft.state == "candidate"  # for review: nothing is published
        assert draft.in_reply_to == note["id"] and draft.reply_to_actor == alice.id
        prompt = draft.rendered_prompt
        lines = [line for line in prompt.splitlines() if ": " in line]
        assert lines[-3:] == [
            "you: What do birds dream of?",
            f"{bob.id}: Of worms, surely.",
            "@alice@remote.example: @myna what do you think?",
        ], prompt
        assert find_mentions(draft.text) == [ALICE] and draft.text.startswith(f"@{ALICE} ")
        assert fake_remote.gets_of(bobs["id"])[0].headers.get("Signature")


async def test_replies_are_off_by_default(asgi: AsgiApp, fake_remote: FakeRemote) -> None:
    alice = fake_remote.add_actor(username="alice")
    await deliver(asgi, alice, create_of(alice, mention(alice, 1, "hello?")))
    assert await drafts(asgi) == []


async def test_at_most_n_replies_per_actor_per_hour(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> None:
    alice = fake_remote.add_actor(username="alice")
    async with running(initialised, clock, fake_remote, replies_per_actor_per_hour=2) as app:
        for number in (1, 2, 3):
            await deliver(app, alice, create_of(alice, mention(alice, number, f"ping {number}")))
        assert [d.in_reply_to.rsplit("/", 1)[1] for d in await drafts(app)] == ["1", "2"]
        clock.now += timedelta(minutes=61)
        await deliver(app, alice, create_of(alice, mention(alice, 4, "ping 4")))
        assert len(await drafts(app)) == 3


async def test_a_bot_gets_one_reply_per_thread(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> None:
    robot = fake_remote.add_actor(username="robot")
    robot.document["type"] = "Service"
    async with running(initialised, clock, fake_remote, replies_per_actor_per_hour=10) as app:
        first = mention(robot, 1, "beep")
        await deliver(app, robot, create_of(robot, first))
        (reply,) = await drafts(app)
        published = await drafting.approve(app.rt, reply.id)
        # The bot answers our reply, and its own post: the thread had its reply.
        for number, parent in ((2, published.post_uri), (3, first["id"])):
            await deliver(
                app, robot, create_of(robot, mention(robot, number, "boop", inReplyTo=parent))
            )
        assert len(await drafts(app)) == 1
        # A new thread may get one reply again.
        await deliver(app, robot, create_of(robot, mention(robot, 4, "new topic")))
        assert len(await drafts(app)) == 2


async def test_a_person_may_go_on_talking_in_a_thread(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> None:
    alice = fake_remote.add_actor(username="alice")
    async with running(initialised, clock, fake_remote, replies_per_actor_per_hour=10) as app:
        first = mention(alice, 1, "hi")
        await deliver(app, alice, create_of(alice, first))
        await deliver(
            app, alice, create_of(alice, mention(alice, 2, "more", inReplyTo=first["id"]))
        )
        assert len(await drafts(app)) == 2


@pytest.mark.parametrize(
    "case", ["nobot", "followers-only", "direct", "not mentioned", "bot marker answered"]
)
async def test_no_reply_when_the_rules_say_no(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote, case: str
) -> None:
    alice = fake_remote.add_actor(username="alice")
    extra: dict[str, Any] = {}
    if case == "nobot":
        alice.document["summary"] = "<p>Human. #NoBot please</p>"
    elif case == "followers-only":
        extra = {"to": [f"{alice.id}/followers"], "cc": [MYNA]}
    elif case == "direct":
        extra = {"to": [MYNA], "cc": []}
    async with running(initialised, clock, fake_remote) as app:
        if case == "not mentioned":
            ours = await our_post(app, "Morning!")
            note = mastodon_note(alice, 1, content="<p>nice</p>", inReplyTo=ours.uri)
        elif case == "bot marker answered":
            alice.document["bot"] = True
            first = mention(alice, 1, "hello")
            await deliver(app, alice, create_of(alice, first))
            note = mention(alice, 2, "again", inReplyTo=first["id"])
        else:
            note = mention(alice, 1, "hello", **extra)
        await deliver(app, alice, create_of(alice, note))
        expected = 1 if case == "bot marker answered" else 0
        assert len(await drafts(app)) == expected


def _writes_mentions(text: str):
    async def generate_text(self: OfflineProvider, request: TextRequest) -> TextResult:
        return TextResult(text, "offline-composer-1", "offline", Usage(10, 10), "offline-composer")

    return generate_text


async def test_the_reply_mentions_only_the_author(
    initialised: Settings,
    clock: Clock,
    fake_remote: FakeRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = fake_remote.add_actor(username="alice")
    bob = fake_remote.add_actor("https://other.example", "bob")
    # A model that drops other people's handles into its answer.
    monkeypatch.setattr(
        OfflineProvider,
        "generate_text",
        _writes_mentions("Ask @bob@other.example or @Carol@third.example, they know owls."),
    )
    async with running(initialised, clock, fake_remote, reply_auto_publish=True) as app:
        note = mention(alice, 1, "owls?")
        note["tag"].append({"type": "Mention", "href": bob.id, "name": "@bob@other.example"})
        await deliver(app, alice, create_of(alice, note))
        (draft,) = await drafts(app)
        assert draft.state == "published", draft.error
        assert draft.text.startswith(f"@{ALICE} Ask bob@other.example or Carol@third.example")
        assert find_mentions(draft.text) == [ALICE]
        async with app.rt.sessions() as session:
            create = await session.scalar(
                select(OutgoingActivity).where(OutgoingActivity.type == "Create")
            )
        assert create is not None
        note_json = json.loads(create.payload)["object"]
        mentioned = [t["href"] for t in note_json["tag"] if t["type"] == "Mention"]
        assert mentioned == [alice.id]
        assert note_json["inReplyTo"] == note["id"]
        assert bob.id not in (*note_json["to"], *note_json["cc"])
        assert PUBLIC not in note_json["to"]  # unlisted, like the persona's default


def test_only_mention_strips_every_other_handle() -> None:
    text = "Thanks @bob@other.example! (@alice@remote.example.) mail bob@other.example"
    assert only_mention(text, ALICE) == (
        "Thanks bob@other.example! (@alice@remote.example.) mail bob@other.example"
    )
    assert only_mention("@bob@b.example hi", ALICE) == f"@{ALICE} bob@b.example hi"
    assert find_mentions(only_mention("@x@y.example @z@w.example", None)) == []


def test_context_is_capped_keeping_the_newest_posts() -> None:
    items = [ThreadItem(f"u{i}", f"@p{i}@x.example", "word " * 300) for i in range(12)]
    text = context_text(items)
    assert len(text) <= 3000
    lines = text.splitlines()
    assert lines[-1].startswith("@p11@x.example: ") and len(lines) < 12
    assert all(len(line) <= 520 for line in lines)
