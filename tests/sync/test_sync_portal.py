"""Edge cases of the Portal, the event-loop thread behind the sync client."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator

import pytest

from moengage_segments._runtime import Portal
from moengage_segments.errors import ClientStateError


async def _double(n: int) -> int:
    await asyncio.sleep(0)
    return n * 2


async def _thread_id() -> int:
    return threading.get_ident()


class Boom(Exception):
    pass


async def _fail() -> None:
    raise Boom("nope")


def _loop_threads(portal: Portal) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"{portal.name}-loop"]


def test_call_returns_result_and_propagates_exceptions() -> None:
    with Portal() as portal:
        assert portal.call(_double, 21) == 42
        assert portal.call(_double, n=5) == 10
        with pytest.raises(Boom, match="nope"):
            portal.call(_fail)
        # the portal is still usable after a failed call
        assert portal.call(_double, 1) == 2


def test_thread_is_started_lazily_and_joined_on_close() -> None:
    portal = Portal()
    assert not portal.started
    assert _loop_threads(portal) == []
    loop_thread = portal.call(_thread_id)
    assert loop_thread != threading.get_ident()
    (thread,) = _loop_threads(portal)
    assert thread.daemon
    portal.close()
    assert not thread.is_alive()


def test_keyword_named_fn_is_forwarded() -> None:
    # call()'s own parameter is positional-only, so a coroutine may take a keyword called `fn`.
    async def takes_fn(*, fn: str) -> str:
        return fn

    with Portal() as portal:
        assert portal.call(takes_fn, fn="x") == "x"


async def test_works_when_the_calling_thread_runs_an_event_loop() -> None:
    # This test body runs inside pytest-asyncio's loop, like a notebook cell or an async framework.
    asyncio.get_running_loop()
    with Portal() as portal:
        assert portal.call(_double, 4) == 8
        assert portal.call(_thread_id) != threading.get_ident()
        assert list(portal.iterate(_agen(3))) == [0, 1, 2]


def test_twenty_threads_share_one_portal() -> None:
    errors: list[BaseException] = []
    loop_threads: set[int] = set()
    results: dict[int, list[int]] = {}
    barrier = threading.Barrier(20)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = [portal.call(_double, i * 100 + k) for k in range(50)]
            loop_threads.add(portal.call(_thread_id))
        except BaseException as exc:
            errors.append(exc)

    with Portal() as portal:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert results == {i: [2 * (i * 100 + k) for k in range(50)] for i in range(20)}
        assert len(loop_threads) == 1  # one loop thread served every caller
        assert len(_loop_threads(portal)) == 1


def test_call_from_its_own_loop_thread_raises_instead_of_deadlocking() -> None:
    with Portal() as portal:

        async def reenter() -> int:
            return portal.call(_double, 1)

        with pytest.raises(ClientStateError, match="own event-loop thread"):
            portal.call(reenter)

        async def close_from_inside() -> None:
            portal.close()

        with pytest.raises(ClientStateError, match="own event-loop thread"):
            portal.call(close_from_inside)
        assert portal.call(_double, 2) == 4  # still healthy


def test_close_is_idempotent_runs_cleanup_once_and_use_after_close_raises() -> None:
    calls: list[int] = []

    async def cleanup() -> None:
        calls.append(threading.get_ident())

    portal = Portal(cleanup=cleanup)
    loop_thread = portal.call(_thread_id)
    portal.close()
    portal.close()
    assert calls == [loop_thread]  # once, on the loop thread
    assert portal.closed
    with pytest.raises(ClientStateError, match="closed"):
        portal.call(_double, 1)
    with pytest.raises(ClientStateError, match="closed"):
        portal.iterate(_agen(1))


def test_close_without_any_call_does_not_start_a_thread() -> None:
    calls: list[str] = []

    async def cleanup() -> None:
        calls.append("x")

    portal = Portal(cleanup=cleanup)
    portal.close()
    assert not portal.started
    assert calls == []  # nothing was opened, so nothing to clean up
    with pytest.raises(ClientStateError):
        portal.call(_double, 1)


def test_close_from_another_thread_fails_a_running_call_clearly() -> None:
    started = threading.Event()
    caught: list[BaseException] = []

    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    def worker() -> None:
        try:
            portal.call(slow)
        except BaseException as exc:
            caught.append(exc)

    portal = Portal()
    t = threading.Thread(target=worker)
    t.start()
    assert started.wait(5)
    portal.close()
    t.join(5)
    assert not t.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], ClientStateError)
    assert "closed while the call was running" in str(caught[0])


def test_cleanup_error_is_raised_by_close_and_thread_still_stops() -> None:
    async def cleanup() -> None:
        raise Boom("cleanup failed")

    portal = Portal(cleanup=cleanup)
    portal.call(_double, 1)
    (thread,) = _loop_threads(portal)
    with pytest.raises(Boom):
        portal.close()
    assert not thread.is_alive()
    portal.close()  # second close is quiet


async def _agen(n: int, log: list[str] | None = None) -> AsyncIterator[int]:
    try:
        for i in range(n):
            await asyncio.sleep(0)
            yield i
    finally:
        if log is not None:
            log.append(f"closed on {threading.current_thread().name}")


def test_iterate_maps_async_iterators() -> None:
    log: list[str] = []
    with Portal() as portal:
        assert list(portal.iterate(_agen(4, log))) == [0, 1, 2, 3]
        assert log == [f"closed on {portal.name}-loop"]

        class Countdown:
            # an async iterable that is not a generator (no aclose)
            def __init__(self) -> None:
                self.n = 3

            def __aiter__(self) -> Countdown:
                return self

            async def __anext__(self) -> int:
                if self.n == 0:
                    raise StopAsyncIteration
                self.n -= 1
                return self.n

        assert list(portal.iterate(Countdown())) == [2, 1, 0]


def test_breaking_out_of_an_iterator_closes_the_async_iterator() -> None:
    log: list[str] = []
    with Portal() as portal:
        for i in portal.iterate(_agen(100, log)):
            if i == 2:
                break
        # CPython drops the iterator at the end of the loop, which runs aclose() on the loop thread.
        assert log == [f"closed on {portal.name}-loop"]

        log.clear()
        it = portal.iterate(_agen(100, log))
        assert next(it) == 0
        it.close()  # explicit close (e.g. contextlib.closing) works too
        assert log == [f"closed on {portal.name}-loop"]


def test_run_sync_runs_a_plain_function_on_the_loop_thread() -> None:
    with Portal(name="plain") as portal:
        assert portal.run_sync(threading.current_thread) is _loop_threads(portal)[0]
        # on the loop thread itself it simply runs (no hand-off, no deadlock)
        assert portal.call(_on_loop, portal) == "plain-loop"


async def _on_loop(portal: Portal) -> str:
    return portal.run_sync(lambda: threading.current_thread().name)


def test_loop_is_available_only_while_running_and_errors_name_the_owner() -> None:
    portal = Portal(name="srv", owner="the test server")
    with pytest.raises(ClientStateError, match=r"the test server is not running \(srv\)"):
        _ = portal.loop
    assert portal.call(_double, 1) == 2
    assert asyncio.run_coroutine_threadsafe(_double(2), portal.loop).result(5) == 4
    portal.close()
    with pytest.raises(ClientStateError, match="the test server is not running"):
        _ = portal.loop
    with pytest.raises(ClientStateError, match=r"the test server is closed \(srv\)"):
        portal.run_sync(int)


def test_iterate_docstring_example_runs() -> None:
    # Its example once called a method that does not exist (segments.iter_all()).
    example = textwrap.dedent(str(Portal.iterate.__doc__).split("Example::", 1)[1])
    with Portal() as portal:
        namespace: dict[str, object] = {"portal": portal, "AsyncIterator": AsyncIterator}
        exec(compile(example, "Portal.iterate example", "exec"), namespace)
        assert namespace["n"] == 3


def test_exception_in_the_consumer_closes_the_async_iterator() -> None:
    log: list[str] = []
    with Portal() as portal, pytest.raises(Boom):
        for _ in portal.iterate(_agen(100, log)):
            raise Boom()
    assert log and log[0].startswith("closed")


def test_dropped_portal_is_cleaned_up_by_the_finalizer() -> None:
    closed = threading.Event()

    async def cleanup() -> None:
        closed.set()

    portal = Portal(cleanup=cleanup)
    portal.call(_double, 1)
    (thread,) = _loop_threads(portal)
    del portal
    gc.collect()
    assert closed.wait(5)
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_is_detected_in_the_child() -> None:
    started = Portal()
    started.call(_double, 1)
    idle = Portal()  # never used before the fork: the child may adopt it
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        code = 0
        lines: list[str] = []
        try:
            started.call(_double, 1)
            lines.append("started: no error")
            code = 1
        except ClientStateError as exc:
            lines.append("started: " + ("forked" if "forked child" in str(exc) else str(exc)))
        try:
            lines.append(f"idle: {idle.call(_double, 21)}")
            idle.close()
        except BaseException as exc:
            lines.append(f"idle: {exc!r}")
            code = 1
        started.close()  # must not hang or touch the parent's thread
        os.write(write_fd, "\n".join(lines).encode())
        os.close(write_fd)
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        report = f.read()
    _, status = os.waitpid(pid, 0)
    assert report.splitlines() == ["started: forked", "idle: 42"]
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent is unaffected
    assert started.call(_double, 3) == 6
    started.close()
    idle.close()


def _run_script(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


_EXIT_WITHOUT_CLOSE = """
    import aiohttp
    from moengage_segments._runtime import Portal

    class Holder:
        session = None

        async def open(self):
            self.session = aiohttp.ClientSession()  # created on the loop, like the async client does

        async def aclose(self):
            await self.session.close()

    holder = Holder()
    portal = Portal(cleanup=holder.aclose if {with_cleanup} else None)
    portal.call(holder.open)
    print("done")
    # no portal.close(): the interpreter exits with the loop thread running
