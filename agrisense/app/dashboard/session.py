"""Log-in and page set-up shared by every page: only analysts and admins get past ``require_analyst``."""

from __future__ import annotations

import contextlib
from typing import Any

import streamlit as st

from agrisense.app.dashboard.config import AppConfig, load_config
from agrisense.app.dashboard.data import database, warm_up
from agrisense.errors import AgrisenseError

ANALYST_ROLES = ("analyst", "admin")
ACTOR_KEY = "actor"
TOKEN_KEY = "session_token"
TOKEN_PARAM = "session"  # the API's short-lived access token in the address bar: a reload keeps the log-in


def _issue(config: AppConfig, actor: Any) -> str:
    """The API's normal access token for the actor (signed, expiring, revoked at logout)."""
    from agrisense.lending import issue_token, signing_key
    from agrisense.lending.tokens import current_generation

    database_ = database(config.database_url, config.settings)
    token, _ = issue_token(
        actor,
        config.settings,
        key=signing_key(config.settings),
        generation=current_generation(database_, actor.user_id),
    )
    return token


def _restore(config: AppConfig) -> Any:
    """The analyst of a valid session token in the query params (a browser reload), else None (and drop it)."""
    from agrisense.lending import load_actor, signing_key
    from agrisense.lending.tokens import verify_token

    token = st.query_params.get(TOKEN_PARAM)
    if not token:
        return None
    database_ = database(config.database_url, config.settings)
    try:
        actor = load_actor(database_, verify_token(database_, token, signing_key(config.settings)))
    except AgrisenseError as exc:
        del st.query_params[TOKEN_PARAM]
        st.warning(str(exc))
        return None
    if actor.role not in ANALYST_ROLES:
        del st.query_params[TOKEN_PARAM]
        return None
    st.session_state[ACTOR_KEY] = actor
    st.session_state[TOKEN_KEY] = token
    return actor


def _logout(config: AppConfig) -> None:
    """Revoke the session token (a copied address no longer logs in) and forget the analyst."""
    from agrisense.lending import signing_key
    from agrisense.lending.tokens import revoke_token

    token = st.session_state.pop(TOKEN_KEY, None)
    if token:
        with contextlib.suppress(AgrisenseError):  # already expired or invalid: nothing to revoke
            revoke_token(database(config.database_url, config.settings), token, signing_key(config.settings))
    if TOKEN_PARAM in st.query_params:
        del st.query_params[TOKEN_PARAM]
    st.session_state.pop(ACTOR_KEY, None)


def _login_form(config: AppConfig) -> None:
    from agrisense.lending import authenticate

    st.subheader("Analyst log-in")
    with st.form("login"):
        phone = st.text_input("Phone number", key="login_phone")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if not submitted:
        return
    if not phone.strip() or not password:
        st.error("Enter your phone number and password.")
        return
    try:
        actor = authenticate(database(config.database_url, config.settings), phone.strip(), password)
    except AgrisenseError as exc:
        st.error(str(exc))
        return
    if actor.role not in ANALYST_ROLES:
        st.error("This dashboard is for credit analysts. Farmers use the farmer app to see their offers.")
        return
    st.session_state[ACTOR_KEY] = actor
    token = _issue(config, actor)
    st.session_state[TOKEN_KEY] = token
    st.query_params[TOKEN_PARAM] = token
    st.rerun()


def require_analyst(title: str) -> tuple[Any, AppConfig]:
    """Set up the page; show the log-in form and stop the script until an analyst or admin is logged in."""
    st.set_page_config(page_title=f"agrisense · {title}", layout="wide")
    config = load_config()
    warm_up(f"{config.settings.models_dir}|{config.settings.device}", config.settings)
    actor = st.session_state.get(ACTOR_KEY) or _restore(config)
    if actor is None:
        st.title(title)
        _login_form(config)
        st.stop()
    token = st.session_state.get(TOKEN_KEY)
    if token and st.query_params.get(TOKEN_PARAM) != token:
        st.query_params[TOKEN_PARAM] = token  # switching pages drops the query params; put the token back
    with st.sidebar:
        st.markdown(f"**{actor.name}** · {actor.role}")
        if st.button("Log out", key="logout"):
            _logout(config)
            st.rerun()
    st.title(title)
    return actor, config


def db(config: AppConfig) -> Any:
    """The lending database of this configuration (one handle per server)."""
    return database(config.database_url, config.settings)
