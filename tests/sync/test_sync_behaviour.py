"""Behaviour written once, run against both clients on the emulator (parametrised by mode).

A scenario is an ``async def`` that makes every API call through ``do(method, *args, **kwargs)``. In
``async`` mode ``do`` awaits the AsyncClient's method inside ``asyncio.run``; in ``sync`` mode it calls the
blocking Client's method, and the scenario coroutine is driven without any event loop in the calling thread
(it never suspends), exactly like a plain script.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import pytest

from moengage_segments import AsyncClient
from moengage_segments._sync import Client
from moengage_segments.errors import (
    AuthenticationError,
    ClientStateError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from moengage_segments.filters import all_of, attr
from moengage_segments.models import Cohort
from moengage_segments.testing import Emulator

Do = Callable[..., Awaitable[Any]]
Scenario = Callable[[Any, Do, Emulator], Coroutine[Any, Any, None]]


def group(tag: str) -> Any:
    """A filter group unique to ``tag`` (the service rejects a second segment with the same definition)."""
    return all_of(attr("city").is_in([tag]))


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emulator:
        yield emulator


def _settings(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    settings = {
        "workspace_id": emu.workspace_id,
        "api_key": emu.api_key,
        "base_url": emu.base_url,
        "db_name": emu.db_name,
        "allow_insecure_http": True,
    }
    return {**settings, **overrides}


def run(mode: str, emu: Emulator, scenario: Scenario, **client_options: Any) -> None:
    if mode == "async":

        async def do(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
            return await fn(*args, **kwargs)

        async def main() -> None:
            async with AsyncClient(**_settings(emu, **client_options)) as client:
                await scenario(client, do, emu)

        asyncio.run(main())
    else:

        async def do_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        with Client(**_settings(emu, **client_options)) as client:
            coro = scenario(client, do_sync, emu)
            try:
                coro.send(None)
            except StopIteration:
                return
            coro.close()
            raise AssertionError("a sync-mode scenario must not suspend")


MODES = pytest.mark.parametrize("mode", ["async", "sync"])


@MODES
def test_filter_segment_lifecycle(mode: str, emu: Emulator) -> None:
    async def scenario(client: Any, do: Do, emu: Emulator) -> None:
        name = f"lifecycle-{mode}"
        created = await do(client.filter_segments.create, name, included=group(name))
        assert created.name == name
        fetched = await do(client.segments.get, created.id)
        assert fetched.id == created.id
        found = await do(client.segments.find, name)
        assert found is not None and found.id == created.id
        assert [s.id for s in await do(client.segments.list, name=name)] == [created.id]
        updated = await do(client.filter_segments.update, created.id, included=group(name + "2"), name=name + "-v2")
        assert updated.name == name + "-v2"
        ack = await do(client.segments.archive, segment_id=created.id, name=name + "-v2")
        assert ack.status in (200, 202)
        ack = await do(client.segments.unarchive, segment_id=created.id, name=name + "-v2")
        assert ack.status in (200, 202)

    run(mode, emu, scenario)


@MODES
def test_errors_are_the_same_exceptions(mode: str, emu: Emulator) -> None:
    async def scenario(client: Any, do: Do, emu: Emulator) -> None:
        with pytest.raises(NotFoundError) as not_found:
            await do(client.segments.get, "0" * 24)
        assert not_found.value.status == 404
        name = f"dup-{mode}"
        await do(client.filter_segments.create, name, included=group(name))
        with pytest.raises(ConflictError):
            await do(client.filter_segments.create, name, included=group(name))
        with pytest.raises(ValidationError) as invalid:
            await do(client.segments.get, "not-an-id")
        assert invalid.value.field == "segment_id"

    run(mode, emu, scenario)


@MODES
def test_bad_credentials(mode: str, emu: Emulator) -> None:
    async def scenario(client: Any, do: Do, emu: Emulator) -> None:
        with pytest.raises(AuthenticationError) as exc:
            await do(client.segments.list)
        assert "wrong-key" not in str(exc.value)

    run(mode, emu, scenario, api_key="wrong-key")


@MODES
def test_file_segment_and_cohort_batch(mode: str, emu: Emulator) -> None:
    async def scenario(client: Any, do: Do, emu: Emulator) -> None:
        url = emu.host_file(f"{mode}.csv", ["u1", "u2"])
        ack = await do(client.file_segments.create, f"file-{mode}", file_url=url, expiry_days=30)
        assert ack.segment_id
        cohort = Cohort(id=f"cohort-{mode}", name=f"Cohort {mode}", partner="tests")
        result = await do(client.cohorts.send_batch, cohort, "add_members", ["a1", "a2", "a3"])
        assert result.members == 3 and result.status == 200

    run(mode, emu, scenario)


@MODES
def test_use_after_close_raises_client_state_error(mode: str, emu: Emulator) -> None:
    async def scenario(client: Any, do: Do, emu: Emulator) -> None:
        await do(client.segments.list)
        await do(client.aclose if mode == "async" else client.close)
        with pytest.raises(ClientStateError):
            await do(client.segments.list)

    run(mode, emu, scenario)


def test_sync_client_shared_by_twenty_threads(emu: Emulator) -> None:
    import threading

    errors: list[BaseException] = []
    counts: list[int] = []

    with Client(**_settings(emu)) as client:
        cohort = Cohort(id="threads", name="Threads", partner="tests")

        def worker(i: int) -> None:
            try:
                for k in range(5):
                    counts.append(client.cohorts.send_batch(cohort, "add_members", [f"t{i}-{k}"]).members)
                client.segments.list()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert counts == [1] * 100


async def test_sync_client_inside_a_running_loop(emu: Emulator) -> None:
    # A notebook cell or an async framework handler calling the blocking client.
    asyncio.get_running_loop()
    with Client(**_settings(emu)) as client:
        assert isinstance(client.segments.list(), list)


@MODES
def test_cohort_push_of_any_size(mode: str, emu: Emulator) -> None:
    async def scenario(client: Any, do: Do, emu: Emulator) -> None:
        cohort = Cohort(id=f"push-{mode}", name=f"Push {mode}", partner="tests")
        uids = (f"{mode}-{i:05d}" for i in range(5000))  # a generator: streamed, not a list
        report = await do(client.cohorts.add_members, cohort, uids, max_request_bytes=8_000)
        assert report.accepted == 5000
        removed = await do(client.cohorts.remove_members, cohort, [f"{mode}-00000"])
        assert removed.accepted == 1

    run(mode, emu, scenario)


def _in_forked_child(body: Callable[[], list[str]]) -> list[str]:
    """Run ``body`` in a forked child; the lines it returns (or the repr of what it raised)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        try:
            lines = body()
        except BaseException as exc:
            lines = [f"raised {exc!r}"]
        os.write(write_fd, "\n".join(lines).encode())
        os.close(write_fd)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        report = f.read()
    os.waitpid(pid, 0)
    return report.splitlines()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_client_created_before_fork_and_never_used_works_in_the_child() -> None:
    # The module-level client of a pre-forking server (gunicorn): created in the parent, used in workers.
    with Emulator.in_thread(rate_limits=False) as emu:
        idle = Client(**_settings(emu))
        used = Client(**_settings(emu))
        used.segments.list()

        def child() -> list[str]:
            lines = [f"idle: {idle.segments.list()!r}"]
            idle.close()
            try:
                used.segments.list()
                lines.append("used: no error")
            except ClientStateError as exc:
                lines.append("used: " + ("fork" if "fork" in str(exc) else str(exc)))
            return lines

        assert _in_forked_child(child) == ["idle: []", "used: fork"]
        # the parent's clients are unaffected
        assert idle.segments.list() == [] and used.segments.list() == []
        idle.close()
        used.close()
