"""Processing stored activities (Follow, Undo, Accept, Reject) and delivering the answers.

Workers do not run in-process under test: each test receives activities through the inbox
endpoint, then runs ``process_inbox_batch`` / ``process_delivery_batch`` itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db.models import (
    Delivery,
    Follower,
    Following,
    InboxItem,
    Notification,
    OutgoingActivity,
    RemoteHost,
)
from app.inbox_handlers import build_router
from app.jobs.delivery_worker import process_delivery_batch
from app.jobs.inbox_worker import process_inbox_batch
from app.services.following import answer_follow_request
from app.services.following import follow as send_follow
from federation.errors import KeyNotFound
from federation.httpsig import PublicKey, Scheme, Verified, http_date, verify_request
from federation.keys import load_public_key_pem
from federation.vocab import ACTIVITY_TYPES, SAME_ORIGIN_OBJECT_TYPES
from tests.conftest import AsgiApp
from tests.support.fake_remote import (
    AS2,
    FakeActor,
    FakeRemote,
    activity,
    pooled_rsa_key,
    signed_headers,
)

BASE = "https://myna.test"
MYNA = f"{BASE}/users/myna"
INBOX = f"{MYNA}/inbox"


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def alice(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://remote.example", "alice", key=pooled_rsa_key(0))


@pytest.fixture
def bob(fake_remote: FakeRemote) -> FakeActor:
    return fake_remote.add_actor("https://other.example", "bob", key=pooled_rsa_key(1))


@pytest.fixture
def carol(fake_remote: FakeRemote) -> FakeActor:
    """A second actor on alice's server (same host, so same remembered signature scheme)."""
    return fake_remote.add_actor("https://remote.example", "carol", key=pooled_rsa_key(2))


@pytest.fixture
async def locked(initialised, clock, fake_remote) -> AsyncIterator[AsgiApp]:
    """The app of an owner who approves followers by hand."""
    from app.main import create_app

    settings = replace(initialised, manually_approves_followers=True)
    app = create_app(settings, clock=clock, transport=fake_remote.transport)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            yield AsgiApp(client, app.state.runtime, settings)


async def receive(asgi: AsgiApp, actor: FakeActor, doc: dict[str, Any]) -> None:
    """POST ``doc`` to Myna's inbox signed as ``actor``; it must be accepted."""
    body = json.dumps(doc).encode()
    headers = signed_headers(actor, INBOX, body, now=asgi.rt.clock())
    response = await asgi.client.post(INBOX.removeprefix(BASE), content=body, headers=headers)
    assert response.status_code == 202, response.text


async def process(asgi: AsgiApp) -> int:
    return await process_inbox_batch(asgi.rt, build_router())


async def rows(asgi: AsgiApp, model: Any) -> list[Any]:
    async with asgi.rt.sessions() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def item(asgi: AsgiApp, activity_id: str) -> InboxItem:
    async with asgi.rt.sessions() as session:
        found = await session.scalar(select(InboxItem).where(InboxItem.activity_id == activity_id))
    assert found is not None, activity_id
    return found


async def deliveries(asgi: AsgiApp) -> list[tuple[Delivery, dict[str, Any]]]:
    async with asgi.rt.sessions() as session:
        result = await session.execute(
            select(Delivery, OutgoingActivity)
            .join(OutgoingActivity, OutgoingActivity.id == Delivery.activity_id)
            .order_by(Delivery.id)
        )
        return [(d, json.loads(a.payload)) for d, a in result.all()]


async def notifications(asgi: AsgiApp) -> list[tuple[str, str]]:
    return [(n.kind, n.actor_uri) for n in await rows(asgi, Notification)]


def follow_of(actor: FakeActor, suffix: str = "1", target: str = MYNA) -> dict[str, Any]:
    return activity(actor, "Follow", target, suffix)


def without_context(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "@context"}


