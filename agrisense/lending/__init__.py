"""The lending service: accounts, plots, consent, applications, analyst review, monitoring, privacy.

Every function takes the acting ``Actor`` (where a person acts) and enforces object-level authorization itself: a
farmer sees only their own objects (``NotFound`` for anyone else's), staff see all, and a role that may not act gets
``Forbidden``. Views are plain JSON-ready dicts, so the API, dashboard and CLI show the same objects.
"""

from agrisense.lending.actors import Actor, Role, authenticate, load_actor, register_user
from agrisense.lending.applications import (
    accept_offer,
    audit_log,
    decide_application,
    get_application,
    list_applications,
    list_review_queue,
    submit_application,
)
from agrisense.lending.monitoring import active_loans, list_warnings, portfolio, record_rescore, record_warnings
from agrisense.lending.plots import create_plot, delete_plot, get_plot, list_plots, update_plot
from agrisense.lending.privacy import delete_farmer_data, export_farmer_data, withdraw_consent
from agrisense.lending.seed import seed_sample_county
from agrisense.lending.tokens import issue_token, signing_key, user_id_from_token

__all__ = [
    "Actor",
    "Role",
    "accept_offer",
    "active_loans",
    "audit_log",
    "authenticate",
    "create_plot",
    "decide_application",
    "delete_farmer_data",
    "delete_plot",
    "export_farmer_data",
    "get_application",
    "get_plot",
    "issue_token",
    "list_applications",
    "list_plots",
    "list_review_queue",
    "list_warnings",
    "load_actor",
    "portfolio",
    "record_rescore",
    "record_warnings",
    "register_user",
    "seed_sample_county",
    "signing_key",
    "submit_application",
    "update_plot",
    "user_id_from_token",
    "withdraw_consent",
]
