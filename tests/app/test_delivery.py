"""The delivery queue: retry policy (pure), status handling, the per-host circuit breaker,
410 Gone, shared-inbox deduplication and fresh signatures, driven with a settable clock.

Outbound traffic goes to ``FakeRemote`` through an async mock transport that yields once per
request, so concurrent deliveries interleave as they would on a network.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db.models import Delivery, Follower, Following, OutgoingActivity, RemoteActor, RemoteHost
from app.jobs.delivery_worker import process_delivery_batch
from app.runtime import Runtime, open_runtime
from app.services.outbox import new_activity_id, queue_activity
from app.store.actors import get_local_actor
from federation import retry
from federation.httpsig import Scheme
from federation.retry import (
    CIRCUIT_THRESHOLD,
    HostHealth,
    Outcome,
    backoff_delay,
    circuit_cooloff,
    classify_status,
    next_attempt_at,
    next_host_health,
    parse_retry_after,
)
from tests.conftest import Clock
from tests.support.fake_remote import FakeRemote

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = 86_400


class _Fixed(random.Random):
    """A random source whose ``random()`` is always ``value`` (0: no jitter, 1: full)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# -- pure policy ------------------------------------------------------------------------------


def _schedule(rng: random.Random) -> float:
    return sum(backoff_delay(k, rng).total_seconds() for k in range(1, retry.MAX_ATTEMPTS))


def test_backoff_schedule_spans_about_two_to_three_days() -> None:
    assert retry.MAX_ATTEMPTS - 1 == 16
    shortest, longest = _schedule(_Fixed(0.0)), _schedule(_Fixed(1.0))
    assert 2.0 * DAY < shortest < 2.1 * DAY
    assert 3.0 * DAY < longest < 3.2 * DAY
    for seed in range(20):
        assert shortest <= _schedule(random.Random(seed)) <= longest


