"""Dispatch of incoming activities by type through a registry of handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from federation.parse import Activity

Ctx = TypeVar("Ctx")
Handler = Callable[[Activity, Ctx], Awaitable[None]]


class InboxRouter(Generic[Ctx]):
    """Maps activity types to handlers: ``router.on("Follow")(handle_follow)``.

    ``dispatch`` returns False when no handler is registered for the type, so the caller can
    record the activity as unhandled for later handlers.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler[Ctx]] = {}

    def on(self, activity_type: str) -> Callable[[Handler[Ctx]], Handler[Ctx]]:
        """Register the decorated coroutine for ``activity_type``; one handler per type."""

        def register(handler: Handler[Ctx]) -> Handler[Ctx]:
            if activity_type in self._handlers:
                raise ValueError(f"a handler for {activity_type} is already registered")
            self._handlers[activity_type] = handler
            return handler

        return register

    def handles(self, activity_type: str) -> bool:
        return activity_type in self._handlers

    async def dispatch(self, activity: Activity, ctx: Ctx) -> bool:
        """Run the handler for ``activity.type``; return False when there is none."""
        handler = self._handlers.get(activity.type)
        if handler is None:
            return False
        await handler(activity, ctx)
        return True
