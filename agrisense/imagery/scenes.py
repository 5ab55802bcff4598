"""Provenance of every scene a composite was (or was not) built from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

SCENE_RECORDS_ATTR = "scene_records"
"""Dataset attribute holding the JSON list of :class:`SceneRecord` (written by ``load_scenes``)."""


@dataclass(frozen=True)
class SceneRecord:
    """One STAC item: its metadata, the reflectance rule applied, and whether it went into the composites."""

    id: str
    datetime: datetime
    processing_baseline: str | None
    boa_offset_applied: bool | None
    scale: float
    offset: float
    clear_fraction: float
    used: bool
    failed: bool
    reason: str

    def with_outcome(self, **changes: Any) -> SceneRecord:
        """Copy with some fields changed (``used``, ``failed``, ``reason``, ``clear_fraction``)."""
        return replace(self, **changes)


def records_to_json(records: list[SceneRecord]) -> str:
    """JSON text of the records (datetimes as ISO strings)."""
    return json.dumps([{**asdict(r), "datetime": r.datetime.isoformat()} for r in records])


def records_from_json(text: str) -> list[SceneRecord]:
    """Inverse of :func:`records_to_json`."""
    names = {f.name for f in fields(SceneRecord)}
    out = []
    for row in json.loads(text):
        row = {k: v for k, v in row.items() if k in names}
        row["datetime"] = datetime.fromisoformat(row["datetime"])
        out.append(SceneRecord(**row))
    return out