"""


@pytest.mark.slow  # an interpreter
def test_exit_without_close_is_clean_under_resourcewarning_errors() -> None:
    proc = _run_script(_EXIT_WITHOUT_CLOSE.format(with_cleanup=True), "-W", "error::ResourceWarning")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"
    assert proc.stderr == ""


@pytest.mark.slow  # an interpreter
def test_exit_without_close_check_detects_a_leak() -> None:
    # Control for the test above: without the cleanup callback the leak is visible, so the clean run
    # really is the finalizer's doing.
    proc = _run_script(_EXIT_WITHOUT_CLOSE.format(with_cleanup=False), "-W", "error::ResourceWarning")
    assert "Unclosed client session" in proc.stderr


@pytest.mark.slow  # an interpreter and a real SIGINT
def test_ctrl_c_cancels_the_running_coroutine_and_reraises() -> None:
    proc = _run_script(
        """
        import asyncio, os, signal, threading
        from moengage_segments._runtime import Portal

        state = []

        async def slow():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                await asyncio.sleep(0.05)  # cleanup that needs the loop still completes
                state.append("cancelled")
                raise

        portal = Portal()
        portal.call(asyncio.sleep, 0)
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            portal.call(slow)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", state)
        async def ok():
            return "usable"
        print(portal.call(ok))
        portal.close()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["KeyboardInterrupt ['cancelled']", "usable"]