async def myna_public_key(asgi: AsgiApp) -> PublicKey:
    """Myna's key as a peer sees it: read from the served actor document."""
    response = await asgi.client.get("/users/myna", headers={"Accept": AS2})
    document = response.json()
    public_key = load_public_key_pem(document["publicKey"]["publicKeyPem"])
    return PublicKey(document["publicKey"]["id"], document["id"], public_key)  # type: ignore[arg-type]


async def verify_delivery(asgi: AsgiApp, request: httpx.Request) -> Verified:
    """Verify a POST Myna sent the way a receiving server would; return what verified."""
    key = await myna_public_key(asgi)

    async def fetch_key(key_id: str, refresh: bool) -> PublicKey:
        if key_id != key.key_id:
            raise KeyNotFound(key_id)
        return key

    return await verify_request(
        "POST",
        str(request.url),
        request.headers.multi_items(),
        request.content,
        fetch_key,
        now=asgi.rt.clock(),
    )


async def follow_and_process(asgi: AsgiApp, actor: FakeActor, suffix: str = "1") -> dict:
    doc = follow_of(actor, suffix)
    await receive(asgi, actor, doc)
    assert await process(asgi) == 1
    return doc


# -- Follow -------------------------------------------------------------------------------------


async def test_follow_is_accepted_and_the_accept_is_delivered_signed(asgi, fake_remote, alice):
    doc = await follow_and_process(asgi, alice)

    assert (await item(asgi, doc["id"])).state == "done"
    (follower,) = await rows(asgi, Follower)
    assert follower.state == "accepted"
    assert follower.follow_activity_id == doc["id"]
    assert await notifications(asgi) == [("follow", alice.id)]
    ((queued, accept),) = await deliveries(asgi)
    assert queued.state == "pending" and queued.inbox_url == alice.inbox

    assert await process_delivery_batch(asgi.rt) == 1
    (request,) = fake_remote.posts
    assert str(request.url) == alice.inbox
    sent = json.loads(request.content)
    assert sent == accept
    assert sent["type"] == "Accept"
    assert sent["actor"] == MYNA
    assert sent["id"].startswith(f"{BASE}/") and sent["id"] != doc["id"]
    assert sent["object"] == without_context(doc)  # the original Follow, with its own id
    assert sent["object"]["id"] == doc["id"]
    verified = await verify_delivery(asgi, request)
    assert verified.key.key_id == f"{MYNA}#main-key"
    assert verified.key.owner == MYNA
    ((done, _),) = await deliveries(asgi)
    assert done.state == "sent" and done.last_status == 202 and done.attempts == 1


async def test_repeated_follow_with_a_new_id_is_accepted_again_without_a_second_row(
    asgi, fake_remote, alice
):
    await follow_and_process(asgi, alice, "1")
    second = await follow_and_process(asgi, alice, "2")

    (follower,) = await rows(asgi, Follower)
    assert follower.state == "accepted"
    assert follower.follow_activity_id == second["id"]
    assert await notifications(asgi) == [("follow", alice.id)]
    accepts = [payload for _, payload in await deliveries(asgi)]
    assert [a["type"] for a in accepts] == ["Accept", "Accept"]
    assert accepts[1]["object"]["id"] == second["id"]
    assert await process_delivery_batch(asgi.rt) == 2
    assert sorted(p["object"]["id"] for p in fake_remote.posted_json()) == sorted(
        [follow_of(alice, "1")["id"], second["id"]]
    )


async def test_follow_of_someone_else_is_ignored(asgi, alice):
    doc = follow_of(alice, target=f"{BASE}/users/somebody")
    await receive(asgi, alice, doc)
    await process(asgi)
    done = await item(asgi, doc["id"])
    assert done.state == "done" and "ignored" in (done.last_error or "")
    assert await rows(asgi, Follower) == []
    assert await deliveries(asgi) == []


