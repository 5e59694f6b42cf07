"""Every error the API returns has one JSON shape::

    {"error": {"code": "validation_error", "message": "...",
               "details": [{"loc": "problem.visits[1].client",
                            "message": "unknown client 'c-zz'"}]}}

``code`` is stable and meant for programs; ``message`` is for people; ``details`` (possibly
empty) names field paths. Handlers here turn FastAPI's and Starlette's own errors into that shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("carerota.api")

CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "queue_full",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    loc: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


class ApiError(Exception):
    """An error with its status, code and message, raised anywhere a request is handled."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})


def mib(size: int) -> str:
    """A size in bytes as people read it in a message: ``8 MiB``, ``1.5 MiB``, ``0.2 MiB``."""
    return f"{size / 2**20:.1f}".removesuffix(".0") + " MiB"


def not_found(what: str, ident: str) -> ApiError:
    """The 404 for an id the caller cannot see: unknown, or another agency's (never 403)."""
    return ApiError(404, f"no {what} {ident!r}")


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=list(details)))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def format_loc(loc: Sequence[str | int]) -> str:
    """A pydantic location as a path: ``("body", "problem", "visits", 1, "client")`` is
    ``problem.visits[1].client`` (the request body is the root, so ``body`` is left out)."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def validation_details(errors: Sequence[Any]) -> list[ErrorDetail]:
    details = []
    for item in errors:
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "json_invalid":
            error = item.get("ctx", {}).get("error", "")
            message = f"not JSON: {error}" if error else "not JSON"
        details.append(ErrorDetail(loc=format_loc(item.get("loc", ())), message=message))
    return details


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such resource: {request.url.path}"
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and "json" not in media and any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        # FastAPI reads a JSON body only when it is sent as JSON: anything else (text/plain,
        # a form) reaches validation as a bare string. Name the real problem.
        return error_response(
            415, "unsupported_media_type", f"send the body as application/json, not {media!r}"
        )
    details = validation_details(errors)
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(422, "invalid_json", "the request body is not valid JSON", details)
    first = details[0] if details else ErrorDetail(loc="body", message="invalid")
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    message = f"invalid request: {first.loc}: {first.message}{more}"
    return error_response(422, "validation_error", message, details)


async def _collision(request: Request, exc: Exception) -> JSONResponse:
    # A row this request refers to went while it ran: its agency deleted (the key's cached
    # agency is gone before the cache is emptied), or a rota erased under a new version. The
    # statement's values are not logged (hide_parameters), only that it happened.
    log.warning("%s %s: %s", request.method, request.url.path, type(exc).__name__)
    return error_response(
        409,
        "conflict",
        "something this request refers to was deleted while it ran (the agency, or a rota); "
        "try again",
    )


async def _unexpected(request: Request, _exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "an internal error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Route every kind of error through the one JSON shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _collision)
    app.add_exception_handler(Exception, _unexpected)
