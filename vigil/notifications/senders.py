"""Sending one message: email over SMTP (aiosmtplib) and signed webhooks (httpx).

Each send either returns (the far end accepted it) or raises `SendFailed`, saying whether trying
again can help: `permanent` for a refusal about this message or address (SMTP 5xx to the
recipient or the data, such as 550 no such user; a webhook's 4xx other than 408 and 429), which
is recorded and alerted, never retried; anything else (the server is down, 4xx "try later", a
timeout, a webhook's 5xx) is retried with backoff.

Every message carries a stable id, the same on every attempt (`delivery_id`): the email's
Message-ID and X-Vigil-Delivery header, the webhook's X-Vigil-Delivery header. A crash between
the far end accepting a message and Vigil recording it sent makes Vigil send it again: receivers
that drop repeated ids see it once (docs/communications.md, "Exactly once").
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import httpx

SEND_TIMEOUT = 10.0  # seconds for one SMTP conversation or one webhook call


class SendFailed(Exception):
    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def delivery_id(notice_key: str, address: str) -> str:
    """The same for every attempt at one (notice, address): receivers de-duplicate on it."""
    return hashlib.sha256(f"{notice_key}\n{address}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Message:
    delivery_id: str
    incident_id: str | None
    kind: str
    severity: str | None
    language: str
    subject: str
    body: str
    link: str
    occurred_at: datetime | None


# ---------------------------------------------------------------------------- email


@dataclass(frozen=True)
class MailServer:
    """VIGIL_SMTP_URL: smtp://[user:pass@]host[:port][?starttls=require|no], smtps://... (TLS)."""

    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: when the server offers it
    sender: str

    @classmethod
    def from_url(cls, url: str, sender: str) -> "MailServer":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"VIGIL_SMTP_URL must be smtp://host[:port] or smtps://host[:port], not {url!r}")
        starttls = parse_qs(parts.query).get("starttls", [""])[0].lower()
        if starttls not in ("", "require", "no"):
            raise ValueError(f"VIGIL_SMTP_URL: starttls={starttls!r}: use require or no")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=None if starttls == "" else starttls == "require",
            sender=sender,
        )

    @property
    def domain(self) -> str:
        address = parseaddr(self.sender)[1]
        return address.rpartition("@")[2] or "vigil.local"


def email_message(server: MailServer, to: str, message: Message) -> EmailMessage:
    email = EmailMessage()
    email["From"] = server.sender
    email["To"] = to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.now(UTC))
    email["Message-ID"] = f"<{message.delivery_id}@{server.domain}>"
    email["X-Vigil-Delivery"] = message.delivery_id
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to Vigil
    email.set_content(message.body)
    email["Content-Language"] = message.language  # after set_content, which resets Content-* headers
    return email


async def send_email(server: MailServer, to: str, message: Message) -> None:
    try:
        errors, _ = await aiosmtplib.send(
            email_message(server, to, message),
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.use_tls,
            start_tls=server.start_tls,
            timeout=SEND_TIMEOUT,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        refusal = error.recipients[0] if error.recipients else None
        code = refusal.code if refusal else 0
        raise SendFailed(
            f"the mail server refused {to}: {code} {refusal.message if refusal else ''}", code >= 500
        ) from None
    except aiosmtplib.SMTPSenderRefused as error:  # our From, not the address: fix it and it goes
        raise SendFailed(f"the mail server refused the sender: {error.code} {error.message}", False) from None
    except aiosmtplib.SMTPAuthenticationError as error:  # our credentials: fix them and it goes
        raise SendFailed(f"the mail server refused Vigil's login: {error.code} {error.message}", False) from None
    except aiosmtplib.SMTPResponseException as error:
        raise SendFailed(f"the mail server answered {error.code} {error.message}", error.code >= 500) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise SendFailed(f"cannot reach the mail server at {server.host}:{server.port}: {error}", False) from None
    if errors:  # some recipient refused while another was accepted: we send to one at a time
        code, text = next(iter(errors.values()))
        raise SendFailed(f"the mail server refused {to}: {code} {text}", code >= 500)


# ---------------------------------------------------------------------------- webhooks


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(message: Message) -> dict[str, Any]:
    """What a chat's incoming webhook shows (`text`), and the fields a program reads."""
    return {
        "text": f"{message.subject}\n\n{message.body}".strip(),
        "incident_id": message.incident_id,
        "kind": message.kind,
        "severity": message.severity,
        "link": message.link,
        "subject": message.subject,
        "language": message.language,
        "delivery_id": message.delivery_id,
        "occurred_at": message.occurred_at.isoformat() if message.occurred_at else None,
    }


async def send_webhook(http: httpx.AsyncClient, url: str, secret: str, message: Message) -> None:
    body = json.dumps(webhook_body(message), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Vigil-Signature": signature(secret, body),
        "X-Vigil-Delivery": message.delivery_id,
        "User-Agent": "Vigil",
    }
    try:
        response = await http.post(url, content=body, headers=headers, timeout=SEND_TIMEOUT)
    except httpx.HTTPError as error:
        raise SendFailed(f"cannot reach the webhook: {type(error).__name__} {error}", False) from None
    if response.is_success:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
    raise SendFailed(f"the webhook answered {response.status_code} {response.text[:200]}", permanent)
