"""The HTTP protocol `mamori serve` runs: a response's head and body leave in one send."""

from __future__ import annotations

import asyncio
import socket

from mamori.web.protocol import OneSendHttpToolsProtocol, _OneSendTransport
from mamori.web.server import _uvicorn_options


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


async def test_head_and_body_written_in_one_step_leave_as_one_send() -> None:
    raw = RecordingTransport()
    t = _OneSendTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert raw.sent == []  # the head waits for its body
    t.write(bytearray(b"body"))
    assert raw.sent == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert raw.sent == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_a_head_alone_leaves_on_the_next_loop_turn_and_close_flushes() -> None:
    raw = RecordingTransport()
    t = _OneSendTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"head")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert raw.sent == [b"head"]  # a streamed response's head is not held for its first chunk
    t.write(b"last")
    t.close()
    assert raw.sent == [b"head", b"last"] and raw.closed
    assert t.get_extra_info("peername") == "extra:peername"  # everything else: the transport's


async def test_a_real_server_answers_through_the_one_send_protocol() -> None:
    import uvicorn

    options = _uvicorn_options(dev=False)
    assert options["http"] is OneSendHttpToolsProtocol

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] in ("http", "lifespan")
        if scope["type"] == "lifespan":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-a", b"1"), (b"content-length", b"5")],
            }
        )  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"hello"})  # type: ignore[operator]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=OneSendHttpToolsProtocol, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):  # keep-alive: the second response on the same connection
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"x-a: 1\r\n" in head
            assert await reader.readexactly(5) == b"hello"
        writer.close()
        await writer.wait_closed()
    finally:
        server.should_exit = True
        await task