def test_backoff_grows_and_starts_at_fifteen_seconds() -> None:
    delays = [backoff_delay(k, _Fixed(0.0)).total_seconds() for k in range(1, 17)]
    assert delays[0] == 15
    assert delays == sorted(delays) and len(set(delays)) == 16
    assert backoff_delay(1, _Fixed(1.0)).total_seconds() == 25
    with pytest.raises(ValueError):
        backoff_delay(0)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SENT), (202, Outcome.SENT), (204, Outcome.SENT),
        (410, Outcome.GONE),
        (401, Outcome.RETRY), (408, Outcome.RETRY), (429, Outcome.RETRY),
        (500, Outcome.RETRY), (502, Outcome.RETRY), (503, Outcome.RETRY), (504, Outcome.RETRY),
        (400, Outcome.PERMANENT), (403, Outcome.PERMANENT), (404, Outcome.PERMANENT),
        (405, Outcome.PERMANENT), (413, Outcome.PERMANENT), (422, Outcome.PERMANENT),
        (501, Outcome.PERMANENT), (301, Outcome.PERMANENT), (302, Outcome.PERMANENT),
    ],
)  # fmt: skip
def test_classify_status(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after(" 0 ", NOW) == NOW
    later = NOW + timedelta(minutes=30)
    assert parse_retry_after(format_datetime(later, usegmt=True), NOW) == later
    assert parse_retry_after("Fri, 27 Nov 2026 12:10:00 GMT", NOW) == NOW + timedelta(minutes=10)
    assert parse_retry_after(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == NOW


def test_retry_after_is_capped_and_garbage_ignored() -> None:
    cap = NOW + retry.MAX_RETRY_AFTER
    assert parse_retry_after("99999999999999999999", NOW) == cap
    assert parse_retry_after(format_datetime(NOW + timedelta(days=9), usegmt=True), NOW) == cap
    for value in (None, "", "soon", "-5", "1.5", "Fri, 99 Nov 2026"):
        assert parse_retry_after(value, NOW) is None


def test_retry_after_is_honoured_for_429_and_503_only() -> None:
    rng = _Fixed(0.0)
    assert next_attempt_at(1, 429, "3600", NOW, rng) == NOW + timedelta(hours=1)
    assert next_attempt_at(1, 503, "3600", NOW, rng) == NOW + timedelta(hours=1)
    assert next_attempt_at(1, 500, "3600", NOW, rng) == NOW + timedelta(seconds=15)
    assert next_attempt_at(1, None, "3600", NOW, rng) == NOW + timedelta(seconds=15)
    # A Retry-After shorter than the backoff does not make the retry earlier.
    assert next_attempt_at(5, 429, "1", NOW, rng) == NOW + backoff_delay(5, rng)


def test_circuit_opens_after_threshold_and_cools_off_longer_each_time() -> None:
    health = HostHealth()
    for n in range(1, CIRCUIT_THRESHOLD):
        health = next_host_health(health, 503, NOW)
        assert health == HostHealth(n, None) and not health.is_open(NOW)
    health = next_host_health(health, None, NOW)
    assert health.is_open(NOW) and health.open_until == NOW + timedelta(minutes=1)
    # Failures of attempts that were in flight when it opened do not count.
    assert next_host_health(health, 500, NOW + timedelta(seconds=5)) == health
    later = NOW + timedelta(minutes=1)
    assert not health.is_open(later) and health.in_trial(later)
    reopened = next_host_health(health, 429, later)
    assert reopened.open_until == later + timedelta(minutes=2)
    assert [circuit_cooloff(CIRCUIT_THRESHOLD + n).total_seconds() / 60 for n in range(8)] == [
        1, 2, 4, 8, 16, 32, 60, 60,
    ]  # fmt: skip
    assert circuit_cooloff(10_000) == timedelta(hours=1)


@pytest.mark.parametrize("status", [202, 200, 404, 401, 410, 400])
def test_any_answer_from_a_live_host_closes_the_circuit(status: int) -> None:
    tripped = HostHealth(CIRCUIT_THRESHOLD + 2, None)
    assert next_host_health(tripped, status, NOW) == HostHealth()


# -- the worker, in-process -------------------------------------------------------------------


@pytest.fixture
async def rt(
    initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> AsyncIterator[Runtime]:
    """A runtime whose HTTP goes to ``fake_remote``; each request yields to the loop once."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return fake_remote.handle(request)

    async with open_runtime(
        initialised, clock=clock, transport=httpx.MockTransport(handler)
    ) as runtime:
        yield runtime


async def add_follower(
    rt: Runtime, uri: str, *, shared_inbox: str | None = None, following: bool = False
) -> RemoteActor:
    """A remote actor following the owner (and followed by it when ``following``)."""
    now = rt.clock()
    async with rt.writes.begin() as session:
        me = await get_local_actor(session, rt.settings.username)
        assert me is not None
        actor = RemoteActor(
            uri=uri, type="Person", username=uri.rsplit("/", 1)[1], domain=httpx.URL(uri).host,
            inbox=f"{uri}/inbox", shared_inbox=shared_inbox, document="{}", fetched_at=now,
        )  # fmt: skip
        session.add(actor)
        await session.flush()
        session.add(
            Follower(local_actor_id=me.id, remote_actor_id=actor.id, follow_activity_id=f"{uri}#f",
                     follow_activity="{}", state="accepted", created_at=now, updated_at=now)
        )  # fmt: skip
        if following:
            session.add(
                Following(local_actor_id=me.id, remote_actor_id=actor.id,
                          follow_activity_id=new_activity_id(rt), state="accepted",
                          created_at=now, updated_at=now)
            )  # fmt: skip
    return actor


async def queue(rt: Runtime, inboxes: list[str]) -> str:
    """Queue a Create to ``inboxes``; return its id."""
    async with rt.writes.begin() as session:
        me = await get_local_actor(session, rt.settings.username)
        assert me is not None
        activity_id = new_activity_id(rt)
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams", "id": activity_id,
            "type": "Create", "actor": rt.settings.actor_url,
            "object": {"id": activity_id + "/note", "type": "Note", "content": "<p>hi</p>"},
        }  # fmt: skip
        await queue_activity(rt, session, local_actor_id=me.id, activity=activity, inboxes=inboxes)
    return activity_id


async def deliveries(rt: Runtime) -> dict[str, Delivery]:
    """Every delivery row by inbox URL (one activity at a time in these tests)."""
    async with rt.sessions() as session:
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    return {row.inbox_url: row for row in rows}


async def host_row(rt: Runtime, host: str) -> RemoteHost | None:
    async with rt.sessions() as session:
        return await session.get(RemoteHost, host)


def posts_to(fake_remote: FakeRemote, host: str) -> list[httpx.Request]:
    return [r for r in fake_remote.posts if r.url.host == host]


def answer(fake_remote: FakeRemote, rule: Callable[[httpx.Request], int]) -> None:
    fake_remote.inbox_status = rule


async def test_sent_delivery_records_status_and_remembers_the_scheme(
    rt: Runtime, fake_remote: FakeRemote
) -> None:
    inbox = "https://a.example/inbox"
    await queue(rt, [inbox])
    assert await process_delivery_batch(rt) == 1
    row = (await deliveries(rt))[inbox]
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("sent", 1, 202, None)
    assert row.locked_until is None
    host = await host_row(rt, "a.example")
    assert host is not None and host.signature_scheme == Scheme.CAVAGE.value
    assert host.consecutive_failures == 0 and host.circuit_open_until is None
    assert await process_delivery_batch(rt) == 0


async def test_every_attempt_is_signed_afresh_with_the_clock(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    inbox = "https://a.example/inbox"
    answer(fake_remote, lambda request: 503 if len(fake_remote.posts) == 1 else 202)
    await queue(rt, [inbox])
    first_time = clock.now
    await process_delivery_batch(rt)
    clock.now += timedelta(hours=2)
    await process_delivery_batch(rt)
    assert (await deliveries(rt))[inbox].state == "sent"
    first, second = fake_remote.posts
    assert parsedate_to_datetime(first.headers["date"]) == first_time.replace(microsecond=0)
    assert parsedate_to_datetime(second.headers["date"]) == clock.now.replace(microsecond=0)
    assert first.headers["signature"] != second.headers["signature"]


async def test_401_tries_the_other_scheme_then_retries_later(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    inbox = "https://a.example/inbox"
    answer(fake_remote, lambda request: 401)
    await queue(rt, [inbox])
    await process_delivery_batch(rt)
    assert ["signature-input" in r.headers for r in fake_remote.posts] == [False, True]
    row = (await deliveries(rt))[inbox]
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "pending",
        1,
        401,
        "HTTP 401",
    )
    assert (
        clock.now + timedelta(seconds=15)
        <= row.next_attempt_at
        <= clock.now + timedelta(seconds=25)
    )
    # Later the server accepts RFC 9421 only: the retry knocks twice again, then it is
    # remembered and the next delivery to that host starts with RFC 9421.
    answer(fake_remote, lambda request: 202 if "signature-input" in request.headers else 401)
    clock.now += timedelta(seconds=30)
    await process_delivery_batch(rt)
    assert (await deliveries(rt))[inbox].state == "sent"
    host = await host_row(rt, "a.example")
    assert host is not None and host.signature_scheme == Scheme.RFC9421.value
    fake_remote.posts.clear()
    await queue(rt, ["https://a.example/users/b/inbox"])
    await process_delivery_batch(rt)
    assert ["signature-input" in r.headers for r in fake_remote.posts] == [True]


@pytest.mark.parametrize(("status", "knocks"), [(403, 1), (404, 1), (422, 1), (400, 2), (501, 1)])
async def test_other_client_errors_fail_at_once(
    rt: Runtime, fake_remote: FakeRemote, status: int, knocks: int
) -> None:
    inbox = "https://a.example/inbox"
    answer(fake_remote, lambda request: status)
    await queue(rt, [inbox])
    await process_delivery_batch(rt)
    row = (await deliveries(rt))[inbox]
    assert (row.state, row.attempts, row.last_status) == ("failed", 1, status)
    assert row.last_error == f"HTTP {status}"
    assert len(fake_remote.posts) == knocks


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (429, "3600", timedelta(hours=1)),
        (503, format_datetime(NOW + timedelta(minutes=20), usegmt=True), timedelta(minutes=20)),
        (500, "3600", None),
    ],
)
async def test_retry_after_sets_the_next_attempt_for_429_and_503(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock, status: int, retry_after: str,
    wait: timedelta | None,
) -> None:  # fmt: skip
    clock.now = NOW
    inbox = "https://a.example/inbox"
    answer(fake_remote, lambda request: status)
    fake_remote.inbox_headers = lambda request: {"Retry-After": retry_after}
    await queue(rt, [inbox])
    await process_delivery_batch(rt)
    row = (await deliveries(rt))[inbox]
    assert (row.state, row.last_status, row.last_error) == ("pending", status, f"HTTP {status}")
    if wait is None:  # ignored for other statuses: the backoff decides
        assert NOW + timedelta(seconds=15) <= row.next_attempt_at <= NOW + timedelta(seconds=25)
    else:
        assert row.next_attempt_at == NOW + wait


async def test_network_error_is_retried_and_recorded(rt: Runtime, fake_remote: FakeRemote) -> None:
    def refuse(request: httpx.Request) -> int:
        raise httpx.ConnectError("connection refused", request=request)

    answer(fake_remote, refuse)
    await queue(rt, ["https://a.example/inbox"])
    await process_delivery_batch(rt)
    row = (await deliveries(rt))["https://a.example/inbox"]
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert row.last_error == "ConnectError: connection refused"


async def test_gives_up_after_the_last_attempt(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    inbox = "https://a.example/inbox"
    answer(fake_remote, lambda request: 502)
    await queue(rt, [inbox])
    spent = timedelta()
    for _ in range(retry.MAX_ATTEMPTS):
        assert await process_delivery_batch(rt) == 1
        due = (await deliveries(rt))[inbox].next_attempt_at
        spent += due - clock.now
        clock.now = due  # the circuit's cool-off never outlasts the backoff here
    row = (await deliveries(rt))[inbox]
    assert (row.state, row.attempts) == ("failed", retry.MAX_ATTEMPTS)
    assert row.last_error == f"HTTP 502 (gave up after {retry.MAX_ATTEMPTS} attempts)"
    assert 2 * DAY < spent.total_seconds() < 3.2 * DAY
    assert await process_delivery_batch(rt) == 0


async def test_circuit_opens_for_a_dead_host_while_others_are_served(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    clock.now = NOW
    dead = [f"https://dead.example/users/u{n}/inbox" for n in range(8)]
    answer(fake_remote, lambda request: 503 if request.url.host == "dead.example" else 202)
    await queue(rt, [*dead, "https://live.example/inbox"])
    assert await process_delivery_batch(rt) == 9
    rows = await deliveries(rt)
    assert rows["https://live.example/inbox"].state == "sent"  # same batch
    host = await host_row(rt, "dead.example")
    assert host is not None and host.consecutive_failures == CIRCUIT_THRESHOLD
    opened = host.circuit_open_until
    assert opened is not None and opened > NOW
    # Attempts already in flight when it opened may have gone out; no more did.
    attempted = len(posts_to(fake_remote, "dead.example"))
    assert CIRCUIT_THRESHOLD <= attempted <= len(dead)
    assert sum(r.attempts for u, r in rows.items() if u in dead) == attempted
    assert all(rows[u].state == "pending" for u in dead)

    # While it is open, deliveries to the dead host (a new one, and those whose backoff ended
    # first) are put back untried, at no network cost and without counting an attempt; the
    # healthy host is served in the same batch.
    clock.now = NOW + timedelta(seconds=30)
    await queue(rt, ["https://dead.example/inbox", "https://live.example/users/x/inbox"])
    assert await process_delivery_batch(rt) >= 2
    rows = await deliveries(rt)
    assert len(posts_to(fake_remote, "dead.example")) == attempted
    assert sum(r.attempts for u, r in rows.items() if u in dead) == attempted
    assert all(rows[u].next_attempt_at >= opened for u in dead)
    parked = rows["https://dead.example/inbox"]
    assert (parked.state, parked.attempts, parked.next_attempt_at) == ("pending", 0, opened)
    assert parked.last_status is None and parked.last_error is None
    assert rows["https://live.example/users/x/inbox"].state == "sent"

    # After the cool-off the host is back: the trial attempt succeeds, the circuit closes and
    # every waiting delivery goes out.
    answer(fake_remote, lambda request: 202)
    clock.now = opened
    assert await process_delivery_batch(rt) == 9
    rows = await deliveries(rt)
    assert all(row.state == "sent" for row in rows.values())
    host = await host_row(rt, "dead.example")
    assert host is not None and (host.consecutive_failures, host.circuit_open_until) == (0, None)


async def test_a_failed_trial_reopens_the_circuit_for_longer_after_one_request(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    clock.now = NOW
    answer(fake_remote, lambda request: 500)
    dead = [f"https://dead.example/users/u{n}/inbox" for n in range(10)]
    await queue(rt, dead)
    await process_delivery_batch(rt)
    host = await host_row(rt, "dead.example")
    assert host is not None and host.circuit_open_until == NOW + timedelta(minutes=1)
    before = len(fake_remote.posts)
    clock.now = NOW + timedelta(minutes=1)
    assert await process_delivery_batch(rt) == 10
    assert len(fake_remote.posts) == before + 1  # one trial request, the rest waited for it
    host = await host_row(rt, "dead.example")
    assert host is not None and host.consecutive_failures == CIRCUIT_THRESHOLD + 1
    assert host.circuit_open_until == clock.now + timedelta(minutes=2)
    assert all(
        r.next_attempt_at >= host.circuit_open_until for r in (await deliveries(rt)).values()
    )


async def test_410_from_a_personal_inbox_removes_the_actor_and_its_follows(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    gone = await add_follower(rt, "https://a.example/users/gone", following=True)
    kept = await add_follower(rt, "https://a.example/users/kept", following=True)
    answer(fake_remote, lambda request: 410 if request.url.path == "/users/gone/inbox" else 202)
    await queue(rt, [gone.inbox, kept.inbox])
    clock.now += timedelta(minutes=1)
    await queue(rt, [gone.inbox])  # a later activity to the same inbox, not yet due
    clock.now -= timedelta(minutes=1)
    await process_delivery_batch(rt)
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(Delivery.inbox_url, Delivery.state, Delivery.last_status).order_by(
                    Delivery.id
                )
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            (gone.inbox, "failed", 410),
            (kept.inbox, "sent", 202),
            (gone.inbox, "failed", None),
        ]
        followers = (await session.scalars(select(Follower.remote_actor_id))).all()
        following = (await session.scalars(select(Following.remote_actor_id))).all()
        assert followers == [kept.id] and following == [kept.id]
        actor = await session.get(RemoteActor, gone.id)
        assert actor is not None and actor.gone_at is not None
        assert (await session.get(RemoteActor, kept.id)).gone_at is None  # type: ignore[union-attr]


async def test_410_from_a_shared_inbox_only_fails_that_delivery(
    rt: Runtime, fake_remote: FakeRemote
) -> None:
    shared = "https://a.example/inbox"
    actors = [
        await add_follower(rt, f"https://a.example/users/u{n}", shared_inbox=shared)
        for n in range(3)
    ]
    answer(fake_remote, lambda request: 410)
    await queue(rt, [shared])
    await process_delivery_batch(rt)
    assert (await deliveries(rt))[shared].state == "failed"
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Follower)) == 3
        gone = (await session.scalars(select(RemoteActor.gone_at))).all()
    assert gone == [None] * len(actors)


async def test_shared_inboxes_are_deduplicated(rt: Runtime, fake_remote: FakeRemote) -> None:
    from app.services.audience import inboxes

    shared = "https://big.example/inbox"
    for n in range(5):
        await add_follower(rt, f"https://big.example/users/u{n}", shared_inbox=shared)
    alone = await add_follower(rt, "https://small.example/users/solo")
    async with rt.sessions() as session:
        me = await get_local_actor(session, rt.settings.username)
        assert me is not None
        targets = await inboxes(session, me.id, include_followers=True)
    assert sorted(targets) == sorted([shared, alone.inbox])
    activity_id = await queue(rt, [*targets, shared, alone.inbox])  # repeats too
    async with rt.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Delivery))
        assert count == 2
        assert await session.scalar(select(func.count()).select_from(OutgoingActivity)) == 1
    await process_delivery_batch(rt)
    assert sorted(str(r.url) for r in fake_remote.posts) == sorted([shared, alone.inbox])
    assert {p["id"] for p in fake_remote.posted_json()} == {activity_id}


async def test_heartbeat_keeps_the_lease_of_a_slow_attempt(
    rt: Runtime, fake_remote: FakeRemote, clock: Clock
) -> None:
    release = asyncio.Event()
    seen: list[Any] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(202)

    rt.http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    await queue(rt, ["https://a.example/inbox"])
    task = asyncio.create_task(process_delivery_batch(rt, lease=timedelta(seconds=1)))
    await asyncio.sleep(0.1)
    clock.now += timedelta(minutes=5)  # far past the first lease
    await asyncio.sleep(0.6)  # more than a beat (a third of the lease)
    row = (await deliveries(rt))["https://a.example/inbox"]
    seen.append((row.state, row.locked_until))
    release.set()
    assert await task == 1
    await rt.http.aclose()
    assert seen == [("processing", clock.now + timedelta(seconds=1))]


async def test_two_workers_share_the_queue_without_sending_twice(
    rt: Runtime, initialised: Settings, clock: Clock, fake_remote: FakeRemote
) -> None:
    inboxes = [f"https://h{n % 4}.example/users/u{n}/inbox" for n in range(60)]
    activity_id = await queue(rt, inboxes)

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return fake_remote.handle(request)

    async def drain(worker: Runtime) -> None:
        while await process_delivery_batch(worker, limit=7):
            pass

    # A second runtime has its own engine and pool, like a `myna worker` process.
    async with open_runtime(
        initialised, clock=clock, transport=httpx.MockTransport(handler)
    ) as other:
        await asyncio.gather(drain(rt), drain(other))
    assert sorted(str(r.url) for r in fake_remote.posts) == sorted(inboxes)
    assert {p["id"] for p in fake_remote.posted_json()} == {activity_id}
    rows = await deliveries(rt)
    assert {(r.state, r.attempts) for r in rows.values()} == {("sent", 1)}
    async with rt.sessions() as session:
        hosts = (await session.scalars(select(RemoteHost.host).order_by(RemoteHost.host))).all()
    assert hosts == [f"h{n}.example" for n in range(4)]
