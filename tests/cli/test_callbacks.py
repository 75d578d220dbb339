"""The file-segment callback receiver: mounted handler, standalone server, wait_for, bad payloads."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from moengage_segments.callbacks import CallbackReceiver, CallbackServer
from moengage_segments.errors import ValidationError
from moengage_segments.models import FileSegmentCallback

OK_PAYLOAD = {
    "db_name": "test_db",
    "segment_name": "vip",
    "request_id": "d5a263c4ef1198ae3d8496c0460f570f",
    "values_found": 80,
    "values_processed": 70,
    "user_count": 60,
    "status": 201,
}


async def _post(url: str, body: Any = None, *, data: bytes | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        async with session.post(url, **kwargs) as response:
            return response.status, await response.json(content_type=None)


async def _mounted_app(receiver: CallbackReceiver, path: str = "/hooks/moengage") -> tuple[web.AppRunner, str]:
    app = web.Application()
    receiver.mount(app, path)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}{path}"


async def test_mounted_handler_delivers_to_a_waiter() -> None:
    receiver = CallbackReceiver()
    runner, url = await _mounted_app(receiver)
    try:
        waiter = asyncio.create_task(receiver.wait_for("vip", timeout=5))
        await asyncio.sleep(0.01)
        status, body = await _post(url, OK_PAYLOAD)
        assert (status, body) == (200, {"status": "ok"})
        result = await waiter
        assert isinstance(result, FileSegmentCallback)
        assert result.succeeded and result.user_count == 60 and result.segment_name == "vip"
    finally:
        await runner.cleanup()


async def test_callback_that_arrives_first_is_kept_for_a_later_wait() -> None:
    async with CallbackServer() as receiver:
        assert (await _post(receiver.url, OK_PAYLOAD))[0] == 200
        result = await receiver.wait_for("vip", timeout=1)
        assert result.request_id == OK_PAYLOAD["request_id"]
        # Claimed once: a second wait finds nothing.
        with pytest.raises(TimeoutError, match="vip"):
            await receiver.wait_for("vip", timeout=0.05)


async def test_callbacks_are_routed_by_segment_name_in_arrival_order() -> None:
    async with CallbackServer() as receiver:
        for i, name in enumerate(["a", "b", "a"]):
            payload = {**OK_PAYLOAD, "segment_name": name, "request_id": f"r{i}", "user_count": i}
            assert (await _post(receiver.url, payload))[0] == 200
        assert (await receiver.wait_for("a", timeout=1)).user_count == 0
        assert (await receiver.wait_for("b", timeout=1)).user_count == 1
        assert (await receiver.wait_for("a", timeout=1)).user_count == 2


async def test_failure_callback_is_returned_not_raised() -> None:
    async with CallbackServer() as receiver:
        payload = {
            "segment_name": "vip",
            "request_id": "x",
            "status": 400,
            "error_message": "File download failed. Created custom_segment contains 0 users.",
        }
        await _post(receiver.url, payload)
        result = await receiver.wait_for("vip", timeout=1)
        assert not result.succeeded and result.error_message is not None
        assert result.error_message.startswith("File download failed")


DEEP = b'{"status": 201, "segment_name": "vip", "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"  # < 64 KB
NESTED_33 = b'{"status": 201, "segment_name": "vip", "x": ' + b"[" * 32 + b"]" * 32 + b"}"


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1, 2]",
        b'{"segment_name": "vip"}',
        b'{"segment_name": "vip", "status": "abc"}',
        # a status must be an integer: cattrs alone would read true as 1 and "201" as 201
        b'{"segment_name": "vip", "status": true}',
        b'{"segment_name": "vip", "status": "201"}',
        b'{"segment_name": "vip", "status": 201.0}',
        b'{"segment_name": "vip", "status": null}',
        b'{"segment_name": "vip", "status": 201, "user_count": "3"}',
        b'{"segment_name": ["vip"], "status": 201}',
        # nesting: 400, not a 500 with a RecursionError traceback
        DEEP,
        NESTED_33,
    ],
    ids=lambda data: data[:40].decode(errors="replace") + ("..." if len(data) > 40 else ""),
)
async def test_bad_payload_is_refused_with_400_and_not_delivered(data: bytes) -> None:
    async with CallbackServer() as receiver:
        status, body = await _post(receiver.url, data=data)
        assert status == 400 and body["status"] == "fail"
        assert list(receiver.received) == []
        with pytest.raises(TimeoutError):
            await receiver.wait_for("vip", timeout=0.05)


async def test_wait_for_times_out_and_leaves_no_waiter_behind() -> None:
    async with CallbackServer() as receiver:
        with pytest.raises(TimeoutError):
            await receiver.wait_for("vip", timeout=0.05)
        # A callback after the timeout is kept for the next wait rather than given to the dead waiter.
        await _post(receiver.url, OK_PAYLOAD)
        assert (await receiver.wait_for("vip", timeout=1)).user_count == 60


async def test_redelivery_with_same_request_id_is_acknowledged_once() -> None:
    async with CallbackServer() as receiver:
        assert await _post(receiver.url, OK_PAYLOAD) == (200, {"status": "ok"})
        assert await _post(receiver.url, OK_PAYLOAD) == (200, {"status": "ok", "duplicate": True})
        assert len(receiver.received) == 1


async def test_token_is_required_when_configured() -> None:
    async with CallbackServer(token="s3cret-token") as receiver:
        assert receiver.url.endswith("?token=s3cret-token")
        bare = receiver.url.split("?")[0]
        assert (await _post(bare, OK_PAYLOAD))[0] == 403
        assert (await _post(bare + "?token=wrong", OK_PAYLOAD))[0] == 403
        assert (await _post(receiver.url, OK_PAYLOAD))[0] == 200
        assert (await receiver.wait_for("vip", timeout=1)).status == 201


async def test_public_url_is_used_for_production_behind_a_proxy() -> None:
    server = CallbackServer(public_url="https://hooks.example.com/moengage?x=1", token="t")
    assert server.url == "https://hooks.example.com/moengage?x=1&token=t"
    receiver = CallbackReceiver()
    assert receiver.url_for("https://h.example.com/cb") == "https://h.example.com/cb"


async def test_oversized_body_is_refused() -> None:
    async with CallbackServer(max_body_bytes=100) as receiver:
        status, _ = await _post(receiver.url, {**OK_PAYLOAD, "padding": "x" * 500})
        assert status == 413


async def test_on_callback_failure_answers_500_so_a_redelivery_can_succeed() -> None:
    calls: list[str | None] = []

    async def hook(callback: FileSegmentCallback) -> None:
        calls.append(callback.request_id)
        if len(calls) == 1:
            raise RuntimeError("database down")

    async with CallbackServer(on_callback=hook) as receiver:
        assert (await _post(receiver.url, OK_PAYLOAD))[0] == 500
        assert (await _post(receiver.url, OK_PAYLOAD))[0] == 200
        assert calls == [OK_PAYLOAD["request_id"]] * 2
        assert (await receiver.wait_for("vip", timeout=1)).user_count == 60


async def test_url_before_start_is_an_error_and_close_is_idempotent() -> None:
    server = CallbackServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    await server.start()
    await server.aclose()
    await server.aclose()


# --- CallbackServer.in_thread: the same server for synchronous code ------------------------------------


def _post_sync(url: str, body: Any) -> int:
    import json
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_in_thread_wait_for_blocks_until_the_callback_arrives() -> None:
    import threading
    import time

    with CallbackServer.in_thread(token="t0ken") as receiver:
        assert receiver.url.startswith("http://127.0.0.1:") and receiver.url.endswith("?token=t0ken")
        # Delivered after the wait starts: wait_for blocks, then returns the typed callback.
        timer = threading.Timer(0.2, _post_sync, (receiver.url, OK_PAYLOAD))
        timer.start()
        started = time.monotonic()
        result = receiver.wait_for("vip", timeout=5)
        assert time.monotonic() - started >= 0.15
        timer.join()
        assert isinstance(result, FileSegmentCallback) and result.user_count == 60 and result.succeeded
        # Delivered before anyone waits: kept and returned at once.
        assert _post_sync(receiver.url, {**OK_PAYLOAD, "request_id": "second", "user_count": 7}) == 200
        assert receiver.wait_for("vip", timeout=1).user_count == 7
        assert [c.request_id for c in receiver.received] == [OK_PAYLOAD["request_id"], "second"]
        with pytest.raises(TimeoutError):
            receiver.wait_for("vip", timeout=0.05)
        url = receiver.url
    # The server is gone once the block ends.
    with pytest.raises(OSError):
        _post_sync(url, OK_PAYLOAD)


def test_in_thread_with_the_sync_client_and_the_emulator() -> None:
    from moengage_segments import Client
    from moengage_segments.testing import Emulator

    with Emulator.in_thread() as emu, CallbackServer.in_thread(port=0) as receiver:
        emu.add_users(["u1", "u2", "u3"])
        csv_url = emu.host_file("vip.csv", ["u1", "u2", "u3", "not-a-user"])
        with Client(
            base_url=emu.base_url, workspace_id=emu.workspace_id, api_key=emu.api_key, db_name=emu.db_name
        ) as client:
            ack = client.file_segments.create("vip", file_url=csv_url, expiry_days=30, callback_url=receiver.url)
            result = receiver.wait_for("vip", timeout=30)
        assert (result.status, result.values_found, result.user_count) == (201, 4, 3)
        assert emu.members(ack.segment_id) == {"u1", "u2", "u3"}


def test_in_thread_start_failure_is_raised_and_leaves_no_loop_or_thread_behind() -> None:
    import gc
    import threading
    import warnings

    gc.collect()  # loops left unclosed by earlier tests in this worker would be counted here
    with CallbackServer.in_thread() as receiver, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        port = int(receiver.url.split(":")[2].split("/")[0])
        with pytest.raises(OSError), CallbackServer.in_thread(port=port):
            pass  # the port is taken: the bind error reaches the caller
        gc.collect()  # an unclosed event loop warns when it is collected
        assert [t.name for t in threading.enumerate() if t.name.startswith("moengage-callback")] == [
            "moengage-callback-server-loop"  # the first server's only
        ]
    assert [str(w.message) for w in caught if "event loop" in str(w.message)] == []


def test_in_thread_lifecycle_misuse_is_a_client_state_error() -> None:
    from moengage_segments.callbacks import ThreadedCallbackServer
    from moengage_segments.errors import ClientStateError

    threaded = ThreadedCallbackServer(CallbackServer())
    with pytest.raises(ClientStateError, match="not running"):
        threaded.wait_for("vip", timeout=0.1)  # not started
    with pytest.raises(ClientStateError, match="not running"):
        _ = threaded.loop
    with CallbackServer.in_thread() as receiver:
        assert receiver.start() == receiver.url  # starting a running server is a no-op

        async def wait_on_its_own_thread() -> None:
            receiver.wait_for("vip", timeout=0.1)  # would block the loop that must deliver it

        with pytest.raises(ClientStateError, match="own event-loop thread"):
            asyncio.run_coroutine_threadsafe(wait_on_its_own_thread(), receiver.loop).result(5)
    for misuse in (
        lambda: receiver.wait_for("vip", timeout=0.1),
        lambda: receiver.received,
        lambda: receiver.deliver(FileSegmentCallback.from_json(OK_PAYLOAD)),
        lambda: receiver.loop,
    ):
        with pytest.raises(ClientStateError, match="not running"):
            misuse()
    with pytest.raises(ClientStateError, match="closed"):
        receiver.start()  # a closed server does not restart
    receiver.close()  # idempotent


async def test_in_thread_wait_for_from_an_async_caller_does_not_deadlock() -> None:
    # A sync wait_for from a thread with a running loop still works (it blocks that loop, as documented).
    with CallbackServer.in_thread() as receiver:
        await asyncio.to_thread(_post_sync, receiver.url, OK_PAYLOAD)
        assert (await asyncio.to_thread(receiver.wait_for, "vip", timeout=1)).user_count == 60


async def test_the_number_of_pending_names_is_bounded_oldest_dropped_first(caplog: pytest.LogCaptureFixture) -> None:
    receiver = CallbackReceiver(max_pending_names=3)
    for i in range(5):
        receiver.deliver(FileSegmentCallback(status=201, segment_name=f"s{i}", request_id=f"r{i}"))
    for dropped in ("s0", "s1"):
        with pytest.raises(TimeoutError):
            await receiver.wait_for(dropped, timeout=0)
    for kept in ("s2", "s3", "s4"):
        assert (await receiver.wait_for(kept, timeout=0)).segment_name == kept
    assert "more than 3 names pending" in caplog.text
    # A name already pending takes more callbacks without evicting another name.
    for i in range(3):
        receiver.deliver(FileSegmentCallback(status=201, segment_name=f"t{i}"))
    receiver.deliver(FileSegmentCallback(status=201, segment_name="t0"))
    assert [(await receiver.wait_for("t0", timeout=0)).segment_name for _ in range(2)] == ["t0", "t0"]
    assert (await receiver.wait_for("t1", timeout=0)).segment_name == "t1"


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_pending_names", 0), ("max_pending", True), ("read_timeout", 0), ("read_timeout", float("inf"))],
)
def test_receiver_limits_are_checked(option: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        CallbackReceiver(**{option: value})
    assert info.value.field == option


def _closed_by_peer(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset), False if it is still open after 5 s."""
    sock.settimeout(5)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize("sent", [b"", b"POST /moengage/file-segment-callback HTTP/1.1\r\nHost: x\r\n"])
