"""Accounts: register, log in (OAuth2 password form), who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from agrisense.app.api.deps import ActorDep, DbDep, SettingsDep, oauth2
from agrisense.app.api.models import AccountView, Token, error_responses
from agrisense.app.api.schemas import RegisterIn
from agrisense.errors import AuthenticationFailed, Forbidden
from agrisense.lending import authenticate, issue_token, load_actor, register_user, user_id_from_token

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(429, 500))


@router.post(
    "/register", status_code=201, response_model=AccountView, responses=error_responses(400, 401, 403, 409, 413, 422)
)
def register(
    body: RegisterIn, db: DbDep, request: Request, token: Annotated[str | None, Depends(oauth2)]
) -> dict[str, Any]:
    """Create an account. Anyone may register as a farmer; analyst and admin accounts need an admin's token."""
    if body.role != "farmer":
        if not token:
            raise Forbidden("Only an admin can create analyst or admin accounts. Register as a farmer.")
        admin = load_actor(db, user_id_from_token(token, request.app.state.signing_key))
        if admin.role != "admin":
            raise Forbidden("Only an admin can create analyst or admin accounts.")
    actor = register_user(db, phone=body.phone, password=body.password, name=body.name, role=body.role)
    return {"id": actor.user_id, "name": actor.name, "role": actor.role}


@router.post("/token", response_model=Token, responses=error_responses(400, 401, 413, 422))
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbDep, settings: SettingsDep, request: Request
) -> Token:
    """Log in with phone number (``username``) and password; returns a bearer token that expires."""
    if not form.username or not form.password:
        raise AuthenticationFailed("Enter your phone number and password.")
    actor = authenticate(db, form.username, form.password)
    access, lifetime = issue_token(actor, settings, key=request.app.state.signing_key)
    return Token(access_token=access, expires_in=lifetime, role=actor.role)


@router.get("/me", response_model=AccountView, responses=error_responses(401))
def me(actor: ActorDep) -> dict[str, Any]:
    """The signed-in account."""
    return {"id": actor.user_id, "name": actor.name, "role": actor.role}
