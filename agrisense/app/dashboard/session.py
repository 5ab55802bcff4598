"""Log-in and page set-up shared by every page: only analysts and admins get past ``require_analyst``."""

from __future__ import annotations

from typing import Any

import streamlit as st

from agrisense.app.dashboard.config import AppConfig, load_config
from agrisense.app.dashboard.data import database
from agrisense.errors import AgrisenseError

ANALYST_ROLES = ("analyst", "admin")
ACTOR_KEY = "actor"


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
    st.rerun()


def require_analyst(title: str) -> tuple[Any, AppConfig]:
    """Set up the page; show the log-in form and stop the script until an analyst or admin is logged in."""
    st.set_page_config(page_title=f"agrisense · {title}", layout="wide")
    config = load_config()
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        st.title(title)
        _login_form(config)
        st.stop()
    with st.sidebar:
        st.markdown(f"**{actor.name}** · {actor.role}")
        if st.button("Log out", key="logout"):
            del st.session_state[ACTOR_KEY]
            st.rerun()
    st.title(title)
    return actor, config


def db(config: AppConfig) -> Any:
    """The lending database of this configuration (one handle per server)."""
    return database(config.database_url, config.settings)
