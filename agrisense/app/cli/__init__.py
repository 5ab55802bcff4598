"""Typer sub-commands of ``agrisense`` that belong to one area each; ``agrisense.app.cli.main`` wires them in."""