async def test_locked_account_keeps_follow_pending_until_approved(locked, fake_remote, alice):
    doc = await follow_and_process(locked, alice, "1")

    (follower,) = await rows(locked, Follower)
    assert follower.state == "pending"
    assert await notifications(locked) == [("follow_request", alice.id)]
    assert await deliveries(locked) == []
    # A repeated request stays pending, sends nothing and does not notify twice.
    await follow_and_process(locked, alice, "2")
    assert [f.state for f in await rows(locked, Follower)] == ["pending"]
    assert await deliveries(locked) == []
    assert await notifications(locked) == [("follow_request", alice.id)]
    assert await process_delivery_batch(locked.rt) == 0
    assert fake_remote.posts == []

    await answer_follow_request(locked.rt, alice.id, accept=True)

    (follower,) = await rows(locked, Follower)
    assert follower.state == "accepted"
    assert ("follow", alice.id) in await notifications(locked)
    assert await process_delivery_batch(locked.rt) == 1
    (request,) = fake_remote.posts
    sent = json.loads(request.content)
    assert sent["type"] == "Accept" and sent["actor"] == MYNA
    assert sent["object"]["id"] == follow_of(alice, "2")["id"]  # the latest request
    assert sent["object"]["type"] == "Follow" and sent["object"]["actor"] == alice.id
    assert doc["id"] != sent["object"]["id"]
    await verify_delivery(locked, request)


async def test_locked_account_rejects_a_follow_request(locked, fake_remote, alice):
    doc = await follow_and_process(locked, alice)
    await answer_follow_request(locked.rt, alice.id, accept=False)

    assert await rows(locked, Follower) == []
    assert await process_delivery_batch(locked.rt) == 1
    (sent,) = fake_remote.posted_json()
    assert sent["type"] == "Reject" and sent["actor"] == MYNA
    assert sent["object"]["id"] == doc["id"]


# -- Undo ---------------------------------------------------------------------------------------


def undo_of(actor: FakeActor, inner: Any, suffix: str = "1") -> dict[str, Any]:
    return activity(actor, "Undo", inner, f"undo-{suffix}")


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded-follow", "follow-id"])
async def test_undo_follow_by_the_follower_removes_the_follower(asgi, alice, embedded):
    doc = await follow_and_process(asgi, alice)
    inner = without_context(doc) if embedded else doc["id"]
    undo = undo_of(alice, inner)
    await receive(asgi, alice, undo)
    assert await process(asgi) == 1

    assert (await item(asgi, undo["id"])).state == "done"
    assert await rows(asgi, Follower) == []
    assert await notifications(asgi) == [("follow", alice.id), ("unfollow", alice.id)]


async def test_undo_of_another_actors_follow_changes_nothing(asgi, alice, bob, subtests):
    alice_follow = await follow_and_process(asgi, alice)
    await follow_and_process(asgi, bob)
    before = [
        (f.remote_actor_id, f.state, f.follow_activity_id) for f in await rows(asgi, Follower)
    ]
    cases = {
        # bob undoes a Follow that names alice as its actor
        "embedded-follow-of-alice": without_context(alice_follow),
        # bob undoes alice's Follow by id
        "id-of-alices-follow": alice_follow["id"],
        # bob undoes a Follow that claims to be his but targets someone else
        "follow-of-another-target": {**without_context(follow_of(bob)),
                                     "object": f"{BASE}/users/somebody"},
    }  # fmt: skip
    for number, (name, inner) in enumerate(cases.items()):
        with subtests.test(case=name):
            undo = undo_of(bob, inner, str(number))
            await receive(asgi, bob, undo)
            assert await process(asgi) == 1
            after = [(f.remote_actor_id, f.state, f.follow_activity_id)
                     for f in await rows(asgi, Follower)]  # fmt: skip
            assert after == before
            assert (await item(asgi, undo["id"])).state in ("done", "unhandled")
            assert ("unfollow", alice.id) not in await notifications(asgi)
            assert ("unfollow", bob.id) not in await notifications(asgi)


# -- Accept / Reject of our Follow --------------------------------------------------------------


