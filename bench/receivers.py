"""Real far ends for notices, for tests and benchmarks: an SMTP server (aiosmtpd) and an HTTP
webhook receiver that checks Vigil's signature. Each runs in a thread of its own on a free port
of 127.0.0.1 and records what it accepted, so a test can count what arrived, and how often.

- `MailCatcher`: accepts every message (after `delay`, to be slow); addresses in `refuse` get
  `550 no such user`; `stop()` and `start()` again on the same port make "the mail server is
  down, then up".
- `WebhookReceiver`: answers 200 to a correctly signed body, 401 to a bad signature; paths in
  `gone` answer 410 (a permanent refusal).
"""

import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Mail:
    to: str
    message: Message

    @property
    def delivery_id(self) -> str:
        return str(self.message["X-Vigil-Delivery"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode() if isinstance(payload, bytes) else str(payload)


class _Handler:
    def __init__(self, catcher: "MailCatcher"):
        self.catcher = catcher

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.catcher.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.catcher.lock:
            for to in envelope.rcpt_tos:
                self.catcher.received.append(Mail(to=to, message=message_from_bytes(raw)))
        return "250 Message accepted for delivery"


@dataclass
class MailCatcher:
    port: int = field(default_factory=free_port)
    refuse: set[str] = field(default_factory=set)
    delay: float = 0.0  # seconds before accepting each message
    received: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> "MailCatcher":
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.received if m.to == address]

    def copies(self) -> Counter[str]:
        """How often each delivery id arrived."""
        with self.lock:
            return Counter(m.delivery_id for m in self.received)


@dataclass
class Hook:
    path: str
    body: dict[str, Any]
    delivery_id: str


@dataclass
class WebhookReceiver:
    secret: str
    port: int = field(default_factory=free_port)
    gone: set[str] = field(default_factory=set)
    received: list[Hook] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hooks/vigil") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Vigil-Signature") or ""):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self._answer(401)
                    return
                if self.path in receiver.gone:
                    self._answer(410)
                    return
                with receiver.lock:
                    receiver.received.append(Hook(self.path, json.loads(raw), self.headers["X-Vigil-Delivery"]))
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def at(self, path: str) -> list[Hook]:
        with self.lock:
            return [h for h in self.received if h.path == path]

    def copies(self) -> Counter[str]:
        with self.lock:
            return Counter(h.delivery_id for h in self.received)
