"""Field extents: boundary targets, labelling fields from cropland + boundary maps, object-level matching."""

from __future__ import annotations

import numpy as np
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.fields import FieldThresholds, boundary_target, label_fields, match_fields


def _two_touching_fields() -> np.ndarray:
    """A 12 x 20 raster: field 1 (cols 2..9) and field 2 (cols 10..17) share an edge; rows 2..9."""
    ids = np.zeros((12, 20), dtype=np.int32)
    ids[2:10, 2:10] = 1
    ids[2:10, 10:18] = 2
    return ids


def test_boundary_target_marks_both_sides_of_a_shared_edge_only() -> None:
    target = boundary_target(_two_touching_fields())
    assert target[2:10, 9].all() and target[2:10, 10].all()
    assert target.sum() == 16  # the two columns along the shared edge, nothing along non-field land
    rotated = boundary_target(np.rot90(_two_touching_fields()))
    assert np.array_equal(rotated, np.rot90(target))  # symmetric: flips and rotations keep it valid


def test_label_fields_separates_touching_fields_only_with_the_boundary() -> None:
    ids = _two_touching_fields()
    cropland = (ids > 0).astype(np.float32)
    boundary = boundary_target(ids).astype(np.float32)
    without = label_fields(cropland, None)
    assert without.max() == 1  # one cropland patch: the two fields merge
    labels = label_fields(cropland, boundary)
    assert labels.max() == 2
    # grown back over the boundary line: each field's full extent, so areas are not shrunk
    assert np.array_equal(labels > 0, ids > 0)
    match = match_fields(labels, ids)
    assert (match.matched, match.recall, match.precision, match.merged, match.split) == (2, 1.0, 1.0, 0, 0)
    merged = match_fields(without, ids)
    assert merged.merged == 1 and merged.matched == 0


def test_label_fields_treats_nan_as_no_prediction_and_drops_specks() -> None:
    cropland = np.full((10, 10), np.nan, dtype=np.float32)
    cropland[1:6, 1:6] = 0.9
    cropland[8, 8] = 0.9  # a one-pixel speck
    labels = label_fields(cropland, np.zeros_like(cropland), FieldThresholds(min_pixels=4))
    assert labels.max() == 1 and labels[8, 8] == 0 and (labels > 0).sum() == 25


def test_match_fields_counts_a_split_field_and_respects_scope() -> None:
    truth = np.zeros((10, 20), dtype=np.int32)
    truth[:, :10] = 1
    truth[:, 10:] = 2
    predicted = np.zeros_like(truth)
    predicted[:, :4] = 1
    predicted[:, 4:10] = 2  # truth field 1 cut in two pieces, neither holding half... (6/10 does)
    predicted[:, 10:] = 3
    match = match_fields(predicted, truth)
    assert match.n_truth == 2 and match.n_predicted == 3
    assert match.matched == 2  # field 1 matched by the 6-column piece (IoU 0.6), field 2 exactly
    assert match.precision == pytest.approx(2 / 3)
    only_right = np.zeros_like(truth, dtype=bool)
    only_right[:, 10:] = True
    scoped = match_fields(predicted, truth, scope=only_right)
    assert (scoped.n_truth, scoped.n_predicted, scoped.matched) == (1, 1, 1)


def test_bad_inputs_are_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidInput, match="same shape"):
        label_fields(np.zeros((4, 4)), np.zeros((3, 4)))
    with pytest.raises(InvalidInput, match="thresholds"):
        label_fields(np.zeros((4, 4)), None, FieldThresholds(cropland=1.5))
    with pytest.raises(InvalidInput, match="2-D"):
        boundary_target(np.zeros(5))
    with pytest.raises(InvalidInput, match="same 2-D shape"):
        match_fields(np.zeros((2, 2)), np.zeros((2, 3)))
