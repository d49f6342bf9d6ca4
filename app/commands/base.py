"""Shared pieces of the command implementations."""

from __future__ import annotations

from typing import Any

Result = dict[str, Any] | list[Any]


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
