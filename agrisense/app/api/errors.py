"""One table from ``agrisense.errors`` class to HTTP status, and the handlers that apply it (titiler style).

Every error body is ``{"detail": message, "error": class}`` (plus ``errors``, one ``{field, message}`` per invalid
field, on a request validation error): :class:`agrisense.app.api.models.ErrorBody`, which OpenAPI documents for every
error status a route can return (``models.error_responses``). Framework ``HTTPException`` errors (an unknown path, a
wrong method, the tile route's 400/404) get the same body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agrisense.errors import (
    AgrisenseError,
    AuthenticationFailed,
    Conflict,
    Forbidden,
    ImageryUnavailable,
    InvalidInput,
    ModelUnavailable,
    NotFound,
    PolicyError,
    RateLimited,
    WeatherUnavailable,
)

STATUS_CODES: dict[type[AgrisenseError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    AuthenticationFailed: 401,
    Forbidden: 403,
    Conflict: 409,
    RateLimited: 429,
    ImageryUnavailable: 422,
    ModelUnavailable: 503,
    WeatherUnavailable: 503,
    PolicyError: 503,
    AgrisenseError: 400,
}
"""Most specific class first: the first matching entry wins (``InvalidGeometry`` is an ``InvalidInput``)."""


def status_code(exc: AgrisenseError) -> int:
    return next(code for cls, code in STATUS_CODES.items() if isinstance(exc, cls))


def error_body(message: str, error: str, **extra: Any) -> dict[str, Any]:
    return {"detail": message, "error": error, **extra}


async def _agrisense_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgrisenseError)  # registered for AgrisenseError only
    code = status_code(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    retry_after = getattr(exc, "retry_after", None)  # a login lockout (agrisense.lending.throttle.LoginLocked)
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(error_body(str(exc), type(exc).__name__), status_code=code, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "The request is not valid."
    return JSONResponse(error_body(f"Please correct the request: {summary}", "InvalidInput", errors=errors), 422)


HTTP_ERROR_NAMES: dict[int, str] = {
    400: "InvalidInput",
    401: "AuthenticationFailed",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestTooLarge",
    422: "InvalidInput",
    429: "RateLimited",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if exc.status_code in (204, 304) or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=headers)
    name = HTTP_ERROR_NAMES.get(exc.status_code) or ("InternalError" if exc.status_code >= 500 else "HTTPError")
    return JSONResponse(error_body(str(exc.detail), name), status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgrisenseError, _agrisense_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
