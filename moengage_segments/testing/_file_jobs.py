"""Asynchronous processing of file-segment operations, as the service does it.

After the 202, a job downloads ``file_url`` (http/https on loopback only, or a regular ``file://``
file), applies the documented CSV rules, matches users by the attribute, updates membership (replace =
clear, then add) and POSTs the documented payload to ``callback_url``.

Nothing leaves the machine: a download follows at most :data:`MAX_REDIRECTS` redirects and checks every
hop against the loopback rule; a callback never follows one. Nothing is read without a bound: a
``file://`` path must be a regular file, and at most ``max_file_bytes + 1`` bytes of it are read.

CSV rules (API notes §3.1): one value per line; values with quotes, commas, ``#``/``;``, tabs, surrounding
whitespace, or empty rows are skipped as corrupted, and so are repeated values; a header row is not
special (it is just a value that matches nobody); for ``attribute_type: double`` a value must parse as a
number.

Example::

    task = start_file_job(core, ws, segment, "add", {"file_url": "file:///tmp/uids.csv", ...})
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
import urllib.parse
import urllib.request
from typing import Any, Literal

import aiohttp
import yarl

from moengage_segments.config import is_loopback
from moengage_segments.testing._core import Core
from moengage_segments.testing._ids import new_callback_request_id
from moengage_segments.testing._inspect import CallbackRecord
from moengage_segments.testing._state import Workspace, _Segment

__all__ = ["MAX_REDIRECTS", "FileOp", "is_loopback_url", "parse_csv", "start_file_job", "users_uploaded_today"]

FileOp = Literal["create", "add", "remove", "replace"]
_FORBIDDEN = set("\"',#;\t")
_DAY = 86400.0
#: Redirects a download follows, each checked against the loopback rule like the first URL.
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _FileError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs whose host is loopback: the emulator never reaches beyond the machine.

    Example::

        is_loopback_url("http://127.0.0.1:8000/a.csv")  # True
    """
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname)


def parse_csv(data: bytes, attribute_type: str) -> tuple[int, list[str]]:
    """``(values_found, valid unique values)`` from the file's bytes.

    Example::

        parse_csv(b"u1\\nu2\\n\\n\\"u3\\"\\n", "string")  # (4, ['u1', 'u2'])
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Undocumented case; worded like the documented callback errors ("File download failed. ...").
        raise _FileError(400, "File processing failed. {contains}") from exc
    lines = text.splitlines()
    seen: set[str] = set()
    values: list[str] = []
    for line in lines:
        if not line or line != line.strip() or _FORBIDDEN.intersection(line):
            continue
        if attribute_type == "double":
            try:
                float(line)
            except ValueError:
                continue
        if line in seen:
            continue
        seen.add(line)
        values.append(line)
    return len(lines), values


def users_uploaded_today(core: Core) -> int:
    """Users added by file jobs within the last (emulated) 24 hours.

    Example::

        users_uploaded_today(core) < core.config.max_file_users_per_day
    """
    horizon = time.monotonic() - _DAY / core.config.time_scale
    while core.file_users_today and core.file_users_today[0][0] < horizon:
        core.file_users_today.popleft()
    return sum(count for _, count in core.file_users_today)


async def _download(url: str, max_bytes: int) -> bytes:
    parts = urllib.parse.urlsplit(url)
    too_big = _FileError(400, "File size cannot be greater than 150MB. {contains}")
    if parts.scheme == "file":
        path = urllib.request.url2pathname(parts.path)
        try:
            data = await asyncio.to_thread(_read_file, path, max_bytes)
        except OSError as exc:
            raise _FileError(400, "File download failed. {contains}") from exc
        if data is None:
            raise too_big
        return data
    failed = _FileError(400, "File download failed. {contains}")
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(MAX_REDIRECTS + 1):
                if not is_loopback_url(url):
                    # Loopback only, at every hop: any other host is a failed download (no traffic leaves
                    # the machine), and so is a redirect to one.
                    raise failed
                async with session.get(url, allow_redirects=False) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        url = str(response.url.join(yarl.URL(location)))
                        continue
                    if response.status != 200:
                        raise failed
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_chunked(1 << 16):
                        size += len(chunk)
                        if size > max_bytes:
                            raise too_big
                        chunks.append(chunk)
                    return b"".join(chunks)
            raise failed  # too many redirects
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise _FileError(400, "File download failed. {contains}") from exc


def _read_file(path: str, max_bytes: int) -> bytes | None:
    """The bytes of a regular file, or None when it holds more than ``max_bytes``.

    What is read is capped, not what ``stat`` says (``/proc`` files report size 0); devices, FIFOs,
    sockets and directories are refused (``/dev/zero`` never ends, a FIFO may never open).
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb", closefd=True) as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"not a regular file: {path}")
        data = handle.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def _apply(ws: Workspace, segment: _Segment, op: FileOp, attribute: str, values: list[str]) -> tuple[int, int]:
    """``(user_count for the callback, users counted against the daily quota)``.

    Replace counts only the users it newly adds towards the quota (API notes §3.4): the users that were
    members before and stay members are not uploaded again.
    """
    matched: set[str] = set()
    for value in values:
        matched |= ws.lookup(attribute, value)
    if op == "remove":
        count = len(segment.members & matched)
        segment.members -= matched
        return count, 0
    if op == "replace":
        newly_added = len(matched - segment.members)
        segment.members.clear()
        segment.members |= matched
        return len(matched), newly_added
    segment.members |= matched
    return len(matched), len(matched)


