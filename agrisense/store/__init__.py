"""Storage of the lending service: SQLAlchemy 2 models, Alembic migrations, SQLite or PostgreSQL + PostGIS."""

from agrisense.store.database import Database, open_database
from agrisense.store.models import (
    Application,
    ApplicationPlot,
    AuditEntry,
    Base,
    Consent,
    FarmPlot,
    Loan,
    LoanPosting,
    MonitoringWarning,
    OverrideRequest,
    RescoreRow,
    User,
)

__all__ = [
    "Application",
    "ApplicationPlot",
    "AuditEntry",
    "Base",
    "Consent",
    "Database",
    "FarmPlot",
    "Loan",
    "LoanPosting",
    "MonitoringWarning",
    "OverrideRequest",
    "RescoreRow",
    "User",
    "open_database",
]
