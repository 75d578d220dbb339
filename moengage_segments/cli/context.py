"""What every command receives: the parsed arguments, the output layer and a way to make a client.

Example::

    async with ctx.client() as client:
        summaries = await client.segments.list()
"""

from __future__ import annotations

import argparse
from typing import Any

import attrs

from moengage_segments._async.client import AsyncClient
from moengage_segments.cli.failures import cli_configuration_message
from moengage_segments.cli.output import Output
from moengage_segments.cli.redact import Redactor
from moengage_segments.errors import ConfigurationError

__all__ = ["Context"]


@attrs.define
class Context:
    """Arguments, output and the key redactor of one command run.

    Example::

        ctx = Context(args, out, redactor)
    """

    args: argparse.Namespace
    out: Output
    redactor: Redactor

    def client(self, **overrides: Any) -> AsyncClient:
        """An :class:`AsyncClient` from the connection flags, falling back to ``MOENGAGE_*``.

        ``overrides`` replace constructor arguments (the demo passes the emulator's and scaled limits).

        Example::

            async with ctx.client() as client: ...
        """
        a = self.args
        kwargs: dict[str, Any] = {
            "workspace_id": a.workspace_id,
            "api_key": a.api_key,
            "data_center": a.data_center,
            "base_url": a.base_url,
            "db_name": a.db_name,
            "timeout": a.timeout,
            "allow_insecure_http": a.allow_insecure_http,
            "quota": a.quota,
            **overrides,
        }
        self.redactor.add(kwargs["api_key"])
        try:
            return AsyncClient(**kwargs)
        except ConfigurationError as exc:
            text = str(exc)
            cli_text = cli_configuration_message(text)
            if cli_text == text:
                raise
            raise ConfigurationError(cli_text) from exc
