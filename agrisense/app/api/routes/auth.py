"""Accounts: register, log in (OAuth2 password form, throttled in the database), log out, change password, who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep, oauth2
from agrisense.app.api.models import AccountView, Token, error_responses
from agrisense.app.api.schemas import PasswordChangeIn, RegisterIn
from agrisense.errors import AuthenticationFailed, Forbidden
from agrisense.lending import authenticate, issue_token, load_actor, register_user
from agrisense.lending.throttle import check_not_locked, login_keys, record_failure, record_success
from agrisense.lending.tokens import WrongPassword, change_password, current_generation, revoke_token, verify_token
from agrisense.store import User

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(429, 500))


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/register", status_code=201, response_model=AccountView, responses=error_responses(400, 401, 403, 409, 413, 422)
)
def register(
    body: RegisterIn, db: DbDep, request: Request, token: Annotated[str | None, Depends(oauth2)]
) -> dict[str, Any]:
    """Create an account. Anyone may register as a farmer; analyst and admin accounts need an admin's token.

    The password: 10 to 128 characters, not one of the 1,000 most common passwords (also with digits or
    punctuation around it), not a single repeated character, and not the phone number (422 says which)."""
    if body.role != "farmer":
        if not token:
            raise Forbidden("Only an admin can create analyst or admin accounts. Register as a farmer.")
        admin = load_actor(db, verify_token(db, token, request.app.state.signing_key))
        if admin.role != "admin":
            raise Forbidden("Only an admin can create analyst or admin accounts.")
    actor = register_user(db, phone=body.phone, password=body.password, name=body.name, role=body.role)
    return {"id": actor.user_id, "name": actor.name, "role": actor.role}


@router.post("/token", response_model=Token, responses=error_responses(400, 401, 413, 422))
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbDep, settings: SettingsDep, request: Request
) -> Token:
    """Log in with phone number (``username``) and password; returns a bearer token that expires.

    Failed logins are counted per account and per client address in the database: after 5 failures for an account
    (20 from an address) logging in is locked for 1 minute, doubling with each further failure up to 1 hour; while
    locked every login is refused with 429 and ``Retry-After``, even with the right password."""
    if not form.username or not form.password:
        raise AuthenticationFailed("Enter your phone number and password.")
    keys = login_keys(form.username, _address(request))
    check_not_locked(db, keys)
    try:
        actor = authenticate(db, form.username, form.password)
    except AuthenticationFailed:
        record_failure(db, keys)
        raise
    record_success(db, form.username)
    access, lifetime = issue_token(
        actor, settings, key=request.app.state.signing_key, generation=current_generation(db, actor.user_id)
    )
    return Token(access_token=access, expires_in=lifetime, role=actor.role)


@router.post("/logout", status_code=204, response_class=Response, responses=error_responses(401))
def logout(request: Request, db: DbDep, token: Annotated[str | None, Depends(oauth2)]) -> Response:
    """Log out: the presented token is refused (401) from now on, by every worker, until it would have expired."""
    if not token:
        raise AuthenticationFailed("Log in first: this needs your access token (Authorization: Bearer ...).")
    key = request.app.state.signing_key
    verify_token(db, token, key)
    revoke_token(db, token, key)
    return Response(status_code=204)


@router.post("/password", response_model=Token, responses=error_responses(400, 401, 413, 422))
def password(body: PasswordChangeIn, actor: ActorDep, db: DbDep, settings: SettingsDep, request: Request) -> Token:
    """Change your password (the current one and a new one that passes the password rule). Every token you hold,
    this one included, is revoked; the answer is a fresh token. A wrong current password counts as a failed login."""
    with db.session(readonly=True) as session:
        user = session.get(User, actor.user_id)
        phone = user.phone if user else ""
    keys = login_keys(phone, _address(request))
    check_not_locked(db, keys)
    try:
        generation = change_password(db, actor.user_id, body.old_password, body.new_password)
    except WrongPassword:
        record_failure(db, keys)
        raise
    access, lifetime = issue_token(actor, settings, key=request.app.state.signing_key, generation=generation)
    return Token(access_token=access, expires_in=lifetime, role=actor.role)


@router.get("/me", response_model=AccountView, responses=error_responses(401))
def me(actor: ActorDep) -> dict[str, Any]:
    """The signed-in account."""
    return {"id": actor.user_id, "name": actor.name, "role": actor.role}
