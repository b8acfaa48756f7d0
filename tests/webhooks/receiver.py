"""A webhook receiver for the tests: a small HTTP server on a free port, in a thread,
that verifies every request's signature with standardwebhooks, as a customer's would,
and keeps what it got."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: dict | None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """`answers`: the status of each request in turn (the last one repeats); `hold`:
    when set, each request waits for `release` before it is answered."""

    secret: str = ""
    answers: list[int] = field(default_factory=lambda: [200])
    got: list[Received] = field(default_factory=list)
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    payload, verified = None, False
                with receiver._lock:
                    receiver.got.append(Received(self.path, headers, body, verified, payload))
                    index = min(len(receiver.got), len(receiver.answers)) - 1
                receiver.arrived.set()
                if receiver.hold:
                    receiver.release.wait(30)
                status = receiver.answers[index]
                text = b"ok" if status < 300 else b"<html><title>Server error</title>" + b"x" * 5000
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the sender is gone (killed mid-request)

            def log_message(self, *args):
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/vigil"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.got if r.payload and r.payload["type"] == event_type]

    def bodies(self) -> list[dict]:
        return [json.loads(r.body) for r in self.got]