async def sent_follow(asgi: AsgiApp, actor: FakeActor) -> dict[str, Any]:
    """Follow ``actor`` from Myna and deliver it; return the Follow as the peer received it."""
    row, remote = await send_follow(asgi.rt, actor.id)
    assert row.state == "pending" and remote.uri == actor.id
    assert await process_delivery_batch(asgi.rt) == 1
    (payload,) = [
        p for _, p in await deliveries(asgi) if p["type"] == "Follow" and p["object"] == actor.id
    ]
    assert payload["id"] == row.follow_activity_id
    return payload


async def followings(asgi: AsgiApp) -> dict[int, str]:
    return {f.remote_actor_id: f.state for f in await rows(asgi, Following)}


@pytest.mark.parametrize("embedded", [True, False], ids=["embedded-follow", "follow-id"])
async def test_accept_of_our_follow_marks_it_accepted(asgi, fake_remote, alice, embedded):
    our_follow = await sent_follow(asgi, alice)
    inner = without_context(our_follow) if embedded else our_follow["id"]
    accept = activity(alice, "Accept", inner)
    await receive(asgi, alice, accept)
    assert await process(asgi) == 1

    assert (await item(asgi, accept["id"])).state == "done"
    assert list((await followings(asgi)).values()) == ["accepted"]
    assert await notifications(asgi) == [("follow_accepted", alice.id)]


async def test_reject_of_our_follow_marks_it_rejected(asgi, alice):
    our_follow = await sent_follow(asgi, alice)
    await receive(asgi, alice, activity(alice, "Reject", without_context(our_follow)))
    await process(asgi)
    assert list((await followings(asgi)).values()) == ["rejected"]
    assert await notifications(asgi) == [("follow_rejected", alice.id)]


async def test_accept_by_someone_other_than_the_followed_actor_is_ignored(
    asgi, alice, bob, subtests
):
    our_follow = await sent_follow(asgi, alice)
    for kind in ("Accept", "Reject"):
        with subtests.test(kind=kind):
            answer = activity(bob, kind, without_context(our_follow))
            await receive(asgi, bob, answer)
            assert await process(asgi) == 1
            done = await item(asgi, answer["id"])
            assert done.state == "done" and "ignored" in (done.last_error or "")
            assert list((await followings(asgi)).values()) == ["pending"]
            assert await notifications(asgi) == []


async def test_accept_of_a_follow_we_never_sent_is_ignored(asgi, alice):
    await sent_follow(asgi, alice)
    accept = activity(alice, "Accept", f"{BASE}/activities/not-ours")
    await receive(asgi, alice, accept)
    await process(asgi)
    assert (await item(asgi, accept["id"])).state == "done"
    assert list((await followings(asgi)).values()) == ["pending"]


# -- types without handlers ---------------------------------------------------------------------


async def test_activities_without_a_handler_are_kept_as_unhandled(asgi, alice, subtests):
    """Types no handler covers yet (Like and Create were among them before their handlers
    arrived) are recorded as ``unhandled`` for later handlers, never as failed."""
    router = build_router()
    kinds = sorted(kind for kind in ACTIVITY_TYPES if not router.handles(kind))
    assert kinds, "every activity type has a handler: nothing left to check here"
    docs = []
    for kind in kinds:
        if kind in SAME_ORIGIN_OBJECT_TYPES:
            obj: Any = {"id": f"{alice.id}/objects/{kind.lower()}", "type": "Note"}
        else:
            obj = f"{BASE}/notes/1"
        docs.append(activity(alice, kind, obj))
    for doc in docs:
        await receive(asgi, alice, doc)
    assert await process(asgi) == len(docs)
    for doc in docs:
        with subtests.test(type=doc["type"]):
            kept = await item(asgi, doc["id"])
            assert kept.state == "unhandled"
            assert kept.processed_at is not None
            assert json.loads(kept.payload) == doc
    # Unhandled items are not claimed again.
    assert await process(asgi) == 0


# -- delivery -----------------------------------------------------------------------------------


