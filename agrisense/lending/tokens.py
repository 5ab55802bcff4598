"""Signed access tokens (PyJWT, HS256) that expire; the key comes from settings or ``state_dir/secret.key``."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from agrisense.config import Settings
from agrisense.errors import AuthenticationFailed
from agrisense.lending.actors import Actor

ALGORITHM = "HS256"
ISSUER = "agrisense"


def signing_key(settings: Settings) -> str:
    """``settings.auth_secret``, else a random key generated once into ``state_dir/secret.key`` (mode 600)."""
    if settings.auth_secret is not None:
        return settings.auth_secret.get_secret_value()
    path: Path = settings.state_dir / "secret.key"
    if not path.exists():
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read its key
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    os.chmod(path, 0o600)
    return path.read_text().strip()


def issue_token(actor: Actor, settings: Settings, *, key: str | None = None) -> tuple[str, int]:
    """A bearer token for the actor and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = datetime.now(UTC)
    claims = {"sub": str(actor.user_id), "role": actor.role, "iss": ISSUER, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, key or signing_key(settings), algorithm=ALGORITHM), int(lifetime.total_seconds())


def user_id_from_token(token: str, key: str) -> int:
    """The user id a valid, unexpired token was issued to, else ``AuthenticationFailed``."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub"]})
        return int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("Your session has expired. Log in again.") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise AuthenticationFailed("Your session is not valid. Log in again.") from exc
