"""The request/response subcommands: ``file``, ``segments`` and ``filter``.

Each command is ``async def (ctx) -> Result``: it calls the SDK and describes what happened; printing is
the output layer's job. Errors propagate to ``main``, which turns them into an exit code and one line.

Example::

    result = await segments_list(ctx)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import attrs

from moengage_segments.callbacks import CallbackServer
from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import ExitCode, UsageError
from moengage_segments.cli.output import Fields, Result, Table, Text, View, jsonable
from moengage_segments.config import is_loopback as is_loopback_host
from moengage_segments.models import FileSegmentCallback, Segment, SegmentAck, SegmentSummary

__all__ = ["COMMANDS", "callback_fields", "load_definition"]

Command = Callable[[Context], Awaitable[Result]]

#: The shortest ``--callback-token`` accepted (a guessable token would defeat its purpose).
MIN_CALLBACK_TOKEN_LENGTH = 16


# --- file segments -----------------------------------------------------------------------------------


def _ack_fields(ack: SegmentAck, title: str) -> Fields:
    return Fields(
        (("status", ack.status), ("segment id", ack.segment_id), ("name", ack.name), ("message", ack.message)),
        title=title,
    )


def callback_fields(callback: FileSegmentCallback) -> Fields:
    """The processing callback as a key/value block (also used by the demo).

    Example::

        out.renderer.render(callback_fields(callback))
    """
    if callback.succeeded:
        items: tuple[tuple[str, object], ...] = (
            ("status", callback.status),
            ("values found", callback.values_found),
            ("values processed", callback.values_processed),
            ("users", callback.user_count),
        )
    else:
        items = (("status", callback.status), ("error", callback.error_message))
    return Fields(items, title=f"processing result of {callback.segment_name!r}")


def _listen_address(ctx: Context) -> tuple[str, int] | None:
    """Check the --wait options before anything is sent; the receiver's address, or None without --wait."""
    a = ctx.args
    if not a.wait:
        for flag, value in (("--public-url", a.public_url), ("--callback-token", a.callback_token)):
            if value:
                raise UsageError(f"{flag} only makes sense with --wait")
        return None
    if a.callback_token is not None and len(a.callback_token) < MIN_CALLBACK_TOKEN_LENGTH:
        raise UsageError(
            f"--callback-token must be at least {MIN_CALLBACK_TOKEN_LENGTH} characters "
            "(or leave it out: a random one is made for each run)"
        )
    if a.callback_url:
        raise UsageError("--wait receives the callback itself: drop --callback-url (use --public-url for a proxy)")
    host, _, port = a.listen.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--listen must be HOST:PORT, got {a.listen!r}")
    return host.strip("[]"), int(port)


@contextlib.asynccontextmanager
async def _receiver(
    ctx: Context, address: tuple[str, int] | None, api_url: str
) -> AsyncIterator[CallbackServer | None]:
    if address is None:
        yield None
        return
    if ctx.args.public_url is None and not is_loopback_host(urlsplit(api_url).hostname):
        # The real service cannot POST to this machine's loopback address.
        ctx.out.note(
            "note: MoEngage cannot reach a loopback callback URL; pass --public-url (your HTTPS "
            "endpoint forwarding to --listen) or the wait will time out"
        )
    # The receiver is reachable by anyone who can reach the port (or the public URL): without a token in
    # the URL, any POST could forge the processing result this command reports and exits on.
    token = ctx.args.callback_token or secrets.token_urlsafe(32)
    ctx.redactor.add(token)
    async with CallbackServer(*address, public_url=ctx.args.public_url, token=token) as server:
        yield server


