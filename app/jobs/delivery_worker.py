"""Delivers claimed rows of the delivery queue: signed afresh per attempt, retried with backoff,
with a per-host circuit breaker.

One batch: claim up to ``BATCH_SIZE`` due rows atomically (several processes can share the
queue), load them, and attempt them ``CONCURRENCY`` at a time. Before each attempt the
host's circuit is checked (``federation.retry``): while it is open the delivery is put back,
due when the circuit reopens, without counting an attempt or touching the network; once the
cool-off is over one attempt at a time goes to that host until it answers. Outcomes are
written in group commits (one transaction for every result that arrived while the previous
one was writing), and an attempt keeps its concurrency slot until its outcome is committed,
so a crash re-sends at most ``CONCURRENCY`` deliveries that had already reached their inbox.

Statuses (``federation.retry.classify_status``): 2xx sent; 401 (after both signature schemes
were tried), 408, 429, 5xx and network errors retried with backoff (``Retry-After`` honoured
for 429 and 503) up to ``MAX_ATTEMPTS``; 410 fails the delivery and, from an actor's
personal inbox, marks the actor gone and deletes its follows; other 4xx fail at once.

The lease of claimed rows (``DEFAULT_LEASE``, 60 s) is renewed by a heartbeat while the batch
runs, so only a worker that died leaves rows to be reclaimed, at the latest one lease after
it died.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Delivery
from app.runtime import Runtime
from app.store import deliveries as store
from app.store.deliveries import DeliveryJob, HostState
from app.store.group_commit import GroupCommit
from app.store.queue import claim_rows
from federation.delivery import DeliveryResult, deliver
from federation.errors import ParseError
from federation.httpsig import Scheme, Signer
from federation.parse import host_of
from federation.retry import (
    MAX_ATTEMPTS,
    HostHealth,
    Outcome,
    classify_status,
    next_attempt_at,
    next_host_health,
)

log = logging.getLogger("myna.jobs.delivery")

CONCURRENCY = 16
BATCH_SIZE = 64
# A claim's lease; renewed by a heartbeat every third of it while the batch runs, so only a
# dead worker's rows wait for it to run out.
DEFAULT_LEASE = timedelta(seconds=60)
# Measured with `python -m bench fanout` (see bench/): signing in a thread pool did not speed
# up fan-out, because the event loop (HTTP client, database) is the bottleneck, not RSA.
SIGN_IN_THREAD = False
_SCHEMES = {scheme.value: scheme for scheme in Scheme}


def _host(url: str) -> str:
    try:
        return host_of(url)
    except ParseError:
        return ""  # the attempt will be refused by the client guard and fail for good


@dataclass(frozen=True)
class _Record:
    """The outcome of one claimed row, to be committed: the row's new columns, and what it
    tells about the host (``host_status`` is None for "no answer")."""

    row: dict[str, Any]
    host: str
    now: datetime
    attempted: bool = False
    host_status: int | None = None
    scheme: str | None = None
    gone_inbox: str | None = None
    tried_scheme: str | None = None  # set for every real attempt, kept in its history


async def process_delivery_batch(
    rt: Runtime, limit: int = BATCH_SIZE, *, lease: timedelta = DEFAULT_LEASE
) -> int:
    """Claim up to ``limit`` due deliveries and attempt them concurrently; return how many
    were claimed. Raises the first database error after every attempt has finished."""
    table = Delivery.__table__
    ids = await claim_rows(rt.engine, table, now=rt.clock(), lease=lease, limit=limit)  # type: ignore[arg-type]
    if not ids:
        return 0
    async with rt.sessions() as session:
        jobs = await store.load_delivery_jobs(session, ids)
        hosts = await store.load_host_states(session, (_host(job.inbox_url) for job in jobs))
    batch = _Batch(rt, hosts, lease, {job.id for job in jobs})
    heartbeat = asyncio.create_task(batch.heartbeat())
    try:
        results = await asyncio.gather(*(batch.run(job) for job in jobs), return_exceptions=True)
    finally:
        batch.done.set()  # let the heartbeat finish its write rather than cancel it mid-way
        await heartbeat
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return len(ids)


class _Batch:
    def __init__(
        self, rt: Runtime, hosts: dict[str, HostState], lease: timedelta, ids: set[int]
    ) -> None:
        self.rt = rt
        self.hosts = hosts
        self.lease = lease
        self.unfinished = ids
        self.slots = asyncio.Semaphore(CONCURRENCY)
        self.trials: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.signers: dict[str, Signer] = {}
        self.recorder: GroupCommit[_Record, None] = GroupCommit(self._write_records)
        self.done = asyncio.Event()

    async def run(self, job: DeliveryJob) -> None:
        try:
            host = _host(job.inbox_url)
            state = self.hosts.setdefault(host, HostState(HostHealth()))
            if state.health.in_trial(self.rt.clock()):
                # The circuit's cool-off is over: one attempt probes the host, the others
                # wait for its answer (without holding a concurrency slot), then either go
                # out together or are put back when the circuit opened again.
                async with self.trials[host]:
                    if state.health.in_trial(self.rt.clock()):
                        await self._attempt_or_defer(job, host, state)
                        return
            await self._attempt_or_defer(job, host, state)
        finally:
            self.unfinished.discard(job.id)

    async def _attempt_or_defer(self, job: DeliveryJob, host: str, state: HostState) -> None:
        async with self.slots:
            now = self.rt.clock()
            if state.health.is_open(now):
                assert state.health.open_until is not None
                await self.recorder.submit(_deferral(job, host, state.health.open_until, now))
                log.info(
                    "delivery.deferred id=%s host=%s until=%s",
                    job.id, host, state.health.open_until.isoformat(),
                )  # fmt: skip
                return
            result = await deliver(
                self.rt.http,
                job.inbox_url,
                job.body,
                self._signer(job.username),
                first=_SCHEMES.get(state.scheme or ""),
                clock=self.rt.clock,
                sign_in_thread=SIGN_IN_THREAD,
            )
            now = self.rt.clock()
            if not result.blocked:
                state.health = next_host_health(state.health, result.status, now)
            if result.ok:
                state.scheme = result.scheme.value
            record = _outcome(job, host, result, state.health, now)
            await self.recorder.submit(record)
        log.info(
            "delivery.attempt id=%s inbox=%s status=%s scheme=%s state=%s attempt=%s error=%s",
            job.id, job.inbox_url, result.status, result.scheme.value, record.row["state"],
            job.attempts, result.error,
        )  # fmt: skip

    async def _write_records(self, records: list[_Record]) -> list[None]:
        await _write(self.rt, records)
        return [None] * len(records)

    def _signer(self, username: str) -> Signer:
        if username not in self.signers:
            self.signers[username] = Signer(
                self.rt.urls.actor_key(username), self.rt.keys.actor_rsa
            )
        return self.signers[username]

    async def heartbeat(self) -> None:
        """Renew the lease of the rows still in progress every third of a lease, until
        ``done`` is set."""
        interval = max(self.lease.total_seconds() / 3, 0.2)
        while not self.done.is_set():
            try:
                await asyncio.wait_for(self.done.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            if not self.unfinished:
                return
            try:
                async with self.rt.writes.begin() as session:
                    until = self.rt.clock() + self.lease
                    await store.renew_leases(session, set(self.unfinished), until)
            except Exception:  # the next beat or the lease itself covers a missed one
                log.exception("delivery.heartbeat_failed")


def _row(job: DeliveryJob, now: datetime, **values: Any) -> dict[str, Any]:
    row = {
        "id": job.id, "state": "pending", "attempts": job.attempts, "next_attempt_at": now,
        "locked_until": None, "last_status": job.last_status, "last_error": job.last_error,
        "updated_at": now,
    }  # fmt: skip
    row.update(values)
    return row


def _deferral(job: DeliveryJob, host: str, until: datetime, now: datetime) -> _Record:
    """Put a delivery back untried while its host's circuit is open: the claim's attempt is
    given back, and the last real attempt's status and error stay as they were."""
    return _Record(_row(job, now, attempts=job.attempts - 1, next_attempt_at=until), host, now)


