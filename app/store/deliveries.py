"""Outgoing activities and the durable delivery queue (one row per target inbox), plus what
the delivery worker remembers per remote host (signature scheme, circuit breaker)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    Delivery,
    DeliveryAttempt,
    Follower,
    Following,
    LocalActor,
    OutgoingActivity,
    RemoteActor,
    RemoteHost,
)
from federation.retry import HostHealth


async def enqueue_activity(
    session: AsyncSession,
    *,
    local_actor_id: int,
    activity: Mapping[str, Any],
    inboxes: Iterable[str],
    now: datetime,
) -> OutgoingActivity:
    """Store ``activity`` as sent by the local actor and queue one delivery per distinct inbox."""
    row = OutgoingActivity(
        uri=str(activity["id"]),
        type=str(activity["type"]),
        local_actor_id=local_actor_id,
        payload=json.dumps(activity, separators=(",", ":")),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    rows = [
        {"activity_id": row.id, "inbox_url": inbox, "state": "pending", "attempts": 0,
         "next_attempt_at": now, "created_at": now, "updated_at": now}
        for inbox in dict.fromkeys(inboxes)
    ]  # fmt: skip
    for start in range(0, len(rows), 1000):  # one multi-row INSERT per thousand inboxes
        await session.execute(insert(Delivery), rows[start : start + 1000])
    return row


async def get_outgoing(session: AsyncSession, uri: str) -> OutgoingActivity | None:
    return await session.scalar(select(OutgoingActivity).where(OutgoingActivity.uri == uri))


async def list_deliveries(
    session: AsyncSession,
    *,
    state: str | None = None,
    post_uri: str | None = None,
    limit: int = 100,
) -> Sequence[tuple[Delivery, OutgoingActivity]]:
    """Newest-first deliveries with their activity; ``post_uri`` keeps those of the activities
    about that post (their ids live under the post's own id)."""
    stmt = (
        select(Delivery, OutgoingActivity)
        .join(OutgoingActivity, OutgoingActivity.id == Delivery.activity_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        stmt = stmt.where(Delivery.state == state)
    if post_uri is not None:
        stmt = stmt.where(
            or_(
                OutgoingActivity.uri == f"{post_uri}/activity",
                OutgoingActivity.uri.startswith(f"{post_uri}#"),
            )
        )
    return [(d, a) for d, a in (await session.execute(stmt)).all()]


# ------------------------------------------------------------------ the worker's side --
@dataclass(frozen=True)
class DeliveryJob:
    """A claimed delivery with what its attempt needs (``attempts`` includes this one)."""

    id: int
    inbox_url: str
    attempts: int
    last_status: int | None
    last_error: str | None
    body: bytes
    username: str


async def load_delivery_jobs(session: AsyncSession, ids: Collection[int]) -> list[DeliveryJob]:
    """The claimed deliveries ``ids`` with their activity's body (read once per activity) and
    the sending actor's username; rows deleted meanwhile are left out."""
    if not ids:
        return []
    rows = (
        await session.execute(
            select(
                Delivery.id, Delivery.activity_id, Delivery.inbox_url, Delivery.attempts,
                Delivery.last_status, Delivery.last_error,
            ).where(Delivery.id.in_(list(ids))).order_by(Delivery.id)
        )
    ).all()  # fmt: skip
    activity_ids = {row.activity_id for row in rows}
    activities = {
        a.id: (a.payload.encode(), a.username)
        for a in (
            await session.execute(
                select(OutgoingActivity.id, OutgoingActivity.payload, LocalActor.username)
                .join(LocalActor, LocalActor.id == OutgoingActivity.local_actor_id)
                .where(OutgoingActivity.id.in_(activity_ids))
            )
        ).all()
    }
    return [
        DeliveryJob(row.id, row.inbox_url, row.attempts, row.last_status, row.last_error,
                    *activities[row.activity_id])
        for row in rows
        if row.activity_id in activities
    ]  # fmt: skip


@dataclass
class HostState:
    """What the worker knows of a host: its circuit breaker and the scheme it accepts."""

    health: HostHealth
    scheme: str | None = None


async def load_host_states(session: AsyncSession, hosts: Iterable[str]) -> dict[str, HostState]:
    """The state of every host in ``hosts`` (a fresh one for hosts never seen)."""
    wanted = sorted(set(hosts))
    states = {host: HostState(HostHealth()) for host in wanted}
    if wanted:
        for row in await session.scalars(select(RemoteHost).where(RemoteHost.host.in_(wanted))):
            states[row.host] = HostState(
                HostHealth(row.consecutive_failures or 0, row.circuit_open_until),
                row.signature_scheme,
            )
    return states


async def update_deliveries(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk UPDATE of delivery rows by id; every mapping has the same keys, ``id`` included.

    One Core statement run with executemany: several times cheaper per row than the ORM's
    bulk update, which matters at fan-out rates."""
    if not rows:
        return
    table = cast(Table, Delivery.__table__)
    columns = [name for name in rows[0] if name != "id"]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({name: bindparam(f"_{name}") for name in columns})
    )
    params = [{f"_{name}": value for name, value in row.items()} for row in rows]
    await session.execute(stmt, params)


async def add_attempts(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append attempts to the deliveries' histories (one bulk insert)."""
    if rows:
        await session.execute(insert(DeliveryAttempt), list(rows))


async def attempts_of(
    session: AsyncSession, delivery_ids: Collection[int]
) -> dict[int, list[DeliveryAttempt]]:
    """Every attempt of the given deliveries, oldest first, by delivery id."""
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        stmt = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(DeliveryAttempt.id)
        )
        for attempt in (await session.scalars(stmt)).all():
            found[attempt.delivery_id].append(attempt)
    return found


async def renew_leases(session: AsyncSession, ids: Collection[int], until: datetime) -> None:
    """Extend the lease of deliveries still being processed (a live worker's heartbeat)."""
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(ids)), Delivery.state == "processing")
            .values(locked_until=until)
        )


