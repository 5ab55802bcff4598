"""Sentinel-2 L2A digital numbers to surface reflectance: the scale/offset rule of docs/architecture.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agrisense.errors import InvalidInput

DEFAULT_SCALE = 0.0001
DEFAULT_OFFSET = -0.1
OFFSET_BASELINE = (4, 0)
"""Processing baseline from which L2A pixels carry the +1000 DN radiometric offset (ESA, 25 Jan 2022)."""

_BASELINE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\s*$")


def parse_baseline(baseline: Any) -> tuple[int, int] | None:
    """``"05.11"`` -> ``(5, 11)``; ``None``/empty -> ``None``; anything else is an error."""
    if baseline is None or (isinstance(baseline, str) and not baseline.strip()):
        return None
    match = _BASELINE.match(str(baseline))
    if match is None:
        raise InvalidInput(f"s2:processing_baseline {baseline!r} is not 'NN.NN' (e.g. '05.11'); fix the item metadata.")
    return int(match.group(1)), int(match.group(2))


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise InvalidInput(f"earthsearch:boa_offset_applied must be true or false, got {value!r}.")


def scale_offset(item_properties: Mapping[str, Any], raster_band: Mapping[str, Any] | None) -> tuple[float, float]:
    """``(scale, offset)`` such that reflectance = DN * scale + offset for one asset of one item.

    - ``earthsearch:boa_offset_applied`` true: offset 0 (the -1000 DN is already out of the pixels, even
      though ``raster:bands`` still advertises -0.1);
    - baseline >= 04.00 and the flag false or absent: the asset's ``raster:bands`` offset (default -0.1);
    - baseline < 04.00: offset 0;
    - baseline absent: the asset's advertised ``raster:bands`` offset if there is one, else 0.

    The scale is the ``raster:bands`` scale, default 0.0001.
    """
    band = raster_band or {}
    scale = float(band.get("scale", DEFAULT_SCALE))
    if _flag(item_properties.get("earthsearch:boa_offset_applied")):
        return scale, 0.0
    baseline = parse_baseline(item_properties.get("s2:processing_baseline"))
    if baseline is None:
        return scale, float(band.get("offset", 0.0))
    if baseline >= OFFSET_BASELINE:
        return scale, float(band.get("offset", DEFAULT_OFFSET))
    return scale, 0.0
