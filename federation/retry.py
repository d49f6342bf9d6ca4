"""The one retry policy for outbound deliveries, as pure functions: backoff, status classes,
``Retry-After``, and the per-host circuit breaker.

Mirrors Mastodon's delivery worker (interop.md 5.2, 5.3): 2xx is done; 410 is gone; 401, 408,
429 and 5xx other than 501 are retried with ``k**4 + 15`` s plus jitter, 16 times over about
two to three days; other 4xx and 501 are permanent.

The circuit breaker keeps one dead server from slowing the others: after
``CIRCUIT_THRESHOLD`` consecutive failures of a host (no answer, 408, 429, 5xx) its circuit
opens for a cool-off of one minute, doubling with each further failure up to an hour;
while open, deliveries to the host are postponed without being attempted. Once the cool-off
is over the next attempt is a trial: a failure reopens the circuit for twice as long, any
answer that shows the host is up closes it.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# 16 retries after the first attempt; delays k**4 + 15 s plus jitter span about two days,
# like Mastodon's delivery worker (interop.md 5.3).
MAX_ATTEMPTS = 17
MAX_RETRY_AFTER = timedelta(hours=6)
RETRY_AFTER_STATUSES = frozenset({429, 503})

CIRCUIT_THRESHOLD = 5
CIRCUIT_BASE_COOLOFF = timedelta(minutes=1)
CIRCUIT_MAX_COOLOFF = timedelta(hours=1)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Delay before retry number ``attempt`` (1 = after the first failure), with jitter.

    ``k**4 + 15`` seconds plus up to half of ``k**4`` and ``10*(k+1)`` seconds of jitter, where
    k = attempt - 1. The cumulative delay over 16 retries is about 2 to 3 days.
    Raises ValueError when ``attempt`` < 1.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    k = attempt - 1
    jitter = rng.random() if rng is not None else random.random()
    return timedelta(seconds=k**4 + 15 + jitter * (0.5 * k**4 + 10 * (k + 1)))


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    PERMANENT = "permanent"
    GONE = "gone"


def classify_status(status: int) -> Outcome:
    """What to do after an HTTP answer: 2xx sent; 410 gone; 401/408/429/5xx (not 501) retry;
    any other status (other 4xx, 501, 1xx and 3xx, since redirects are not followed) is
    permanent."""
    if 200 <= status < 300:
        return Outcome.SENT
    if status == 410:
        return Outcome.GONE
    if status in (401, 408, 429) or (status >= 500 and status != 501):
        return Outcome.RETRY
    return Outcome.PERMANENT


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Return when a ``Retry-After`` (seconds or HTTP date) allows a retry, capped at 6 hours;
    None when the value is missing or unreadable. A date in the past means ``now``."""
    if not value:
        return None
    value = value.strip()
    moment: datetime | None
    if value.isdigit():
        moment = now + timedelta(seconds=min(int(value), int(MAX_RETRY_AFTER.total_seconds())))
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return min(max(moment, now), now + MAX_RETRY_AFTER)


def next_attempt_at(
    attempts: int,
    status: int | None,
    retry_after: str | None,
    now: datetime,
    rng: random.Random | None = None,
) -> datetime:
    """When to try again after failed attempt number ``attempts``: the backoff, or later when
    a 429 or 503 answer carried a ``Retry-After`` asking for more."""
    due = now + backoff_delay(attempts, rng)
    if status in RETRY_AFTER_STATUSES:
        asked = parse_retry_after(retry_after, now)
        if asked is not None and asked > due:
            return asked
    return due


# ------------------------------------------------------------------ circuit breaker --
@dataclass(frozen=True)
class HostHealth:
    """What the circuit breaker knows of a host: failures in a row, and until when it is
    open (None: closed, or in trial once ``failures`` reached the threshold)."""

    failures: int = 0
    open_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        """True while deliveries to the host must be postponed without an attempt."""
        return self.open_until is not None and now < self.open_until

    def in_trial(self, now: datetime) -> bool:
        """True when the cool-off is over but the host has not answered yet: one attempt
        at a time should go out, the others wait for its result."""
        return self.failures >= CIRCUIT_THRESHOLD and not self.is_open(now)


def counts_as_host_failure(status: int | None) -> bool:
    """True for answers that say the host is down or overloaded: no answer at all (network
    error, timeout), 408, 429 and 5xx. Any other answer shows the host is up."""
    return status is None or status in (408, 429) or status >= 500


def circuit_cooloff(failures: int) -> timedelta:
    """How long the circuit stays open after ``failures`` (>= threshold) failures in a row:
    one minute at the threshold, doubling with each further failure, at most an hour."""
    doublings = max(0, failures - CIRCUIT_THRESHOLD)
    if doublings >= 16:  # 2**16 minutes is far past the cap; avoid huge numbers
        return CIRCUIT_MAX_COOLOFF
    cooloff: timedelta = CIRCUIT_BASE_COOLOFF * (2**doublings)
    return min(cooloff, CIRCUIT_MAX_COOLOFF)


def next_host_health(health: HostHealth, status: int | None, now: datetime) -> HostHealth:
    """The host's health after an attempt answered ``status`` (None: no answer) at ``now``.

    Any answer that is not a host failure closes the circuit. A failure while the circuit is
    already open changes nothing (a straggler that was in flight when it opened); otherwise
    it counts, and at the threshold or beyond it (re)opens the circuit for
    ``circuit_cooloff(failures)``.
    """
    if not counts_as_host_failure(status):
        return HostHealth()
    if health.is_open(now):
        return health
    failures = health.failures + 1
    if failures < CIRCUIT_THRESHOLD:
        return HostHealth(failures, None)
    return HostHealth(failures, now + circuit_cooloff(failures))
