"""The label set of the Presto crop model: harmonised names, rare classes merged into two "other" groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput
from agrisense.ml.croptype.table import harmonise_labels

OTHER_CROP = "other_crop"
OTHER_NON_CROP = "non_cropland_incl_perennial"
#: rare non-crop land covers; any other rare label is a crop (WorldCereal's legend: codes 11xx-12xx are crops)
NON_CROP_LABELS: frozenset[str] = frozenset(
    {"herbaceous_vegetation", "shrubland", "open_water", "built_up", "bare", "wetland", "grasslands", "trees_mixed"}
)


def merge_rare(labels: pd.Series, min_count: int) -> tuple[pd.Series, dict[str, str]]:
    """Harmonised labels with every class of fewer than ``min_count`` samples merged into ``other_crop`` (crops)
    or ``non_cropland_incl_perennial`` (land covers of ``NON_CROP_LABELS``); returns the merge map too.

    Nothing is dropped: a rare crop still teaches the model what is *not* sorghum or maize.
    """
    clean = harmonise_labels(labels)
    counts = clean.value_counts()
    merged = {
        name: (OTHER_NON_CROP if name in NON_CROP_LABELS else OTHER_CROP)
        for name, n in counts.items()
        if n < min_count and name not in (OTHER_CROP, OTHER_NON_CROP)
    }
    return clean.map(lambda name: merged.get(name, name)), merged


def encode(labels: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer classes ``(N,)`` and the sorted class names; at least two classes are needed."""
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise InvalidInput("training needs at least 2 classes in column 'label'")
    return labels.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64), classes
