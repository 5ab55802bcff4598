"""Offline STAC validation: pystac's bundled core schemas plus the extension schemas vendored in ``stac_schemas/``.

``stac_schemas/<extension>/<version>/schema.json`` are the upstream files, unchanged (see its README.md). A schema
that is neither bundled nor vendored fails the test instead of being fetched from the network.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pystac
from pystac.validation.stac_validator import JsonSchemaSTACValidator

SCHEMAS = Path(__file__).parent / "stac_schemas"
EXTENSION_URL = "https://stac-extensions.github.io/{name}/{version}/schema.json"


class OfflineValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator that never reads a schema from the network."""

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            raise AssertionError(f"no offline copy of the schema {schema_uri}; vendor it in {SCHEMAS}")
        return self.schema_cache[schema_uri]


@cache
def vendored() -> dict[str, dict[str, Any]]:
    """Extension schemas by the URL items declare (and by their own ``$id``, which internal refs resolve
    against; processing v1.1.0's ``$id`` says v1.0.0 upstream)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMAS.glob("*/*/schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        out[EXTENSION_URL.format(name=path.parent.parent.name, version=path.parent.name)] = schema
        out.setdefault(str(schema["$id"]).rstrip("#"), schema)
    return out


def validate_offline(stac_dict: dict[str, Any]) -> list[str]:
    """Validate an item, collection or catalog against core and every extension it declares; the schema URIs
    used. Raises ``pystac.STACValidationError`` when invalid."""
    validator = OfflineValidator()
    validator.schema_cache.update(vendored())
    missing = [e for e in stac_dict.get("stac_extensions", []) if e not in validator.schema_cache]
    assert not missing, f"extension schemas not vendored: {missing}"
    return list(pystac.validation.validate_dict(stac_dict, validator=validator))
