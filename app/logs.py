"""Structured logs: one event name and key=value fields per line."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    """Send ``myna.*`` logs to stderr as ``time level logger event key=value...`` lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("myna")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
