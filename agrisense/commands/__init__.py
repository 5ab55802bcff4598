"""Typer sub-commands of ``agrisense`` that belong to one area each; ``agrisense.cli`` wires them in."""