async def file_operation(ctx: Context) -> Result:
    """``file create|add|remove|replace``: send the request, optionally wait for the processing callback."""
    a = ctx.args
    action = a.command[1]
    if action != "create" and a.name is None and a.segment_id is None:
        raise UsageError("give the segment's NAME or --id")
    common: dict[str, Any] = {
        "file_url": a.file_url,
        "attribute_name": a.attribute_name,
        "attribute_type": a.attribute_type,
        "emails": a.emails,
    }
    address = _listen_address(ctx)
    async with ctx.client() as client, _receiver(ctx, address, client.settings.base_url) as receiver:
        common["callback_url"] = receiver.url if receiver is not None else a.callback_url
        if action == "create":
            ack = await client.file_segments.create(a.name, expiry_days=a.expiry_days, **common)
        else:
            method = getattr(client.file_segments, f"{action}_users")
            ack = await method(a.name, segment_id=a.segment_id, **common)
        views: list[View] = [_ack_fields(ack, f"file {action}: accepted")]
        data: dict[str, Any] = {"ack": jsonable(ack)}
        if receiver is None:
            return Result(data=data, views=views)
        name = a.name or ack.name or (await client.segments.get(a.segment_id)).name
        with ctx.out.progress(f"waiting for the processing callback of {name!r}") as bar:
            callback = await receiver.wait_for(name, timeout=a.wait_timeout)
            bar.finish(f"status {callback.status}")
    views.append(callback_fields(callback))
    data["callback"] = jsonable(callback)
    return Result(data=data, views=views, exit_code=ExitCode.OK if callback.succeeded else ExitCode.API_ERROR)


# --- any segment -------------------------------------------------------------------------------------


#: Shown where the service does not say whether a segment is archived (its documented answers never do).
STATE_NOT_REPORTED = "not reported by the API"


def _summary_row(s: SegmentSummary, with_state: bool) -> tuple[object, ...]:
    return (s.id, s.name, s.type, s.created_time, *((s.state or "-",) if with_state else ()))


def _segment_views(segment: Segment) -> list[View]:
    views: list[View] = [
        Fields(
            (
                ("id", segment.id),
                ("name", segment.name),
                ("type", segment.type),
                ("source", segment.source),
                ("description", segment.description or None),
                ("state", segment.state or STATE_NOT_REPORTED),
                ("created", segment.created_time),
                ("updated", segment.updated_time),
            ),
            title=f"segment {segment.name!r}",
        )
    ]
    for label, group in (
        ("included filters", segment.included_filters),
        ("excluded filters", segment.excluded_filters),
    ):
        if group is not None:
            views.append(Text(f"{label}:\n{json.dumps(jsonable(group), indent=2)}"))
    return views


async def segments_list(ctx: Context) -> Result:
    """``segments list [--name NAME]``."""
    async with ctx.client() as client:
        summaries = await client.segments.list(name=ctx.args.name)
    if not summaries:
        text = "no segments" if ctx.args.name is None else f"no segment named {ctx.args.name!r}"
        return Result(data=summaries, views=(Text(text),))
    # A state column only when the service reports states: its documented list answer does not.
    with_state = any(s.state is not None for s in summaries)
    table = Table(
        ("id", "name", "type", "created", *(("state",) if with_state else ())),
        [_summary_row(s, with_state) for s in summaries],
        title=f"{len(summaries)} segment(s)",
    )
    return Result(data=summaries, views=(table,))


async def segments_find(ctx: Context) -> Result:
    """``segments find NAME``: exit 1 when no segment has exactly that name (prints ``null`` with --json)."""
    async with ctx.client() as client:
        found = await client.segments.find(ctx.args.name)
    if found is None:
        return Result(data=None, views=(Text(f"no segment named {ctx.args.name!r}"),), exit_code=ExitCode.API_ERROR)
    return Result(
        data=found,
        views=(
            Fields(
                (("id", found.id), ("name", found.name), ("type", found.type), ("created", found.created_time)),
            ),
        ),
    )


async def segments_get(ctx: Context) -> Result:
    """``segments get SEGMENT_ID``."""
    async with ctx.client() as client:
        segment = await client.segments.get(ctx.args.segment_id)
    return Result(data=segment, views=_segment_views(segment))


