"""Class-map colours: one RGBA per class name, a transparent no-data class (pure: no model, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NODATA_CLASS = 255
"""Class value of pixels without a prediction (or without imagery) in a class map."""

PALETTE: Mapping[str, tuple[int, int, int, int]] = {
    "non_crop": (200, 200, 190, 255),
    "maize": (240, 190, 30, 255),
    "sorghum": (190, 80, 40, 255),
    "groundnut": (150, 110, 200, 255),
    "beans": (40, 150, 70, 255),
}
"""RGBA per class name; classes without an entry get a colour from ``_FALLBACK``."""

_FALLBACK = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))


def palette(
    classes: Sequence[str], nodata_name: str = "no prediction"
) -> tuple[dict[int, tuple[int, int, int, int]], dict[int, str]]:
    """``(colormap, class_names)`` by class value (the index in ``classes``) for ``write_cog``; value
    ``NODATA_CLASS`` is transparent and named ``nodata_name``."""
    colormap: dict[int, tuple[int, int, int, int]] = {}
    for i, name in enumerate(classes):
        colormap[i] = PALETTE.get(name, (*_FALLBACK[i % len(_FALLBACK)], 255))
    colormap[NODATA_CLASS] = (0, 0, 0, 0)
    names = {i: name for i, name in enumerate(classes)}
    names[NODATA_CLASS] = nodata_name
    return colormap, names