async def test_a_connection_that_never_completes_its_header_is_closed(sent: bytes) -> None:
    async with CallbackServer(read_timeout=0.2) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(sent)
            assert await asyncio.to_thread(_closed_by_peer, sock)
        assert list(receiver.received) == []


async def test_a_body_that_never_completes_is_408() -> None:
    async with CallbackServer(read_timeout=0.2) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
        head = (
            b"POST /moengage/file-segment-callback HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head)
            sock.settimeout(5)
            answer = await asyncio.to_thread(sock.recv, 1024)
        assert answer.startswith(b"HTTP/1.1 408")


async def test_a_normal_callback_is_still_accepted_with_a_short_read_timeout() -> None:
    async with CallbackServer(read_timeout=0.5) as receiver:
        assert (await _post(receiver.url, OK_PAYLOAD))[0] == 200
        assert (await receiver.wait_for("vip", timeout=1)).user_count == 60


async def test_keep_alive_requests_leave_no_connection_record_behind() -> None:
    # A request after a connection's header deadline used to leave its id in a set for ever: unbounded
    # growth, and a later connection given the same (freed) id escaped the header timeout.
    async with CallbackServer(read_timeout=0.5) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
        body = json.dumps(OK_PAYLOAD).encode()
        request = (
            b"POST /moengage/file-segment-callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # The header deadline is 0.5 s after connecting; keep-alive lasts 0.5 s after the first answer (0.3 s):
        # the second request (0.65 s) comes after the deadline, on the same connection.
        for pause in (0.3, 0.35):
            await asyncio.sleep(pause)
            writer.write(request)
            assert (await asyncio.wait_for(reader.readuntil(b"}"), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
        assert not receiver._awaiting_header