async def _send_callback(core: Core, url: str, payload: dict[str, Any]) -> None:
    if not is_loopback_url(url):
        core.callbacks.append(CallbackRecord(url, payload, None, "skipped: not a loopback URL"))
        return
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            # Never followed: a redirect could lead off the machine; the 3xx is what gets recorded.
            session.post(url, json=payload, allow_redirects=False) as resp,
        ):
            core.callbacks.append(CallbackRecord(url, payload, resp.status))
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        core.callbacks.append(CallbackRecord(url, payload, None, f"{type(exc).__name__}: {exc}"))


async def _run(core: Core, ws: Workspace, segment: _Segment, op: FileOp, fields: dict[str, Any]) -> None:
    if core.config.file_processing_delay > 0:
        await asyncio.sleep(core.config.file_processing_delay / core.config.time_scale)
    payload: dict[str, Any] = {
        "db_name": ws.db_name,
        "segment_name": segment.name,
        "request_id": new_callback_request_id(),
    }
    try:
        data = await _download(str(fields["file_url"]), core.config.max_file_bytes)
        found, values = parse_csv(data, str(fields["attribute_type"]))
        count, quota_count = _apply(ws, segment, op, str(fields["attribute_name"]), values)
        if quota_count:
            core.file_users_today.append((time.monotonic(), quota_count))
        segment.processing = "done"
        segment.touch()
        payload.update(values_found=found, values_processed=len(values), user_count=count, status=201)
    except _FileError as exc:
        segment.processing = "failed"
        contains = (
            "Created custom_segment contains 0 users."
            if op == "create"
            else f"Custom segment contains {len(segment.members)} users."
        )
        payload.update(status=exc.status, error_message=exc.message.format(contains=contains))
    except Exception:  # the service reports its own failures through the callback, never silently
        segment.processing = "failed"
        payload.update(status=500, error_message="Internal Server Error. Contact MoEngage Team.")
    callback_url = fields.get("callback_url")
    if callback_url:
        await _send_callback(core, str(callback_url), payload)


def start_file_job(
    core: Core, ws: Workspace, segment: _Segment, op: FileOp, fields: dict[str, Any]
) -> asyncio.Task[None]:
    """Schedule the job on the running loop and track it (``emu.drain()`` waits for all of them).

    Example::

        start_file_job(core, ws, segment, "replace", fields)
    """
    segment.processing = "pending"
    task = asyncio.get_running_loop().create_task(_run(core, ws, segment, op, fields))
    core.file_jobs.add(task)
    task.add_done_callback(core.file_jobs.discard)
    return task
