"""One table from ``agrisense.errors`` class to HTTP status, and the handlers that apply it (titiler style)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(error_body(str(exc), type(exc).__name__), status_code=code, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "The request is not valid."
    return JSONResponse(error_body(f"Please correct the request: {summary}", "InvalidInput", errors=errors), 422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgrisenseError, _agrisense_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
