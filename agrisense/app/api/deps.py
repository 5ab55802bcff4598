"""Dependencies: the app's settings and database, and the signed-in actor from the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from agrisense.config import Settings
from agrisense.errors import AuthenticationFailed
from agrisense.lending import Actor, load_actor
from agrisense.lending.tokens import verify_token
from agrisense.store import Database

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def current_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    if not token:
        raise AuthenticationFailed(
            "Log in first: this needs your access token (Authorization: Bearer ...).", code="LOGIN_REQUIRED"
        )
    user_id = verify_token(request.app.state.db, token, request.app.state.signing_key)  # refuses revoked tokens
    return load_actor(request.app.state.db, user_id)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
ActorDep = Annotated[Actor, Depends(current_actor)]