async def segments_manage(ctx: Context) -> Result:
    """``segments archive|unarchive (NAME | --id ID)``: the id, the state after, and whether anything changed.

    The archive answer carries no id, so a segment given by name is looked up afterwards (the call itself
    checks the configuration first, so nothing is sent when, say, ``--db-name`` is missing).
    """
    a = ctx.args
    action = a.command[1]
    if a.name is None and a.segment_id is None:
        raise UsageError("give the segment's NAME or --id")
    target = "archived" if action == "archive" else "active"
    async with ctx.client() as client:
        method = client.segments.archive if action == "archive" else client.segments.unarchive
        ack = await method(a.name, segment_id=a.segment_id)
        name = ack.name or a.name
        segment_id, no_id = ack.segment_id or a.segment_id, "not returned by the API"
        if segment_id is None and name is not None:
            namesakes = [s for s in await client.segments.list(name) if s.name == name]
            if len(namesakes) == 1:
                segment_id = namesakes[0].id
            elif namesakes:  # cohort segments may share a name: do not guess which one it was
                no_id += f" ({len(namesakes)} segments are named {name!r})"
    ack = attrs.evolve(ack, segment_id=segment_id, name=name)
    # The service says so in its answer (the emulator does: "... is already archived").
    already = "already" in (ack.message or "").lower()
    title = f"{name!r} was already {target} (nothing changed)" if already else f"{action}d {name!r}"
    fields = Fields(
        (
            ("status", ack.status),
            ("segment id", segment_id or no_id),
            ("name", name),
            ("state", target),
            ("message", ack.message),
        ),
        title=title,
    )
    data = {**jsonable(ack), "state": target, "already": already}
    return Result(data=data, views=(fields,))


# --- filter segments ---------------------------------------------------------------------------------


def load_definition(path: str) -> tuple[Any, Any]:
    """Read and validate a filter definition file; return ``(included, excluded)`` typed groups.

    The file holds ``{"included_filters": {...}, "excluded_filters": {...}}`` (the API's field names) or
    just the included group ``{"filter_operator": ..., "filters": [...]}``. ``-`` reads stdin.

    Example::

        included, excluded = load_definition("adults.json")
    """
    from moengage_segments.filters import coerce_group

    # Name what the user gave: the file of --definition, or standard input for "-".
    where = "standard input (--definition -)" if path == "-" else f"--definition {path}"
    try:
        if path == "-":
            doc = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror or exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: the definition must be a JSON object")
    if "included_filters" in doc:
        unknown = set(doc) - {"included_filters", "excluded_filters"}
        if unknown:
            raise UsageError(f"{where}: unexpected key(s) {', '.join(sorted(unknown))}")
        included, excluded = doc["included_filters"], doc.get("excluded_filters")
    elif "filter_operator" in doc:
        included, excluded = doc, None
    else:
        raise UsageError(f"{where}: expected 'included_filters' or a filter group with 'filter_operator'")
    return (
        coerce_group(included, "included_filters"),
        None if excluded is None else coerce_group(excluded, "excluded_filters"),
    )


async def filter_create(ctx: Context) -> Result:
    """``filter create NAME --definition FILE``."""
    included, excluded = load_definition(ctx.args.definition)
    async with ctx.client() as client:
        segment = await client.filter_segments.create(ctx.args.name, included=included, excluded=excluded)
    return Result(data=segment, views=_segment_views(segment))


async def filter_update(ctx: Context) -> Result:
    """``filter update SEGMENT_ID --definition FILE [--name NEW] [--updated-by EMAIL]``."""
    a = ctx.args
    included, excluded = load_definition(a.definition)
    async with ctx.client() as client:
        segment = await client.filter_segments.update(
            a.segment_id, included=included, excluded=excluded, name=a.name, updated_by=a.updated_by
        )
    return Result(data=segment, views=_segment_views(segment))


#: Command tuple -> implementation (``cohort``, ``emulator`` and ``demo`` are added by ``main``).
COMMANDS: dict[tuple[str, ...], Command] = {
    ("file", "create"): file_operation,
    ("file", "add"): file_operation,
    ("file", "remove"): file_operation,
    ("file", "replace"): file_operation,
    ("segments", "list"): segments_list,
    ("segments", "find"): segments_find,
    ("segments", "get"): segments_get,
    ("segments", "archive"): segments_manage,
    ("segments", "unarchive"): segments_manage,
    ("filter", "create"): filter_create,
    ("filter", "update"): filter_update,
}
