"""Login throttling counted in the database (``login_attempts``), so it holds across every uvicorn worker.

Failed logins are counted per account (the phone number tried) and per client address. After
``ACCOUNT_FREE_FAILURES`` failures for an account (``ADDRESS_FREE_FAILURES`` for an address: many farmers may share a
carrier NAT) the key is locked for ``BASE_LOCK`` (1 minute), doubling with every further failure up to ``MAX_LOCK``
(1 hour). While a key is locked every login for it is refused with ``LoginLocked`` (429 + Retry-After), even with the
right password, and the password is not checked. A successful login resets the account's counter (not the
address's, so one valid account cannot reset an address that guesses others'). Counters are forgotten
``FORGET_AFTER`` after the last failure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from agrisense.errors import InvalidInput, RateLimited
from agrisense.lending.actors import normalise_phone
from agrisense.store import Database
from agrisense.store.security import LoginAttempt

ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
BASE_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)
FORGET_AFTER = timedelta(hours=24)


class LoginLocked(RateLimited):
    """Too many failed logins for an account or from an address; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        minutes, seconds = divmod(self.retry_after, 60)
        wait = " ".join(part for part in (f"{minutes} min" * bool(minutes), f"{seconds} s" * bool(seconds)) if part)
        super().__init__(
            f"Too many failed logins. Logging in is locked for {wait}; try again then (the right password is "
            "refused until the lock ends).",
            code="LOGIN_LOCKED",
            params={"seconds": self.retry_after},
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


def login_keys(username: str, address: str | None) -> list[tuple[str, int]]:
    """The throttle keys of a login attempt and how many failures each may have before it locks."""
    try:
        account = normalise_phone(username)
    except InvalidInput:
        account = str(username).strip()[:60]
    return [(f"account:{account}", ACCOUNT_FREE_FAILURES), (f"address:{address or 'unknown'}", ADDRESS_FREE_FAILURES)]


def lock_duration(failures: int, free: int) -> timedelta | None:
    """No lock below ``free`` failures; then 1 minute, doubling per further failure, capped at ``MAX_LOCK``."""
    if failures < free:
        return None
    return min(MAX_LOCK, BASE_LOCK * 2 ** min(failures - free, 20))


def check_not_locked(db: Database, keys: list[tuple[str, int]], *, now: datetime | None = None) -> None:
    """``LoginLocked`` with the longest remaining wait if any key is locked now."""
    now = now or datetime.now(UTC)
    with db.session(readonly=True) as session:
        rows = session.scalars(select(LoginAttempt).where(LoginAttempt.key.in_([k for k, _ in keys]))).all()
    waits = [(_aware(r.locked_until) - now).total_seconds() for r in rows if r.locked_until is not None]
    wait = max(waits, default=0.0)
    if wait > 0:
        raise LoginLocked(int(wait + 0.999))


def record_failure(db: Database, keys: list[tuple[str, int]], *, now: datetime | None = None) -> None:
    """Count a failed login against every key (atomically: UPDATE … failures + 1, else INSERT) and lock the keys
    that have reached their limit."""
    now = now or datetime.now(UTC)
    for key, free in keys:
        for _attempt in range(3):
            try:
                with db.session() as session:
                    row = session.get(LoginAttempt, key, with_for_update=True)
                    if row is not None and now - _aware(row.last_failure_at) > FORGET_AFTER:
                        session.execute(update(LoginAttempt).where(LoginAttempt.key == key).values(failures=0))
                        session.refresh(row)
                    if row is None:
                        row = LoginAttempt(key=key, failures=0, last_failure_at=now)
                        session.add(row)
                        session.flush()
                    session.execute(
                        update(LoginAttempt)
                        .where(LoginAttempt.key == key)
                        .values(failures=LoginAttempt.failures + 1, last_failure_at=now)
                    )
                    session.refresh(row)
                    lock = lock_duration(row.failures, free)
                    if lock is not None:
                        row.locked_until = now + lock
                break
            except IntegrityError:  # another worker inserted the row first: count on it
                continue


def record_success(db: Database, username: str) -> None:
    """A successful login resets the account's failure counter."""
    account_key = login_keys(username, None)[0][0]
    with db.session() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == account_key))
