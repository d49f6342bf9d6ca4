"""The one retry policy for outbound deliveries: a pure backoff function and status classes."""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# 16 retries after the first attempt; delays k**4 + 15 s plus jitter span about two days,
# like Mastodon's delivery worker (interop.md 5.3).
MAX_ATTEMPTS = 17
MAX_RETRY_AFTER = timedelta(hours=6)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Delay before retry number ``attempt`` (1 = after the first failure), with jitter.

    ``k**4 + 15`` seconds plus up to half of ``k**4`` and ``10*(k+1)`` seconds of jitter, where
    k = attempt - 1. The cumulative delay over 16 retries is about 2 to 3 days.
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
    """What to do after an HTTP answer: 2xx sent; 410 gone; 401/408/429/5xx (not 501) retry."""
    if 200 <= status < 300:
        return Outcome.SENT
    if status == 410:
        return Outcome.GONE
    if status in (401, 408, 429) or (status >= 500 and status != 501):
        return Outcome.RETRY
    return Outcome.PERMANENT


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Return when a ``Retry-After`` (seconds or HTTP date) allows a retry, capped at 6 hours."""
    if not value:
        return None
    value = value.strip()
    moment: datetime | None
    if value.isdigit():
        moment = now + timedelta(seconds=int(value))
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return min(max(moment, now), now + MAX_RETRY_AFTER)
