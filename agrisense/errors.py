"""The agrisense exception family.

Every message says what went wrong *and* what the user can do about it. Front ends map these
classes to exit codes / HTTP statuses in one table (see ``agrisense.app.cli.main`` and ``agrisense/app/api``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AgrisenseError(Exception):
    """Base class: an error whose message is safe and useful to show to a user.

    ``code`` (optional) is a stable message code front ends localise with ``params`` (see
    ``agrisense.app.api.messages``); without one the API uses its error class's code. The message itself stays the
    English sentence for logs, the CLI and developers."""

    def __init__(self, message: str = "", *, code: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, Any] = dict(params or {})


class InvalidInput(AgrisenseError):
    """Input data (a plot, a table, a parameter) is malformed; the message names the field and the fix."""


class InvalidGeometry(InvalidInput):
    """A plot polygon cannot be used (self-intersecting, unclosed, swapped lat/lon, out of range, too large)."""


class NotFound(AgrisenseError):
    """A file, catalog, model or record does not exist where it was expected."""


class ImageryUnavailable(AgrisenseError):
    """No usable imagery for a place and time (no scenes, all cloudy, reads failed)."""


class ModelUnavailable(AgrisenseError):
    """A trained model is missing or incompatible; the message says how to (re)train it."""


class PolicyError(AgrisenseError):
    """A credit policy file is invalid; the message names the key."""


class WeatherUnavailable(AgrisenseError):
    """No usable daily weather for a place and period (service down, refused, incomplete or empty series)."""


class AuthenticationFailed(AgrisenseError):
    """Wrong phone number or password, or a missing / expired token; the message says to log in again."""


class Forbidden(AgrisenseError):
    """The actor's role may not do this (e.g. a farmer deciding an application)."""


class Conflict(AgrisenseError):
    """The request clashes with the current state (a duplicate submission, an offer already accepted)."""


class RateLimited(AgrisenseError):
    """Too many requests from one client in a short time; the message says when to try again."""