def knocked_with(request: httpx.Request) -> Scheme:
    return Scheme.RFC9421 if "signature-input" in request.headers else Scheme.CAVAGE


async def test_delivery_knocks_again_with_rfc9421_and_remembers_the_host(
    asgi, fake_remote, alice, carol
):
    fake_remote.inbox_status = lambda r: 202 if knocked_with(r) is Scheme.RFC9421 else 401
    await send_follow(asgi.rt, alice.id)
    assert await process_delivery_batch(asgi.rt) == 1

    assert [knocked_with(r) for r in fake_remote.posts] == [Scheme.CAVAGE, Scheme.RFC9421]
    assert all(str(r.url) == alice.inbox for r in fake_remote.posts)
    verified = await verify_delivery(asgi, fake_remote.posts[1])
    assert verified.scheme is Scheme.RFC9421
    ((delivery, _),) = await deliveries(asgi)
    assert delivery.state == "sent" and delivery.last_status == 202
    (host,) = await rows_by_host(asgi)
    assert (host.host, host.signature_scheme) == ("remote.example", Scheme.RFC9421.value)

    # The next delivery to that host knocks with RFC 9421 first, and once.
    await send_follow(asgi.rt, carol.id)
    assert await process_delivery_batch(asgi.rt) == 1
    assert len(fake_remote.posts) == 3
    third = fake_remote.posts[2]
    assert str(third.url) == carol.inbox and knocked_with(third) is Scheme.RFC9421


async def rows_by_host(asgi: AsgiApp) -> list[RemoteHost]:
    async with asgi.rt.sessions() as session:
        return list((await session.scalars(select(RemoteHost))).all())


async def test_delivery_answered_500_is_retried_later_and_resigned(asgi, clock, fake_remote, alice):
    fake_remote.inbox_status = lambda r: 500
    await send_follow(asgi.rt, alice.id)
    start = clock.now
    assert await process_delivery_batch(asgi.rt) == 1

    assert len(fake_remote.posts) == 1  # a 5xx is not a reason to switch schemes
    ((delivery, _),) = await deliveries(asgi)
    assert delivery.state == "pending" and delivery.attempts == 1
    assert delivery.last_status == 500
    assert start + timedelta(seconds=15) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= start + timedelta(seconds=25)
    # Not due yet: nothing is claimed.
    assert await process_delivery_batch(asgi.rt) == 0

    clock.now = delivery.next_attempt_at + timedelta(seconds=1)
    fake_remote.inbox_status = lambda r: 202
    assert await process_delivery_batch(asgi.rt) == 1
    ((delivery, _),) = await deliveries(asgi)
    assert delivery.state == "sent" and delivery.attempts == 2
    first, second = fake_remote.posts
    assert first.headers["date"] == http_date(start)
    assert second.headers["date"] == http_date(clock.now)  # signed afresh at send time
    await verify_delivery(asgi, second)


async def test_delivery_answered_410_fails_for_good(asgi, fake_remote, alice):
    fake_remote.inbox_status = lambda r: 410
    await send_follow(asgi.rt, alice.id)
    assert await process_delivery_batch(asgi.rt) == 1
    ((delivery, _),) = await deliveries(asgi)
    assert delivery.state == "failed" and delivery.last_status == 410
    assert len(fake_remote.posts) == 1


async def test_delivery_answered_503_honours_retry_after(asgi, clock, fake_remote, alice):
    fake_remote.inbox_status = lambda r: 503
    fake_remote.inbox_headers = lambda r: {"Retry-After": "120"}
    await send_follow(asgi.rt, alice.id)
    start = clock.now
    assert await process_delivery_batch(asgi.rt) == 1
    ((delivery, _),) = await deliveries(asgi)
    assert delivery.state == "pending" and delivery.attempts == 1
    assert delivery.last_status == 503
    assert delivery.next_attempt_at >= start + timedelta(seconds=120)
    clock.now = start + timedelta(seconds=119)
    assert await process_delivery_batch(asgi.rt) == 0
