"""Deterministic, seeded generator of the synthetic sample county (see docs/sample-county.md).

Entry point: ``agrisense.sample.build.build_region``; CLI: ``agrisense sample build``.
"""
