"""Small ASGI middlewares: request metrics, a limit on request bodies, and on JSON nesting."""

import json
import re
import time

from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """Request counts and latencies by route template (`/api/incidents/{incident_id}`), never by
    raw path, so the number of series stays bounded whatever clients send."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter(
            "vigil_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "vigil_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route", "status"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app dies before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = scope["method"]
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route, str(status)).observe(time.perf_counter() - started)


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body too large")


# Evidence uploads (multipart) may be as large as VIGIL_EVIDENCE_MAX_BYTES plus their form's framing.
UPLOAD_PATHS = re.compile(r"^/api/incidents/[^/]+/evidence$|^/incidents/[^/]+/evidence$")
UPLOAD_OVERHEAD = 64 * 1024


class BodyLimit:
    """Refuse request bodies over the limit, in JSON like every other error.

    A declared Content-Length over the limit is refused before a byte is read. A body sent
    without one (chunked) is counted as it streams; past the limit, reading it raises a 413
    HTTPException, which FastAPI passes through to the JSON error handlers.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if UPLOAD_PATHS.match(scope.get("path", "")) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _send_json(send, 400, "bad_request", "invalid Content-Length header")
            return
        if declared is not None and int(declared) > limit:
            detail = f"request body too large (limit {limit} bytes)"
            await _send_json(send, 413, "payload_too_large", detail)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, counting_receive, send)


# No body Vigil takes nests deeper than a few levels; Python's parser gives up (RecursionError)
# near a thousand, which would otherwise be answered as an undecodable body.
MAX_JSON_DEPTH = 32


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than `limit` (brackets inside strings
    do not count). Most bodies hold fewer brackets than the limit and are not scanned at all."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class JsonDepthLimit:
    """Refuse a JSON body nested past MAX_JSON_DEPTH with a 422 that says so. Sits inside
    BodyLimit, so it never holds more than the largest body allowed."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_JSON_DEPTH):
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or b"json" not in content_type:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        except BodyTooLarge:
            await _send_json(send, 413, "payload_too_large", f"request body too large (limit {self.max_bytes} bytes)")
            return
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if too_deep(body, self.max_depth):
            detail = f"the body nests arrays and objects more than {self.max_depth} levels deep"
            await _send_json(send, 422, "invalid", detail)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _send_json(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
