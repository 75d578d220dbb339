"""The FIFO lock that orders waiters of one quota across clients, threads and event loops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from moengage_segments._async.fifo import FifoLock, shared_lock


class LoopThread:
    """An event loop on a thread of its own (like a sync ``Client``'s)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: object) -> asyncio.Future[object]:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return asyncio.wrap_future(future)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def other_loop() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - the condition is set from another thread's loop too
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), timeout)


async def test_waiters_get_the_lock_in_arrival_order() -> None:
    lock, order = FifoLock(), []

    async def worker(i: int) -> None:
        async with lock:
            order.append(i)
            await asyncio.sleep(0)

    await lock.acquire()
    tasks = []
    for i in range(5):
        tasks.append(asyncio.create_task(worker(i)))
        await asyncio.sleep(0)  # queued in this order
    assert lock.waiting == 5
    lock.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_order_holds_across_event_loops(other_loop: LoopThread) -> None:
    lock, order = FifoLock(), []

    async def worker(name: str) -> None:
        async with lock:
            order.append(name)

    await lock.acquire()
    first = asyncio.create_task(worker("here-1"))
    await wait_until(lambda: lock.waiting == 1)
    second = other_loop.submit(worker("other-loop"))
    await wait_until(lambda: lock.waiting == 2)
    third = asyncio.create_task(worker("here-2"))
    await wait_until(lambda: lock.waiting == 3)
    lock.release()
    await asyncio.wait_for(asyncio.gather(first, second, third), 2)
    assert order == ["here-1", "other-loop", "here-2"]


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    lock = FifoLock()
    await lock.acquire()
    doomed = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert lock.waiting == 0
    lock.release()
    await asyncio.wait_for(lock.acquire(), 1)  # free again, not stuck with the cancelled waiter


@pytest.mark.parametrize("grant_first", [False, True])
async def test_a_waiter_cancelled_as_it_is_granted_passes_the_lock_on(grant_first: bool) -> None:
    lock = FifoLock()
    await lock.acquire()
    doomed = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    lock.release()  # chooses `doomed`: the grant is scheduled on its loop
    if grant_first:
        await asyncio.sleep(0)  # the grant lands before the cancellation
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await asyncio.wait_for(lock.acquire(), 1)


async def test_a_waiter_on_a_closed_loop_is_skipped() -> None:
    lock = FifoLock()
    await lock.acquire()
    dead = asyncio.new_event_loop()
    lock._waiters.append((dead, dead.create_future()))
    dead.close()
    lock.release()
    await asyncio.wait_for(lock.acquire(), 1)


def test_shared_lock_is_one_per_key_while_in_use() -> None:
    one = shared_lock(("store", "host/WS/cohort"))
    assert shared_lock(("store", "host/WS/cohort")) is one
    assert shared_lock(("store", "host/WS/list")) is not one


@pytest.mark.parametrize("granted", [False, True], ids=["before-the-grant-ran", "after-the-grant-ran"])
def test_a_loop_closed_during_a_hand_over_to_its_waiter_passes_the_lock_on(granted: bool) -> None:
    """A waiter's loop stops and is closed while the lock is being handed to it (a loop closed without
    cancelling its tasks): its next waiter, on another loop, still gets the lock."""
    lock = FifoLock()
    doomed, after = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        after.run_until_complete(lock.acquire())  # held
        doomed.create_task(lock.acquire())  # no reference kept: the closed loop's task is collected
        doomed.run_until_complete(asyncio.sleep(0))
        behind = after.create_task(lock.acquire())
        after.run_until_complete(asyncio.sleep(0))
        assert lock.waiting == 2
        lock.release()  # the grant is queued on `doomed`, which is not running
        if granted:  # one more turn of `doomed`: the grant runs, the task's wake-up does not
            doomed.call_soon(doomed.stop)
            doomed.run_forever()
        doomed.close()  # drops what is pending there
        after.run_until_complete(asyncio.wait_for(behind, 2))
        assert lock.waiting == 0
    finally:
        doomed.close()
        after.close()


async def test_a_hand_over_dropped_inside_the_locks_own_bookkeeping_does_not_deadlock() -> None:
    """A garbage collection may drop a pending grant while this thread holds the lock's mutex."""
    lock = FifoLock()
    await lock.acquire()
    with lock._mutex:
        lock._release_from_finalizer()  # would wait for the mutex this thread holds: must not
    await asyncio.wait_for(lock.acquire(), 2)  # passed on once the mutex was free


async def test_a_waiter_that_times_out_leaves_the_queue() -> None:
    lock = FifoLock()
    await lock.acquire()
    with pytest.raises(asyncio.TimeoutError):
        await lock.acquire(timeout=0.01)
    assert lock.waiting == 0
    lock.release()
    await lock.acquire(timeout=0.0)  # free: taken at once, whatever the timeout
