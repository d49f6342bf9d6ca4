"""Clocks for the runtime: the real one, and a file-driven one for process-level tests.

``MYNA_CLOCK_FILE`` (testing only, read by ``app/config.py``) names a file holding one ISO 8601
timestamp. Every call of the clock returned by ``file_clock`` re-reads it, so a test can move
time forward for several worker processes at once by rewriting one file (write a temporary
file and rename it over the old one, so a reader never sees half a timestamp).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.config import Settings
from app.runtime import Clock, utcnow


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def file_clock(path: Path) -> Clock:
    """Return a clock that reads the time from ``path`` on every call.

    While the file is missing or does not hold a timestamp the clock keeps the last time it
    read (the real time before the first good read), so it never goes backwards by accident.
    """
    last: list[datetime] = []

    def now() -> datetime:
        try:
            moment = _parse(path.read_text(encoding="utf-8"))
        except OSError:
            moment = None
        if moment is None:
            return last[0] if last else utcnow()
        last[:] = [moment]
        return moment

    return now


def clock_for(settings: Settings) -> Clock:
    """The clock a process should run on: ``file_clock`` when ``clock_file`` is set."""
    return file_clock(settings.clock_file) if settings.clock_file is not None else utcnow
