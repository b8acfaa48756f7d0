"""One POST to a webhook endpoint, to an address checked first (addresses.py).

The name is resolved once, every address checked, and the connection made to the
first of them, with the name as the Host header and the TLS server name (SNI) and
certificate check: so the address connected to is the address checked. No redirect is
followed (http.client follows none), each socket operation times out after
WEBHOOKS_TIMEOUT_SECONDS, and no more of the answer is read than its first bytes.
"""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from django.conf import settings

from portal.webhooks.addresses import AddressRefusedError, Target, checked_addresses

# What is kept of an answer: enough to see an error page's title.
EXCERPT_BYTES = 200
USER_AGENT = "Vigil-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    address: str | None
    status_code: int | None
    error: str
    excerpt: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate must be the name's, whatever address it was reached at.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to the target; never raises for what the network or the receiver
    does: the answer says it."""
    started = time.monotonic()
    address: str | None = None

    def took() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        address = str(checked_addresses(target)[0])
    except AddressRefusedError as refused:
        return Answer(None, None, str(refused), "", took())
    timeout = float(settings.WEBHOOKS_TIMEOUT_SECONDS)
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target.host, target.port, address, timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
        return Answer(address, response.status, "", _printable(excerpt), took())
    except (OSError, http.client.HTTPException) as error:
        return Answer(address, None, _error_text(error), "", took())
    finally:
        connection.close()


def _error_text(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"Timed out after {settings.WEBHOOKS_TIMEOUT_SECONDS} s"
    text = str(error)
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text).strip()[:EXCERPT_BYTES]
