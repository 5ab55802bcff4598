"""The ``/api/v1`` routers; each route is a thin call into ``agrisense.lending``."""
