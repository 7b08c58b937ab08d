"""A real SMTP server on loopback that keeps every message it receives (aiosmtpd)."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.loopback import free_port


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    def wait_for_message(self, timeout: float = 10.0) -> Message:
        """The first message, waiting for it to arrive (mail leaves on a worker thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.messages:
                return self.messages[0]
            time.sleep(0.05)
        raise AssertionError("no mail reached the SMTP sink")


class _Collect:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.sink.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


@contextmanager
def running_smtp_sink() -> Iterator[SmtpSink]:
    """Start the sink on a free loopback port for the duration of the block."""
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(_Collect(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
