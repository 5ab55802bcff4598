"""One table from ``agrisense.errors`` class to HTTP status and message code, and the handlers that apply it
(titiler style).

Every error body is ``{"code", "params", "message", "detail", "error"}``: ``code`` is a stable message code (the
exception's own ``code`` when the raising code gave one, else its class's code from :data:`ERROR_TABLE`),
``params`` the values its message names, ``message`` the text in the language the request's ``Accept-Language``
prefers (zh-CN, else English; :mod:`agrisense.app.api.messages`), ``detail`` the English sentence the raising code
wrote and ``error`` the error class (plus ``errors``, one ``{field, message}`` per invalid field, on a request
validation error): :class:`agrisense.app.api.models.ErrorBody`, which OpenAPI documents for every error status a
route can return (``models.error_responses``). Framework ``HTTPException`` errors (an unknown path, a wrong method,
the tile route's 400/404) and the size and rate limits' answers get the same body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agrisense.app.api.messages import localised, negotiate
from agrisense.errors import (
    AgrisenseError,
    AuthenticationFailed,
    Conflict,
    Forbidden,
    ImageryUnavailable,
    InvalidGeometry,
    InvalidInput,
    ModelUnavailable,
    NotFound,
    PolicyError,
    RateLimited,
    WeatherUnavailable,
)

ERROR_TABLE: dict[type[AgrisenseError], tuple[int, str]] = {
    InvalidGeometry: (422, "INVALID_GEOMETRY"),
    InvalidInput: (422, "INVALID_INPUT"),
    NotFound: (404, "NOT_FOUND"),
    AuthenticationFailed: (401, "AUTHENTICATION_FAILED"),
    Forbidden: (403, "FORBIDDEN"),
    Conflict: (409, "CONFLICT"),
    RateLimited: (429, "RATE_LIMITED"),
    ImageryUnavailable: (422, "IMAGERY_UNAVAILABLE"),
    ModelUnavailable: (503, "MODEL_UNAVAILABLE"),
    WeatherUnavailable: (503, "WEATHER_UNAVAILABLE"),
    PolicyError: (503, "POLICY_ERROR"),
    AgrisenseError: (400, "ERROR"),
}
"""Most specific class first: the first matching entry wins (``InvalidGeometry`` is an ``InvalidInput``)."""

STATUS_CODES: dict[type[AgrisenseError], int] = {cls: status for cls, (status, _) in ERROR_TABLE.items()}


def _entry(exc: AgrisenseError) -> tuple[int, str]:
    return next(entry for cls, entry in ERROR_TABLE.items() if isinstance(exc, cls))


def error_code(exc: AgrisenseError) -> str:
    """The exception's own message code, else its class's."""
    return getattr(exc, "code", None) or _entry(exc)[1]


def status_code(exc: AgrisenseError) -> int:
    return _entry(exc)[0]


def error_body(
    message: str, error: str, *, code: str, params: dict[str, Any] | None = None, language: str, **extra: Any
) -> dict[str, Any]:
    """An error body: the localised ``code`` + ``params`` and the English ``message`` as ``detail``."""
    return {**localised(code, params or {}, language), "detail": message, "error": error, **extra}


def request_language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def _json(body: dict[str, Any], status: int, language: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**(headers or {}), "Content-Language": language})


async def _agrisense_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgrisenseError)  # registered for AgrisenseError only
    code = status_code(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    retry_after = getattr(exc, "retry_after", None)  # a login lockout (agrisense.lending.throttle.LoginLocked)
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    language = request_language(request)
    body = error_body(
        str(exc), type(exc).__name__, code=error_code(exc), params=getattr(exc, "params", None), language=language
    )
    return _json(body, code, language, headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "The request is not valid."
    language = request_language(request)
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors)) or "request"
    body = error_body(
        f"Please correct the request: {summary}",
        "InvalidInput",
        code="VALIDATION_FAILED",
        params={"fields": fields},
        language=language,
        errors=errors,
    )
    return _json(body, 422, language)


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
HTTP_ERROR_CODES: dict[int, str] = {
    400: "INVALID_INPUT",
    401: "AUTHENTICATION_FAILED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    422: "INVALID_INPUT",
    429: "RATE_LIMITED",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if exc.status_code in (204, 304) or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=headers)
    name = HTTP_ERROR_NAMES.get(exc.status_code) or ("InternalError" if exc.status_code >= 500 else "HTTPError")
    language = request_language(request)
    code = HTTP_ERROR_CODES.get(exc.status_code, "HTTP_ERROR")
    return _json(error_body(str(exc.detail), name, code=code, language=language), exc.status_code, language, headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgrisenseError, _agrisense_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
