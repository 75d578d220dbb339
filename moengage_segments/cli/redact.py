"""The last line of defence for the API key: every byte the CLI writes passes through a redactor.

Errors and logs of the SDK never carry the key by design; this catches what design cannot promise
(a traceback showing a local variable, a URL with user:password, a third-party log line). The CLI swaps
``sys.stdout``/``sys.stderr`` for redacting wrappers for the duration of a command, so ``print``,
``logging``, tracebacks and rich all go through it.

Example::

    with redacted_stdio() as redactor:
        redactor.add("my-secret-key")
        print("key=my-secret-key")      # prints "key=***"
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import TextIO

__all__ = ["MASK", "RedactingStream", "Redactor", "redacted_stdio"]

MASK = "***"
#: Shorter values are not masked: they would mangle ordinary words and are not real API keys anyway.
MIN_SECRET_LENGTH = 4


class Redactor:
    """The set of secrets to mask, shared by the redacting streams.

    Example::

        r = Redactor(); r.add("s3cret-key")
        assert r.redact("k=s3cret-key") == "k=***"
    """

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (the key is only known once the arguments are parsed)."""
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
            # Longest first, so a secret that contains another is masked whole.
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingStream(io.TextIOBase):
    """A text stream that masks every secret of ``redactor`` before writing to ``inner``.

    Example::

        stream = RedactingStream(sys.stderr, redactor)
    """

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self.redactor = redactor

    def write(self, text: str) -> int:
        self.inner.write(self.redactor.redact(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    # TextIOBase declares ``encoding`` as a plain attribute; a property keeps it tied to ``inner``.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"


@contextlib.contextmanager
def redacted_stdio() -> Iterator[Redactor]:
    """Replace ``sys.stdout`` and ``sys.stderr`` by redacting wrappers until the block ends.

    Example::

        with redacted_stdio() as redactor:
            redactor.add(os.environ.get("MOENGAGE_API_KEY"))
    """
    redactor = Redactor()
    old_out, old_err = sys.stdout, sys.stderr
    out, err = RedactingStream(old_out, redactor), RedactingStream(old_err, redactor)
    sys.stdout, sys.stderr = out, err
    try:
        yield redactor
    finally:
        with contextlib.suppress(Exception):
            out.flush()
            err.flush()
        sys.stdout, sys.stderr = old_out, old_err