async def lock_remote_host(session: AsyncSession, host: str, now: datetime) -> RemoteHost:
    """The host's row, created if missing and locked until the transaction ends.

    The row is created with ``INSERT ... ON CONFLICT DO NOTHING`` so two worker processes
    meeting a new host at once do not fail on the primary key; ``SELECT ... FOR UPDATE`` then
    serialises them on PostgreSQL (SQLite writers are serialised by BEGIN IMMEDIATE).
    """
    row = await session.get(RemoteHost, host, with_for_update=True)
    if row is not None:
        return row
    dialect = session.get_bind().dialect.name
    values = {"host": host, "consecutive_failures": 0, "updated_at": now}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(RemoteHost).values(values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(sqlite_insert(RemoteHost).values(values).on_conflict_do_nothing())
    row = await session.get(RemoteHost, host, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def host_health(row: RemoteHost) -> HostHealth:
    return HostHealth(row.consecutive_failures or 0, row.circuit_open_until)


async def save_remote_host(
    session: AsyncSession, row: RemoteHost, health: HostHealth, scheme: str | None, now: datetime
) -> None:
    """Write ``health`` and ``scheme`` to the host's (locked) row."""
    row.consecutive_failures = health.failures
    row.circuit_open_until = health.open_until
    row.signature_scheme = scheme
    row.updated_at = now
    await session.flush()


async def forget_gone_inbox(session: AsyncSession, inbox_url: str, now: datetime) -> str | None:
    """After a 410 from ``inbox_url``: when it is one actor's personal inbox (and no other
    actor's shared inbox), mark that actor gone, delete its follower and following rows and
    fail its other pending deliveries; return the actor's URI. A shared inbox, or one several
    actors use, only fails the delivery that got the 410: return None."""
    owners = (
        await session.scalars(select(RemoteActor).where(RemoteActor.inbox == inbox_url).limit(2))
    ).all()
    if len(owners) != 1:
        return None
    actor = owners[0]
    shared_by_others = await session.scalar(
        select(func.count())
        .select_from(RemoteActor)
        .where(RemoteActor.shared_inbox == inbox_url, RemoteActor.id != actor.id)
    )
    if shared_by_others:
        return None
    actor.gone_at = now
    await session.execute(delete(Follower).where(Follower.remote_actor_id == actor.id))
    await session.execute(delete(Following).where(Following.remote_actor_id == actor.id))
    await session.execute(
        update(Delivery)
        .where(Delivery.inbox_url == inbox_url, Delivery.state == "pending")
        .values(state="failed", last_error="not attempted: the inbox answered 410 Gone",
                locked_until=None, updated_at=now)
    )  # fmt: skip
    await session.flush()
    return actor.uri
