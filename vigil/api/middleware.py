"""Two small ASGI middlewares: request metrics, and a limit on request bodies."""

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


async def _send_json(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
