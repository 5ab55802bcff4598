"""Tables of the login throttle and token revocation (migration 0004) and the shared request-rate counters (0007):
shared by every worker through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agrisense.store.models import Base


class LoginAttempt(Base):
    """Failed logins per key (``account:<phone>`` or ``address:<ip>``) and the lockout they caused."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedToken(Base):
    """An access token revoked by logout, by its ``jti``, kept until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class TokenGeneration(Base):
    """A user's token generation: tokens carry the generation they were issued in; a password change bumps it, which
    revokes every older token at once (no row = generation 0)."""

    __tablename__ = "token_generations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class RateWindow(Base):
    """Requests counted per client key (``user:<id>`` or ``ip:<address>``) in one fixed one-minute window
    (``window_start``: Unix seconds // 60), for ``rate_limit_store = "database"``."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
