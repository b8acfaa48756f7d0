"""A local SMTP server for the sending tests (aiosmtpd), on a free port, in a thread.

It records the Message-ID of every message it accepts and how many connections it was
opened with, and answers each recipient as the test says: `rcpt_answer(address, seen)`
returns None to accept, or an SMTP reply such as "451 4.3.0 Try again later" or
"550 5.1.1 No such user"; `seen` is how many times that address was offered before.
With `delay`, it takes that long to accept each message (a campaign that lasts).
"""

import asyncio
import itertools
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.conftest import free_port

# aiosmtpd logs every command, addresses included; the tests need none of it.
logging.getLogger("mail.log").setLevel(logging.WARNING)

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)

Answer = Callable[[str, int], str | None]


def message_id_of(content: bytes) -> str | None:
    headers = content.split(b"\r\n\r\n", 1)[0]
    match = _MESSAGE_ID.search(headers)
    return match.group(1).decode() if match else None


def transient_then_accept(times: int = 1) -> Answer:
    """Answer 451 to each address's first `times` offers, then accept it."""
    return lambda address, seen: "451 4.3.0 Try again later" if seen < times else None


def refuse(addresses: set[str], reply: str = "550 5.1.1 No such user here") -> Answer:
    return lambda address, seen: reply if address in addresses else None


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.sink.lock:
            seen = self.sink.offered[address]
            self.sink.offered[address] += 1
        answer = self.sink.rcpt_answer(address, seen) if self.sink.rcpt_answer else None
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        content = envelope.original_content or envelope.content
        with self.sink.lock:
            self.sink.arrivals.append(time.monotonic())
            self.sink.message_ids.append(message_id_of(content))
            self.sink.messages.append(content)
            self.sink.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


class _CountingSMTP(SMTP):
    def __init__(self, *args, sink: "SmtpSink", **kwargs):
        self._sink = sink
        super().__init__(*args, **kwargs)

    def connection_made(self, transport):
        if self.transport is None:  # not the STARTTLS upgrade of a connection
            with self._sink.lock:
                self._sink.sessions += 1
        super().connection_made(transport)


class _Controller(Controller):
    def __init__(self, sink: "SmtpSink", **kwargs):
        self._sink = sink
        super().__init__(_Handler(sink), **kwargs)

    def factory(self):
        return _CountingSMTP(self.handler, sink=self._sink, **self.SMTP_kwargs)


class SmtpSink:
    def __init__(self, rcpt_answer: Answer | None = None, *, delay: float = 0):
        self.rcpt_answer = rcpt_answer
        self.delay = delay  # seconds before accepting each message: a slower server
        self.port = free_port()
        self.lock = threading.Lock()
        self.sessions = 0
        self.offered: Counter[str] = Counter()
        self.message_ids: list[str | None] = []
        self.arrivals: list[float] = []  # time.monotonic() of each message accepted
        self.messages: list[bytes] = []
        self.recipients: list[str] = []
        self._controller = _Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self._controller.start()
        with self.lock:
            self.sessions = 0  # start() connects once to see that the server answers
        return self

    def stop(self) -> None:
        self._controller.stop()

    def mailer(self) -> dict:
        """The MAILERS entry that sends here."""
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 10},
        }

    def received(self) -> int:
        with self.lock:
            return len(self.message_ids)

    def longest_silence(self, since: float, until: float) -> float:
        """The longest time between `since`, the messages accepted after it, and
        `until`, in seconds: how long sending stood still."""
        with self.lock:
            moments = [since, *(t for t in self.arrivals if since < t < until), until]
        return max(b - a for a, b in itertools.pairwise(moments))

    def first_after(self, moment: float) -> float | None:
        with self.lock:
            return next((t for t in self.arrivals if t > moment), None)

    def copies(self) -> Counter[str | None]:
        with self.lock:
            return Counter(self.message_ids)