def _outcome(
    job: DeliveryJob, host: str, result: DeliveryResult, health: HostHealth, now: datetime
) -> _Record:
    if result.blocked:
        outcome = Outcome.PERMANENT
    elif result.status is None:
        outcome = Outcome.RETRY
    else:
        outcome = classify_status(result.status)
    error = result.error or (None if result.ok else f"HTTP {result.status}")
    values: dict[str, Any] = {"last_status": result.status, "last_error": error}
    if outcome is Outcome.SENT:
        values["state"] = "sent"
    elif outcome is Outcome.RETRY and job.attempts < MAX_ATTEMPTS:
        due = next_attempt_at(job.attempts, result.status, result.retry_after, now)
        if health.open_until is not None and health.open_until > due:
            due = health.open_until  # no use being claimed before the circuit reopens
        values["next_attempt_at"] = due
    else:
        values["state"] = "failed"
        if outcome is Outcome.RETRY:
            values["last_error"] = f"{error} (gave up after {job.attempts} attempts)"
    return _Record(
        _row(job, now, **values),
        host,
        now,
        attempted=not result.blocked,
        host_status=result.status,
        scheme=result.scheme.value if result.ok else None,
        gone_inbox=job.inbox_url if outcome is Outcome.GONE else None,
        tried_scheme=result.scheme.value,
    )


async def _write(rt: Runtime, records: list[_Record]) -> None:
    """One transaction: the delivery rows, the hosts' circuit and scheme, gone actors."""
    by_host: dict[str, list[_Record]] = defaultdict(list)
    for record in records:
        if record.attempted and record.host:
            by_host[record.host].append(record)
    async with rt.writes.begin() as session:
        await store.update_deliveries(session, [r.row for r in records])
        await store.add_attempts(session, [
            {"delivery_id": r.row["id"], "attempted_at": r.now, "status": r.row["last_status"],
             "error": r.row["last_error"], "scheme": r.tried_scheme}
            for r in records if r.tried_scheme is not None
        ])  # fmt: skip
        for host, events in sorted(by_host.items()):
            await _write_host(session, host, events)
        for record in records:
            if record.gone_inbox is not None:
                gone = await store.forget_gone_inbox(session, record.gone_inbox, record.now)
                log.info(
                    "delivery.gone inbox=%s actor=%s", record.gone_inbox, gone or "(shared inbox)"
                )


async def _write_host(session: AsyncSession, host: str, events: list[_Record]) -> None:
    """Replay this group's answers from ``host`` over its stored health (which other worker
    processes may have changed) and save the result when it differs."""
    row = await store.lock_remote_host(session, host, events[0].now)
    before_health, before_scheme = store.host_health(row), row.signature_scheme
    health, scheme = before_health, before_scheme
    for event in events:
        health = next_host_health(health, event.host_status, event.now)
        scheme = event.scheme or scheme
    if health == before_health and scheme == before_scheme:
        return
    if health.open_until is not None and health.open_until != before_health.open_until:
        log.warning(
            "delivery.circuit_open host=%s failures=%s until=%s",
            host, health.failures, health.open_until.isoformat(),
        )  # fmt: skip
    await store.save_remote_host(session, row, health, scheme, events[-1].now)
