"""uvicorn's HTTP protocol, writing each response's head and body in one send.

uvicorn writes the status line and headers as soon as the app starts its response, then the
body in a second write: two sends, two TCP segments and, for a client waiting on the socket,
two wake-ups per response. Here the head waits in a buffer until the body joins it (Starlette
sends both in the same step), or until the event loop's next turn at the latest, so a streamed
response's head is never held back by its first chunk.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _OneSendTransport:
    """A transport whose writes within one event-loop step go out as one send."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending:  # the body after its head: both leave now, together
            self._pending.append(bytes(data))
            self._flush()
            return
        self._pending.append(bytes(data))
        self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _OneSendTransport(transport, self.loop)  # type: ignore[assignment]
