"""Signed access tokens (PyJWT, HS256) that expire; the key comes from settings or ``state_dir/secret.key``.

Each token carries a random ``jti`` and the user's token generation (``gen``). ``verify_token`` refuses a token whose
``jti`` was revoked (logout) or whose generation is older than the user's (a password change bumps it), both kept in
the database so they hold across workers.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agrisense.config import Settings
from agrisense.errors import AuthenticationFailed, InvalidInput
from agrisense.lending.actors import Actor
from agrisense.store import Database
from agrisense.store.security import RevokedToken, TokenGeneration

ALGORITHM = "HS256"


class WrongPassword(InvalidInput):
    """The current password given for a password change is wrong (422: the session itself is fine)."""


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


def issue_token(actor: Actor, settings: Settings, *, key: str | None = None, generation: int = 0) -> tuple[str, int]:
    """A bearer token for the actor (in its current token ``generation``) and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = datetime.now(UTC)
    claims = {
        "sub": str(actor.user_id),
        "role": actor.role,
        "iss": ISSUER,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(16),
        "gen": generation,
    }
    return jwt.encode(claims, key or signing_key(settings), algorithm=ALGORITHM), int(lifetime.total_seconds())


def _claims(token: str, key: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
        int(claims["sub"])
        return claims
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("Your session has expired. Log in again.", code="SESSION_EXPIRED") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise AuthenticationFailed("Your session is not valid. Log in again.", code="SESSION_INVALID") from exc


def user_id_from_token(token: str, key: str) -> int:
    """The user id a validly signed, unexpired token was issued to, else ``AuthenticationFailed``.

    Signature and expiry only: whether the token was revoked needs the database (``verify_token``)."""
    return int(_claims(token, key)["sub"])


def generation_of(session: Session, user_id: int) -> int:
    """The user's current token generation (0 until their first password change)."""
    return session.scalar(select(TokenGeneration.generation).where(TokenGeneration.user_id == user_id)) or 0


def current_generation(db: Database, user_id: int) -> int:
    with db.session(readonly=True) as session:
        return generation_of(session, user_id)


def bump_generation(session: Session, user_id: int) -> int:
    """Revoke every token the user holds (they carry an older generation); returns the new generation."""
    row = session.get(TokenGeneration, user_id)
    if row is None:
        row = TokenGeneration(user_id=user_id, generation=0)
        session.add(row)
    row.generation = (row.generation or 0) + 1
    session.flush()
    return row.generation


def verify_token(db: Database, token: str, key: str) -> int:
    """The user id of a valid token that was neither logged out nor issued before a password change."""
    claims = _claims(token, key)
    user_id = int(claims["sub"])
    jti, generation = claims.get("jti"), claims.get("gen", 0)
    if not isinstance(jti, str) or not isinstance(generation, int):
        raise AuthenticationFailed("Your session is not valid. Log in again.", code="SESSION_INVALID")
    with db.session(readonly=True) as session:
        revoked = session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti)) is not None
        current = generation_of(session, user_id)
    if revoked:
        raise AuthenticationFailed("You have logged out of this session. Log in again.", code="LOGGED_OUT")
    if generation != current:
        raise AuthenticationFailed(
            "Your password was changed, which ended this session. Log in again.", code="PASSWORD_CHANGED"
        )
    return user_id


def revoke_token(db: Database, token: str, key: str) -> None:
    """Log a token out: its ``jti`` is refused from now until it expires (expired entries are pruned here)."""
    claims = _claims(token, key)
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise AuthenticationFailed("Your session is not valid. Log in again.", code="SESSION_INVALID")
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
        if session.get(RevokedToken, jti) is None:
            session.add(RevokedToken(jti=jti, expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC)))
            try:
                session.flush()
            except IntegrityError:  # another worker revoked it at the same moment
                session.rollback()


def change_password(db: Database, user_id: int, old_password: str, new_password: str) -> int:
    """Replace the user's password (the old one must match; the new one must pass the password rule) and revoke all
    their tokens; returns the new token generation. ``InvalidInput`` for a wrong old or a weak new password."""
    from agrisense.lending.actors import _hasher, hash_password
    from agrisense.store import User

    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise AuthenticationFailed(
                "Your account no longer exists or your session is invalid. Log in again.", code="ACCOUNT_GONE"
            )
        try:
            _hasher.verify(user.password_hash, str(old_password))
        except Exception as exc:  # argon2's VerificationError / InvalidHashError
            raise WrongPassword("Your current password is not right. Enter it again.", code="PASSWORD_WRONG") from exc
        if old_password == new_password:
            raise InvalidInput("Choose a new password that differs from the current one.", code="PASSWORD_UNCHANGED")
        user.password_hash = hash_password(new_password, phone=user.phone)
        return bump_generation(session, user_id)
