"""One table from error class to exit status, and the decorator every command uses to apply it.

The API maps the same classes to HTTP statuses. Kept apart from ``agrisense.app.cli.main`` so that command modules can
import it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

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
    WeatherUnavailable,
)

EXIT_CODES: dict[type[AgrisenseError], int] = {
    InvalidInput: 2,
    NotFound: 3,
    ImageryUnavailable: 4,
    ModelUnavailable: 5,
    PolicyError: 6,
    WeatherUnavailable: 7,
    AuthenticationFailed: 8,
    Forbidden: 9,
    Conflict: 10,
    AgrisenseError: 1,
}
"""Most specific class first: the first matching entry wins."""

F = TypeVar("F", bound=Callable[..., Any])

OPTIONAL_MODULES: dict[str, str] = {
    **dict.fromkeys(
        ["fastapi", "starlette", "uvicorn", "multipart", "sqlalchemy", "alembic", "geoalchemy2", "psycopg", "argon2"],
        "service",
    ),
    "jwt": "service",
    "streamlit": "dashboard",
}
"""Top-level module -> the extra of ``pyproject.toml`` that installs it (``pip install "agrisense[service]"``)."""


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The message for an optional dependency that is not installed, naming the extra to install; else None."""
    module = (exc.name or "").partition(".")[0]
    extra = OPTIONAL_MODULES.get(module)
    if extra is None:
        return None
    return f'this command needs the optional dependency {module!r}: pip install "agrisense[{extra}]"'


def exit_code(exc: AgrisenseError) -> int:
    """The exit status of an ``AgrisenseError``."""
    return next(code for cls, code in EXIT_CODES.items() if isinstance(exc, cls))


def friendly(fn: F) -> F:
    """Show an ``AgrisenseError`` as a one-line message on stderr and exit with its code, never a traceback; a missing
    optional dependency names the extra that installs it (exit status 1)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AgrisenseError as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(exit_code(exc)) from exc
        except ModuleNotFoundError as exc:
            message = missing_extra(exc)
            if message is None:
                raise
            Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]
