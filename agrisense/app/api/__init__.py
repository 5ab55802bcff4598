"""The HTTP API (FastAPI): ``create_app`` in ``agrisense.app.api.main``."""
