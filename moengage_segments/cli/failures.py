"""Exit codes, and the mapping from an exception to an exit code and one clear line.

Example::

    code, line = describe(NotFoundError(404, message="segment not found"))
    assert code == ExitCode.API_ERROR
"""

from __future__ import annotations

import enum
import json
import re

from moengage_segments import errors
from moengage_segments.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    CheckpointError,
    CohortSyncError,
    ConfigurationError,
    LedgerError,
    RateLimitError,
    ValidationError,
    one_line,
)

__all__ = [
    "ExitCode",
    "UsageError",
    "cli_configuration_message",
    "cli_word",
    "describe",
    "error_document",
    "hint_for",
]


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


class ExitCode(enum.IntEnum):
    """The exit codes of ``moengage-segments`` (documented in ``docs/cli.md``).

    Example::

        sys.exit(ExitCode.PARTIAL)
    """

    OK = 0
    #: The API (or the network) failed, or a file-segment callback reported a failure.
    API_ERROR = 1
    #: Bad arguments or input: unknown flags, missing credentials, invalid names or filter files.
    USAGE = 2
    #: A cohort push finished but some members were not accepted.
    PARTIAL = 3
    #: Interrupted by Ctrl-C (128 + SIGINT, the shell convention).
    INTERRUPTED = 130
    #: The reader of standard output went away (``... | head``): 128 + SIGPIPE, what a shell reports for
    #: a command that SIGPIPE stopped.
    BROKEN_PIPE = 141


class UsageError(Exception):
    """A command-line mistake found by the CLI itself (exit code 2).

    Example::

        raise UsageError("--column needs a CSV file, not stdin")
    """


def describe(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an exception that ended a command.

    Example::

        describe(ConfigurationError("missing MoEngage configuration: api_key"))
        # (ExitCode.USAGE, 'missing MoEngage configuration: api_key')
    """
    if isinstance(exc, ConfigurationError):  # raised by the SDK, so it names arguments: say flags instead
        return ExitCode.USAGE, one_line(cli_configuration_message(str(exc)))
    if isinstance(exc, ValidationError):
        return ExitCode.USAGE, one_line(f"{cli_word(exc.field)}: {exc.reason}")
    if isinstance(exc, (UsageError, CheckpointError)):
        return ExitCode.USAGE, one_line(str(exc))
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
        return ExitCode.USAGE, one_line(f"{exc.strerror}: {exc.filename}")
    if isinstance(exc, json.JSONDecodeError):
        return ExitCode.USAGE, one_line(f"not valid JSON: {exc}")
    if isinstance(exc, TimeoutError):
        return ExitCode.API_ERROR, one_line(str(exc) or "timed out")
    if isinstance(exc, CohortSyncError):
        return ExitCode.PARTIAL, one_line(str(exc))
    if isinstance(exc, LedgerError):  # locked by another sync, unreachable, newer schema: the message says
        return ExitCode.API_ERROR, one_line(str(exc))
    if isinstance(exc, APIError):
        return ExitCode.API_ERROR, one_line(str(exc) + _hint(exc))
    return ExitCode.API_ERROR, one_line(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)")


#: SDK parameter names -> what the user typed on the command line.
_CLI_WORDS = {
    "file_url": "--file-url",
    "callback_url": "--callback-url",
    "emails": "--email",
    "updated_by": "--updated-by",
    "attribute_name": "--attribute-name",
    "attribute_type": "--attribute-type",
    "expiry_days": "--expiry-days",
    "expiry_time": "--expiry-days",
    "segment_id": "segment id",
    "name": "segment name",
    "path": "input file",
    "column": "--column",
    "max_request_bytes": "--max-request-bytes",
    "max_in_flight": "--max-in-flight",
    "linger": "--linger",
}


def cli_word(field: str) -> str:
    """The command-line word for an SDK field in a :class:`ValidationError` (``emails[0]`` -> ``--email``).

    Fields inside a filter definition (``included_filters.filters[0].operator``) are kept: they name a
    place in the user's own JSON file.

    Example::

        assert cli_word("file_url") == "--file-url"
    """
    return _CLI_WORDS.get(field.split("[", 1)[0], field)


def error_document(exc: BaseException, code: ExitCode, line: str) -> dict[str, object]:
    """The ``--json`` form of an error: what a script needs to react, never a secret.

    Example::

        error_document(exc, ExitCode.API_ERROR, "HTTP 404 ...")["error"]["status"]  # 404
    """
    error: dict[str, object] = {"type": type(exc).__name__, "message": line, "exit_code": int(code)}
    if isinstance(exc, APIStatusError):
        error.update(status=exc.status, code=exc.code, attribute=exc.attribute, request_id=exc.request_id)
    if isinstance(exc, ValidationError):
        error.update(field=exc.field, reason=exc.reason)
    return {"error": error}


def _hint(exc: APIError) -> str:
    return hint_for(type(exc).__name__)


def hint_for(error_type: str) -> str:
    """What to check after an API error of this class name (``""`` when there is nothing to add).

    A cohort report keeps its stopping error as text (``"AuthenticationError: ..."``), so the hint is
    looked up by the class name, through the class hierarchy.

    Example::

        hint_for("AuthenticationError")  # " (check --workspace-id/--api-key or ...)"
    """
    cls = getattr(errors, error_type, None)
    if not (isinstance(cls, type) and issubclass(cls, APIError)):
        return ""
    if issubclass(cls, AuthenticationError):
        return " (check --workspace-id/--api-key or MOENGAGE_WORKSPACE_ID/MOENGAGE_API_KEY)"
    if issubclass(cls, RateLimitError):
        return " (rate limited; try again later)"
    if issubclass(cls, APIConnectionError):
        return " (check --data-center/--base-url and the network)"
    return ""
