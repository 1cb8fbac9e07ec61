"""Delivery to real servers on loopback: aiosmtpd for SMTPNotifier, an HTTP sink for WebhookSMS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from mamori.clock import FixedClock
from mamori.models import Message
from mamori.notify.notifier import FanOutNotifier, SMTPNotifier
from mamori.notify.sms import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ConsoleSMS,
    SMSDeliveryFailed,
    WebhookSMS,
    mask_phone,
    sign,
    verify_signature,
)
from mamori.settings import Settings

CODE = "482913"
PHONE = "+819012345678"
SMS_BODY = f"Mamori 確認コード {CODE}。心当たりがなければ、パスワードが第三者に知られています。"
SECRET = "webhook-secret-" + "s" * 24


def sms(body: str = SMS_BODY, *, to: str = PHONE, kind: str = "login_code") -> Message:
    return Message(channel="sms", to=to, subject="", body=body, kind=kind, account_id=1)


def email_message() -> Message:
    return Message(
        channel="email",
        to="taro@example.jp",
        subject="【Mamori】ログイン確認コード",
        body=f"確認コード: {CODE}\nこのコードは10分間有効です。\n",
        kind="login_code",
        account_id=1,
    )


# -- a real SMTP server ---------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def parsed(self) -> EmailMessage:
        mail = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        return mail


class CollectingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[CollectingHandler, int]]:
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_settings(port: int) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_tls=False,
        smtp_timeout_seconds=5.0,
        mail_from="まもり Mamori <no-reply@mamori.test>",
    )


async def test_smtp_notifier_delivers_utf8_mail(smtp_server: tuple[CollectingHandler, int]) -> None:
    handler, port = smtp_server
    message = email_message()
    await SMTPNotifier(smtp_settings(port)).send(message)

    assert len(handler.received) == 1
    got = handler.received[0]
    assert got.mail_from == "no-reply@mamori.test"
    assert got.rcpt_tos == ["taro@example.jp"]
    mail = got.parsed()
    assert mail["From"].addresses[0].display_name == "まもり Mamori"
    assert mail["From"].addresses[0].addr_spec == "no-reply@mamori.test"
    assert mail["To"] == "taro@example.jp"
    assert mail["Subject"] == "【Mamori】ログイン確認コード"
    assert mail["X-Mamori-Kind"] == "login_code"
    assert mail["Message-ID"].endswith("@mamori.test>")
    assert mail["Date"]
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    # line endings travel as CRLF on the wire (inside the transfer encoding too)
    assert mail.get_content().replace("\r\n", "\n") == message.body
    # non-ASCII headers travel RFC 2047-encoded, so no SMTPUTF8 support is needed on the way
    assert got.content.split(b"\r\n\r\n", 1)[0].isascii()


async def test_smtp_notifier_skips_sms(smtp_server: tuple[CollectingHandler, int]) -> None:
    handler, port = smtp_server
    await SMTPNotifier(smtp_settings(port)).send(sms())
    assert handler.received == []


async def test_smtp_failure_is_logged_without_body(caplog: pytest.LogCaptureFixture) -> None:
    notifier = FanOutNotifier(SMTPNotifier(smtp_settings(free_port())))  # nobody listens there
    with caplog.at_level(logging.DEBUG):
        await notifier.send(email_message())  # must not raise
    assert "delivery failed: notifier=SMTPNotifier kind=login_code channel=email" in caplog.text
    assert CODE not in caplog.text


# -- a real HTTP sink for the SMS webhook ---------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class HTTPSink:
    """A tiny HTTP/1.1 server on loopback that records requests and answers from a script.

    `statuses[i]` answers request i (the last one repeats); None drops the connection unanswered.
    """

    statuses: list[int | None]
    requests: list[Request] = field(default_factory=list)
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/sms?token=t0ken"

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self.tasks:
            await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 5)

    def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(reader, writer))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                index = len(self.requests)
                self.requests.append(Request(method, path, headers, body))
                status = self.statuses[min(index, len(self.statuses) - 1)]
                if status is not None:
                    writer.write(
                        f"HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\n"
                        "Content-Type: text/plain\r\nConnection: close\r\n\r\nok".encode()
                    )
                    await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


SinkFactory = Callable[[list[int | None]], Awaitable[HTTPSink]]


@pytest.fixture
async def make_sink() -> AsyncIterator[SinkFactory]:
    sinks: list[HTTPSink] = []

    async def make(statuses: list[int | None]) -> HTTPSink:
        sink = HTTPSink(statuses)
        await sink.start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        await sink.aclose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def webhook(sink: HTTPSink, clock: FixedClock, **kwargs: Any) -> WebhookSMS:
    return WebhookSMS(sink.url, SECRET, sender_id="Mamori", clock=clock, backoff=0.01, **kwargs)


async def test_webhook_posts_signed_json(make_sink: SinkFactory, clock: FixedClock) -> None:
    sink = await make_sink([200])
    await webhook(sink, clock).send(sms())

    assert len(sink.requests) == 1
    req = sink.requests[0]
    assert req.method == "POST"
    assert req.path == "/sms?token=t0ken"
    assert req.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(req.body) == {
        "to": PHONE,
        "body": SMS_BODY,
        "kind": "login_code",
        "sender_id": "Mamori",
    }
    assert "確認コード".encode() in req.body  # UTF-8 as is, not \u-escaped

    timestamp = req.headers[TIMESTAMP_HEADER.lower()]
    signature = req.headers[SIGNATURE_HEADER.lower()]
    now = clock.now()
    assert timestamp == str(int(now.timestamp()))
    assert signature.startswith("sha256=")
    assert len(signature) == len("sha256=") + 64
    assert signature == sign(SECRET, timestamp, req.body)
    assert len(req.headers[DELIVERY_HEADER.lower()]) == 32

    assert verify_signature(SECRET, timestamp, req.body, signature, now=now)
    assert verify_signature(SECRET, int(timestamp), req.body, signature, now=now.timestamp())
    assert verify_signature(
        SECRET, timestamp, req.body, signature, now=now + timedelta(seconds=299)
    )
    assert verify_signature(
        SECRET, timestamp, req.body, signature, now=now - timedelta(seconds=299)
    )
    # wrong secret, tampered body or timestamp, stale or future, malformed: all refused
    assert not verify_signature(SECRET + "x", timestamp, req.body, signature, now=now)
    assert not verify_signature("other-secret", timestamp, req.body, signature, now=now)
    tampered = req.body.replace(CODE.encode(), b"000000")
    assert not verify_signature(SECRET, timestamp, tampered, signature, now=now)
    assert not verify_signature(SECRET, int(timestamp) + 1, req.body, signature, now=now)
    assert not verify_signature(SECRET, timestamp, req.body, signature, now=now + timedelta(300.5))
    assert not verify_signature(SECRET, timestamp, req.body, signature, now=now - timedelta(301))
    assert not verify_signature(SECRET, "soon", req.body, signature, now=now)
    assert not verify_signature(SECRET, timestamp, req.body, signature[len("sha256=") :], now=now)
    assert not verify_signature(SECRET, timestamp, req.body, "sha256=é" + "0" * 63, now=now)


async def test_webhook_signs_with_the_clock(make_sink: SinkFactory, clock: FixedClock) -> None:
    sink = await make_sink([200])
    notifier = webhook(sink, clock)
    await notifier.send(sms())
    clock.advance(3600)
    await notifier.send(sms())
    first, second = (int(r.headers[TIMESTAMP_HEADER.lower()]) for r in sink.requests)
    assert second - first == 3600
    assert (
        sink.requests[0].headers[DELIVERY_HEADER.lower()]
        != sink.requests[1].headers[DELIVERY_HEADER.lower()]
    )


async def test_webhook_ignores_email(make_sink: SinkFactory, clock: FixedClock) -> None:
    sink = await make_sink([200])
    await webhook(sink, clock).send(email_message())
    assert sink.requests == []


async def test_webhook_retries_5xx_then_delivers(
    make_sink: SinkFactory, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    sink = await make_sink([500, 503, 200])
    with caplog.at_level(logging.DEBUG, logger="mamori"):
        await webhook(sink, clock).send(sms())
    assert len(sink.requests) == 3
    assert len({r.body for r in sink.requests}) == 1
    assert len({r.headers[DELIVERY_HEADER.lower()] for r in sink.requests}) == 1
    for req in sink.requests:  # every attempt is signed on its own
        ts, sig = req.headers[TIMESTAMP_HEADER.lower()], req.headers[SIGNATURE_HEADER.lower()]
        assert verify_signature(SECRET, ts, req.body, sig, now=clock.now())
    assert "attempt 1 failed (HTTP 500), retrying" in caplog.text
    assert "attempt 2 failed (HTTP 503), retrying" in caplog.text
    assert "accepted by webhook (attempt 3, status 200)" in caplog.text
    assert CODE not in caplog.text
    assert PHONE not in caplog.text
    assert "+81…5678" in caplog.text


async def test_webhook_gives_up_after_three_tries(
    make_sink: SinkFactory, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    sink = await make_sink([500])
    with (
        caplog.at_level(logging.DEBUG, logger="mamori"),
        pytest.raises(SMSDeliveryFailed) as caught,
    ):
        await webhook(sink, clock).send(sms())
    assert len(sink.requests) == 3
    assert caught.value.attempts == 3
    assert caught.value.status == 500
    assert "attempts=3 last=HTTP 500" in str(caught.value)
    for text in (str(caught.value), caplog.text):
        assert CODE not in text
        assert PHONE not in text
        assert "t0ken" not in text  # the URL may hold a credential


async def test_webhook_retries_dropped_connections(
    make_sink: SinkFactory, clock: FixedClock
) -> None:
    sink = await make_sink([None])
    with pytest.raises(SMSDeliveryFailed) as caught:
        await webhook(sink, clock).send(sms())
    assert len(sink.requests) == 3
    assert caught.value.status is None
    assert "RemoteProtocolError" in str(caught.value)

    sink = await make_sink([None, 200])
    await webhook(sink, clock).send(sms())
    assert len(sink.requests) == 2


async def test_webhook_unreachable_raises(clock: FixedClock) -> None:
    notifier = WebhookSMS(
        f"http://127.0.0.1:{free_port()}/", SECRET, sender_id="M", clock=clock, backoff=0.01
    )
    with pytest.raises(SMSDeliveryFailed, match="ConnectError") as caught:
        await notifier.send(sms())
    assert caught.value.attempts == 3


async def test_webhook_4xx_is_not_retried(make_sink: SinkFactory, clock: FixedClock) -> None:
    sink = await make_sink([400, 200])
    with pytest.raises(SMSDeliveryFailed) as caught:
        await webhook(sink, clock).send(sms())
    assert len(sink.requests) == 1
    assert caught.value.attempts == 1
    assert caught.value.status == 400


async def test_webhook_uses_a_given_client_and_leaves_it_open(
    make_sink: SinkFactory, clock: FixedClock
) -> None:
    sink = await make_sink([200])
    async with httpx.AsyncClient() as client:
        notifier = webhook(sink, clock, client=client)
        await notifier.send(sms())
        await notifier.send(sms(kind="phone_verify"))
        assert not client.is_closed
    assert [json.loads(r.body)["kind"] for r in sink.requests] == ["login_code", "phone_verify"]


async def test_webhook_failure_inside_fan_out_is_logged_not_raised(
    make_sink: SinkFactory, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    sink = await make_sink([502])
    with caplog.at_level(logging.DEBUG, logger="mamori"):
        await FanOutNotifier(webhook(sink, clock)).send(sms())
    assert len(sink.requests) == 3
    assert "delivery failed: notifier=WebhookSMS kind=login_code channel=sms" in caplog.text
    assert CODE not in caplog.text
    assert PHONE not in caplog.text


def test_webhook_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSMS("ftp://gateway/", SECRET, sender_id="M")
    with pytest.raises(ValueError, match="secret"):
        WebhookSMS("https://gateway.example/sms", "", sender_id="M")
    notifier = WebhookSMS("https://gateway.example/sms?key=abc", SECRET, sender_id="M")
    assert SECRET not in repr(notifier)
    assert "abc" not in repr(notifier)


# -- console adapter and masking ------------------------------------------------------------


async def test_console_sms_logs_no_body(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="mamori"):
        await ConsoleSMS().send(sms())
        await ConsoleSMS().send(email_message())  # not an SMS: ignored
    assert [r.getMessage() for r in caplog.records] == ["SMS to +81…5678 kind=login_code"]
    assert CODE not in caplog.text
    assert "確認コード" not in caplog.text
    assert PHONE not in caplog.text


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+819012345678", "+81…5678"),
        ("+14155550123", "+14…0123"),
        ("09012345678", "09…5678"),
        ("12345", "…45"),
        ("", "…"),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked
