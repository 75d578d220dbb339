"""A minimal HTTP sink for the cohort benchmarks: reads each request body, answers 200, nothing else.

Run as a separate process so the client under test has a core of its own::

    python benchmarks/_sink.py [latency_ms]   # prints its port, then serves until killed

``latency_ms`` delays every answer, standing in for the network round trip and server time of a real
service (the client's concurrency then matters, as it does in production).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

_BODY = b'{"status":"success","message":"accepted, will be processed"}'
_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
_LENGTH = re.compile(rb"(?i)content-length:\s*(\d+)")


_LATENCY = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.0


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.need: int | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                match = _LENGTH.search(self.buffer, 0, end)
                self.need = int(match.group(1)) if match else 0
                del self.buffer[: end + 4]
            if len(self.buffer) < self.need:
                return
            del self.buffer[: self.need]
            self.need = None
            assert self.transport is not None
            if _LATENCY:
                asyncio.get_running_loop().call_later(_LATENCY, self.transport.write, _RESPONSE)
            else:
                self.transport.write(_RESPONSE)


async def _serve() -> None:
    server = await asyncio.get_running_loop().create_server(_Protocol, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


class SinkProcess:
    """Start the sink in a child process: ``with SinkProcess(latency_ms=20) as url: ...``."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms

    def __enter__(self) -> str:
        command = [sys.executable, __file__, str(self.latency_ms)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
