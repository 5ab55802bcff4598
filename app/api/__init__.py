"""The HTTP API (FastAPI): ``create_app`` in ``app.api.main``."""
