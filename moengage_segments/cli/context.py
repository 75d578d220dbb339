"""What every command receives: the parsed arguments, the output layer and a way to make a client.

Example::

    async with ctx.client() as client:
        summaries = await client.segments.list()
"""

from __future__ import annotations

import argparse
import re
from typing import Any

import attrs

from moengage_segments._async.client import AsyncClient
from moengage_segments.cli.output import Output
from moengage_segments.cli.redact import Redactor
from moengage_segments.errors import ConfigurationError

__all__ = ["Context", "cli_configuration_message"]

# "api_key (argument or MOENGAGE_API_KEY)" -> "--api-key or MOENGAGE_API_KEY"
_ARGUMENT_OR_ENV = re.compile(r"\b(workspace_id|api_key|data_center|base_url|db_name) \(argument or ([A-Z_]+)\)")
# Python argument names left in a message (lower case, so MOENGAGE_API_KEY is untouched).
_ARGUMENT = re.compile(r"\b(workspace_id|api_key|data_center|base_url|db_name)\b")


def cli_configuration_message(message: str) -> str:
    """A :class:`ConfigurationError` message with the SDK's argument names replaced by the CLI's flags.

    Example::

        cli_configuration_message("missing MoEngage configuration: api_key (argument or MOENGAGE_API_KEY)")
        # 'missing MoEngage configuration: --api-key or MOENGAGE_API_KEY'
    """
    message = _ARGUMENT_OR_ENV.sub(lambda m: f"--{m.group(1).replace('_', '-')} or {m.group(2)}", message)
    message = message.replace("allow_insecure_http=True", "--allow-insecure-http")
    message = re.sub(r"^quota\b", "--quota", message)
    return _ARGUMENT.sub(lambda m: "--" + m.group(1).replace("_", "-"), message)


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
