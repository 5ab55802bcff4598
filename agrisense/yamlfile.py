"""Reading a validated YAML file (a policy, a market): one way to read it and one way to name what is wrong."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from agrisense.errors import AgrisenseError, NotFound


def read_yaml(path: Path, *, what: str, hint: str, error: type[AgrisenseError]) -> object:
    """The parsed YAML of ``path``; NotFound (with ``hint``) when it is missing, ``error`` when it is not YAML."""
    if not path.is_file():
        raise NotFound(f"{what} {path} does not exist; {hint}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc}); fix the syntax") from exc


def describe(exc: ValidationError) -> str:
    """Every validation error as ``key.path: message``, joined by semicolons."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{key}: {err['msg']}")
    return "; ".join(parts)
