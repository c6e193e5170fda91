"""Every error the API returns is JSON `{"error": code, "detail": text}`, and documented.

Routers raise `ApiError` (or the helpers below); the handlers here turn everything else a
request can trigger (validation, unknown routes, a database or Temporal outage) into the same
shape, so a client never has to parse an HTML page or guess at a 500.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from temporalio.service import RPCError, RPCStatusCode

from vigil.api.middleware import UPLOAD_PATHS

log = logging.getLogger("vigil.api")


class ErrorBody(BaseModel):
    error: str = Field(description="A stable, machine-readable code", examples=["conflict"])
    detail: str = Field(description="What went wrong, in words a person can act on")
    fields: list[dict[str, Any]] | None = Field(
        None, description="For invalid requests: each offending field (`loc`) and what is wrong (`msg`)"
    )
    incident_id: str | None = Field(
        None, description="For a repeated `external_ref` whose body differs: the incident it was taken in as"
    )


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,  # more fields of ErrorBody
    ):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers
        self.extra = extra or {}


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid", detail)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def conflict(detail: str) -> ApiError:
    return ApiError(409, "conflict", detail)


def unavailable(what: str, detail: str, location: str | None = None) -> ApiError:
    """503; `location` names a resource that exists anyway (an intake reserved, not yet triaged)."""
    headers = {"Retry-After": "5"} | ({"Location": location} if location else {})
    return ApiError(503, f"{what}_unavailable", detail, headers=headers)


# What each status means, for the OpenAPI document: routes list the ones they can return.
_DESCRIPTIONS = {
    401: "Missing, unknown or revoked bearer token",
    403: "Your role may not do this",
    404: "No such incident (or route)",
    409: "The incident's state forbids this now (the detail says why)",
    413: "Request body too large",
    422: "Malformed request: bad JSON, unknown or missing fields, wrong types or values",
    429: "Too many failed token attempts from this address: wait `Retry-After` seconds",
    503: "The database, Temporal or the evidence store is unreachable; retry later",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the given error statuses, plus the 401, 422, 429 and 503 any
    route can answer (422 replaces FastAPI's default validation schema with ours)."""
    wanted = sorted({401, 422, 429, 503, *statuses})
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in wanted}


def _json(status: int, error: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = []
    for item in exc.errors():
        message = item.get("msg", "invalid")
        if item.get("type") == "json_invalid":
            message = f"not valid JSON ({item.get('ctx', {}).get('error', 'decode error')})"
        elif item.get("type") == "extra_forbidden":
            message = "unknown field"
        fields.append({"loc": _location(item.get("loc", ())), "msg": message})
    content_type = request.headers.get("content-type", "")
    takes_form = UPLOAD_PATHS.match(request.url.path) is not None  # evidence uploads are multipart forms
    if request.method in ("POST", "PUT", "PATCH") and "json" not in content_type and not takes_form:
        detail = "the body must be JSON: send the header 'Content-Type: application/json'"
    else:
        detail = "; ".join(f"{f['loc']}: {f['msg']}" for f in fields[:10]) or "invalid request"
    return _json(422, "invalid", detail, fields=fields)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _json(exc.status, exc.error, exc.detail, exc.headers, **exc.extra)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        # Starlette could not even decode it (not UTF-8): malformed, like any other bad body.
        return _json(422, "invalid", "the body is not valid JSON (it is not UTF-8 text)")
    if exc.status_code == 400 and exc.detail == "Invalid multipart data.":
        # An upload whose multipart body cannot be read: malformed input, not a 400 of its own.
        return _json(422, "invalid", "the body is not valid multipart/form-data")
    code = _HTTP_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404:
        detail = f"no route {request.url.path}" if detail == "Not Found" else detail
    if exc.status_code == 413:
        detail = f"request body too large (limit {request.app.state.max_body_bytes} bytes)"
    return _json(exc.status_code, code, detail, exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _json(503, "database_unavailable", "the database is unreachable; retry shortly", {"Retry-After": "5"})


_TEMPORAL_DOWN = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}


async def _temporal_error(request: Request, exc: RPCError) -> JSONResponse:
    if exc.status in _TEMPORAL_DOWN:
        log.warning("temporal unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _json(503, "temporal_unavailable", "Temporal is unreachable; retry shortly", {"Retry-After": "5"})
    log.error("temporal error on %s %s: %s", request.method, request.url.path, exc)
    return _json(502, "temporal_error", f"Temporal answered: {exc.message}")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _json(500, "internal", "an unexpected error occurred; it has been logged")


E = TypeVar("E", bound=Exception)


def add_handler(app: FastAPI, exc_class: type[E], handler: Callable[[Request, E], Awaitable[Response]]) -> None:
    """`app.add_exception_handler`, typed so a handler's exception class must match `exc_class`."""
    # Starlette types every handler as taking any Exception, so one written for a subclass is
    # refused (Kludex/starlette#2417; the fix, PR 2403, is not released).
    app.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]


def install(app: FastAPI) -> None:
    add_handler(app, ApiError, _api_error)
    add_handler(app, RequestValidationError, _validation_error)
    add_handler(app, HTTPException, _http_error)
    # Outages only (cannot connect, connection lost, SQLite busy, pool exhausted): other database
    # errors are our bugs, and stay 500s so they get noticed.
    add_handler(app, OperationalError, _database_error)
    add_handler(app, PoolTimeout, _database_error)
    add_handler(app, InterfaceError, _database_error)
    add_handler(app, RPCError, _temporal_error)
    add_handler(app, Exception, _unexpected)
