"""One logging set-up for every agrisense process (CLI commands, the API service, batch jobs).

``configure_logging()`` puts one handler on the root logger that writes to stderr (so a command's own output on
stdout stays clean: ``agrisense score plots.geojson --json | jq``), one line per record::

    2026-12-01T21:00:00.123Z INFO agrisense.pipelines.rescore_run run=2026-season-1a2b tile=t42 plots=41 tile 3/12 done

``key=value`` pairs come from ``extra=`` (``log.info("tile done", extra={"tile": tile_id, "plots": 41})``); values
with spaces, quotes or ``=`` are JSON-quoted. Inside an API request every line also carries ``request_id=…`` (see
``agrisense.app.api.logging_mw``). ``json=True`` (or ``AGRISENSE_LOG_FORMAT=json``) writes one JSON object per line.

Nothing is configured at import time; the library itself only calls ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import json as _json
import logging
import os
import sys
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

__all__ = [
    "LEVELS",
    "NOISY_LOGGERS",
    "JsonFormatter",
    "KeyValueFormatter",
    "configure_logging",
    "configured",
    "request_id_var",
]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_ENV = "AGRISENSE_LOG_LEVEL"
FORMAT_ENV = "AGRISENSE_LOG_FORMAT"

NOISY_LOGGERS = (
    "distributed",
    "numba",
    "matplotlib",
    "rasterio",
    "urllib3",
    "fiona",
    "PIL",
    "botocore",
    "httpx",
    "httpcore",
    "asyncio",
    "multipart",
    "python_multipart",
    "alembic.runtime.plugins",
)
"""Third-party loggers held at WARNING unless the level is DEBUG."""

request_id_var: ContextVar[str | None] = ContextVar("agrisense_request_id", default=None)
"""The id of the API request being handled (set by the request-log middleware), added to every line logged in it."""

_STANDARD_ATTRS = frozenset(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured duplicate of the message
}
_MARK = "_agrisense_handler"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record (in the order given), plus the current request id."""
    fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}
    request_id = request_id_var.get()
    if request_id is not None and "request_id" not in fields:
        fields["request_id"] = request_id
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    if not text or any(c in text for c in ' "=\n\r\t'):
        return _json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger> key=value … <message>``; a traceback follows on the next lines."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        pairs = " ".join(f"{k}={_value(v)}" for k, v in _fields(record).items())
        line = " ".join(p for p in (_timestamp(record), record.levelname, record.name, pairs, message) if p)
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, the fields, ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        return _json.dumps(doc, ensure_ascii=False, default=str)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners and progress bars swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            stream = sys.stderr
            stream.write(text + "\n")
            stream.flush()
        except RecursionError:  # pragma: no cover - as logging.StreamHandler
            raise
        except Exception:  # pragma: no cover
            self.handleError(record)


def parse_level(level: str | int | None) -> int:
    """A level name (any case) or number; ``None``: ``AGRISENSE_LOG_LEVEL``, else INFO."""
    if level is None or level == "":
        level = os.environ.get(LEVEL_ENV) or "INFO"
    if isinstance(level, int):
        return level
    name = level.strip().upper()
    if name == "WARN":
        name = "WARNING"
    if name.isdigit():
        return int(name)
    if name not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    return int(logging.getLevelName(name))


def configured() -> bool:
    """Whether ``configure_logging`` has set up this process already (so a command keeps the level it was given)."""
    return any(getattr(h, _MARK, False) for h in logging.getLogger().handlers)


def configure_logging(
    level: str | int | None = None, *, json: bool | None = None, quiet: Iterable[str] = NOISY_LOGGERS
) -> logging.Handler:
    """Configure this process's logging: one stderr handler on the root logger at ``level``.

    ``level``: a name (DEBUG, INFO, WARNING, ERROR, CRITICAL, any case) or number; default ``AGRISENSE_LOG_LEVEL``,
    else INFO. ``json``: JSON lines instead of ``key=value`` text; default ``AGRISENSE_LOG_FORMAT=json``.
    Idempotent: a second call replaces the handler of the first (other handlers, e.g. pytest's, are left alone).
    The ``quiet`` third-party loggers are held at WARNING unless ``level`` is DEBUG. Returns the handler.
    """
    numeric = parse_level(level)
    if json is None:
        json = os.environ.get(FORMAT_ENV, "").strip().lower() == "json"
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = _StderrHandler()
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if json else KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(numeric)
    noisy_level = logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING
    for name in quiet:
        logging.getLogger(name).setLevel(noisy_level)
    return handler
