"""Who is acting: accounts, password hashing (argon2) and the role checks every lending function applies."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal, cast, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agrisense.errors import AuthenticationFailed, Conflict, Forbidden, InvalidInput
from agrisense.store import Database, User

Role = Literal["farmer", "analyst", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
STAFF: frozenset[str] = frozenset({"analyst", "admin"})
MIN_PASSWORD = 10
MAX_PASSWORD = 128
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("agrisense-timing-equaliser")


@dataclass(frozen=True)
class Actor:
    """The authenticated user a lending call acts for."""

    user_id: int
    role: Role
    name: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, role=cast(Role, user.role), name=user.name)


def require_role(actor: Actor, roles: Iterable[str], what: str) -> None:
    """Raise ``Forbidden`` unless the actor has one of ``roles``."""
    allowed = tuple(roles)
    if actor.role not in allowed:
        raise Forbidden(
            f"Only {' or '.join(r + 's' for r in allowed)} can {what}; you are signed in as a {actor.role}."
        )


def normalise_phone(phone: str) -> str:
    """Digits (with an optional leading +), spaces and dashes removed; ``InvalidInput`` if it is not a number."""
    cleaned = re.sub(r"[\s\-()]", "", str(phone))
    if not _PHONE.match(cleaned):
        raise InvalidInput(
            "Enter your mobile number as digits, e.g. 13800138000 or +8613800138000.", code="PHONE_INVALID"
        )
    return cleaned


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of the 1,000 most common passwords (``common_passwords.txt``, package data), lower case."""
    text = resources.files("agrisense.lending").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _is_common(password: str) -> bool:
    """A listed password, also with digits or punctuation around it (``Password2026!``, ``123qwerty``)."""
    lowered = password.lower()
    listed = common_passwords()
    bare = lowered.strip("!@#$%^&*()-_=+.,?~ ")
    core = lowered.strip("0123456789!@#$%^&*()-_=+.,?~ ")
    return lowered in listed or bare in listed or (len(core) >= 4 and core in listed)


def check_password(password: str, *, phone: str | None = None) -> str:
    """The password rule: 10 to 128 characters, not one of the common passwords (even with
    digits added around it), not a single repeated character and not the phone number; ``InvalidInput`` says why."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"Choose a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters; a few words you can remember "
            "(e.g. 'green-maize-river') work well.",
            code="PASSWORD_LENGTH",
            params={"min": MIN_PASSWORD, "max": MAX_PASSWORD},
        )
    if len(set(password)) == 1 or _is_common(password):
        raise InvalidInput(
            "This password is too common and easy to guess. Choose another one, e.g. a few words you can remember.",
            code="PASSWORD_COMMON",
        )
    if phone is not None:
        digits = re.sub(r"\D", "", password)
        try:
            number = normalise_phone(phone).lstrip("+")
        except InvalidInput:
            number = re.sub(r"\D", "", phone)
        if number and (password.strip().lstrip("+") == number or (digits == number and len(digits) >= 6)):
            raise InvalidInput(
                "Your password must not be your phone number. Choose another one.", code="PASSWORD_IS_PHONE"
            )
    return password


def hash_password(password: str, *, phone: str | None = None) -> str:
    return _hasher.hash(check_password(password, phone=phone))


def add_user(session: Session, *, phone: str, name: str, role: str, password_hash: str) -> User:
    """Insert a user row (the caller has validated the password); ``Conflict`` for a taken phone number."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}.")
    name = str(name).strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("Enter your name (1 to 100 characters).", code="NAME_INVALID")
    phone = normalise_phone(phone)
    if session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise Conflict("This phone number is already registered. Log in instead.", code="PHONE_TAKEN")
    user = User(phone=phone, name=name, role=role, password_hash=password_hash)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("This phone number is already registered. Log in instead.", code="PHONE_TAKEN") from exc
    return user


def register_user(db: Database, *, phone: str, password: str, name: str, role: str = "farmer") -> Actor:
    """Create an account (argon2 password hash) and return it as an ``Actor``."""
    password_hash = hash_password(password, phone=phone)
    with db.session() as session:
        user = add_user(session, phone=phone, name=name, role=role, password_hash=password_hash)
        return actor_of(user)


def authenticate(db: Database, phone: str, password: str) -> Actor:
    """The actor for a phone number and password, or ``AuthenticationFailed`` (same message for either mistake)."""
    failed = AuthenticationFailed("Wrong phone number or password. Check both and try again.", code="LOGIN_FAILED")
    try:
        phone = normalise_phone(phone)
    except InvalidInput:
        phone = ""
    with db.session(readonly=True) as session:
        user = session.scalar(select(User).where(User.phone == phone)) if phone else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, str(password))
    except (VerificationError, InvalidHashError) as exc:
        raise failed from exc
    if user is None:
        raise failed
    return actor_of(user)


def load_actor(db: Database, user_id: int) -> Actor:
    """The current actor for a user id (role and name from the database); ``AuthenticationFailed`` if gone."""
    with db.session(readonly=True) as session:
        user = session.get(User, user_id)
        if user is None:
            raise AuthenticationFailed(
                "Your account no longer exists or your session is invalid. Log in again.", code="ACCOUNT_GONE"
            )
        return actor_of(user)
