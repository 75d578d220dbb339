"""Chunks from sources that may trickle (a pipe, a queue consumer, a slow generator).

A reader (a task for an async iterable, a thread for an iterator) fills a buffer; the consumer takes it
when it holds ``size`` items, at the end of the input, or once its oldest item has waited ``linger``
seconds. Fast input therefore comes in full chunks (so batches stay packed to the byte), and slow input
still moves within about ``linger`` seconds instead of waiting for a chunk that takes minutes to fill.

Example::

    async for chunk in lingering_chunks(stdin_uids, 8192, linger=0.2):
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

__all__ = ["DEFAULT_LINGER", "lingering_chunks"]

#: Seconds a partial chunk (and a partial batch) waits for more input before it moves on.
DEFAULT_LINGER = 0.2


class _Buffer:
    """Items handed from a reader to the consumer; the reader may run on another thread.

    No lock on the hot path: the reader only appends to ``items`` and the consumer copies a prefix and
    deletes exactly that prefix; each of these list operations is atomic, so an item appended meanwhile
    stays for the next chunk.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.size = size
        self.items: list[Any] = []
        self.first_at = 0.0  # loop time when the oldest item in `items` arrived
        self.ended = False
        self.error: BaseException | None = None
        self.wake = asyncio.Event()  # the reader has news: a first item, a full chunk, the end
        self.space = threading.Event()  # set when the consumer takes items (thread readers wait on it)
        self.space_async = asyncio.Event()  # the same, for task readers

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.ended = True
        self.wake.set()

    def take(self) -> list[Any]:
        items = self.items
        chunk = items[:]
        del items[: len(chunk)]
        self.space.set()
        self.space_async.set()
        return chunk


async def lingering_chunks(uids: Any, size: int, linger: float) -> AsyncIterator[list[Any]]:
    """Yield ``uids`` (an async iterable, or an iterator read in a thread) in lists of at most ``size``.

    A list is yielded when it is full, when the input ends, or when its oldest item has waited ``linger``
    seconds. Errors of the input are raised here, after the items read before them.
    """
    loop = asyncio.get_running_loop()
    buffer = _Buffer(loop, size)
    if isinstance(uids, AsyncIterable):
        reader: asyncio.Future[None] | None = asyncio.ensure_future(_read_async(uids, buffer))
        stop = None
    else:
        reader = None
        stop = threading.Event()
        threading.Thread(
            target=_read_thread, args=(iter(uids), buffer, stop), name="moengage-uids", daemon=True
        ).start()
    try:
        while True:
            if not buffer.items and not buffer.ended:
                buffer.wake.clear()
                await buffer.wake.wait()
                continue
            if not buffer.ended and len(buffer.items) < buffer.size:
                left = buffer.first_at + linger - loop.time()
                if left > 0:  # a partial chunk: wait for more, the end, or the linger
                    buffer.wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(buffer.wake.wait(), left)
                    continue
            chunk = buffer.take()
            if chunk:
                yield chunk
            elif buffer.ended:
                if buffer.error is not None:
                    raise buffer.error
                return
    finally:
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if stop is not None:
            stop.set()
            buffer.space.set()  # a reader waiting for room sees the stop


async def _read_async(uids: AsyncIterable[Any], buffer: _Buffer) -> None:
    items, size, error = buffer.items, buffer.size, None
    try:
        async for uid in uids:
            items.append(uid)
            if len(items) == 1:
                buffer.first_at = buffer.loop.time()
                buffer.wake.set()
            if len(items) >= size:
                buffer.wake.set()
                buffer.space_async.clear()
                await buffer.space_async.wait()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # handed to the consumer, raised after the items read before it
        error = exc
    buffer.finish(error)


def _read_thread(iterator: Iterator[Any], buffer: _Buffer, stop: threading.Event) -> None:
    items, size, error = buffer.items, buffer.size, None
    try:
        for uid in iterator:
            items.append(uid)
            count = len(items)
            if count == 1:
                buffer.first_at = buffer.loop.time()  # the monotonic clock: any thread may read it
                if not _notify(buffer, buffer.wake.set):
                    return
            if count >= size:
                buffer.space.clear()
                if len(items) >= size:  # not taken between the append and the clear
                    if not _notify(buffer, buffer.wake.set):
                        return
                    buffer.space.wait()
            if stop.is_set():
                return
    except Exception as exc:  # handed to the consumer, raised after the items read before it
        error = exc
    _notify(buffer, buffer.finish, error)


def _notify(buffer: _Buffer, callback: Any, *args: Any) -> bool:
    """Run ``callback`` on the consumer's loop; False when that loop is closed (nobody is listening)."""
    try:
        buffer.loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        return False
    return True
