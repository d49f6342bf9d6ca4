"""Group commit: many concurrent writers, one transaction for everything that queued up meanwhile.

Whoever takes the lock writes every item queued so far with one call of ``write`` (one
transaction); the callers that queued while it was writing are written together by the next
one. Each caller returns once its own item is committed, with its own result, or raises the
error that stopped the write: nobody returns before the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``await submit(item)`` returns ``write``'s result for ``item``; ``write`` receives
    every queued item in order and returns one result per item, in the same order."""

    def __init__(self, write: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self._write = write
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._lock = asyncio.Lock()

    async def submit(self, item: T) -> R:
        """Return when ``item`` is committed; raise the database error if it was not."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        async with self._lock:
            if not future.done():
                batch, self._queue = self._queue, []
                try:
                    results = await self._write([queued for queued, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"{len(results)} results for {len(batch)} items")
                except Exception as exc:
                    for _, waiting in batch:
                        waiting.set_exception(exc)
                except BaseException:  # cancelled while writing: nobody may wait forever
                    for _, waiting in batch:
                        waiting.cancel()
                    raise
                else:
                    for (_, waiting), result in zip(batch, results, strict=True):
                        waiting.set_result(result)
        return await future
