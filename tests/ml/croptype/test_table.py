from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.croptype.table import (
    CHANNELS,
    Standardiser,
    band_columns,
    build_features,
    harmonise_labels,
    validate_table,
)

from .helpers import synthetic_table


def _one_row(values: dict[str, float]) -> pd.DataFrame:
    row: dict[str, object] = {"sample_id": "a", **{c: np.nan for c in band_columns()}}
    row.update(values)
    return pd.DataFrame([row])


def test_features_shape_and_channels() -> None:
    f = build_features(synthetic_table(n_per_class=2))
    assert f.values.shape == (6, 12, len(CHANNELS))
    assert f.values.dtype == np.float32
    assert CHANNELS[-1] == "valid"


def test_gaps_interpolated_along_time_and_ends_held() -> None:
    table = _one_row({"B04_m02": 1000.0, "B04_m06": 3000.0, "B08_m04": 4000.0})
    f = build_features(table)
    red = f.values[0, :, CHANNELS.index("B04")]
    np.testing.assert_allclose(red[:3], 0.1)
    np.testing.assert_allclose(red[3:7], [0.15, 0.2, 0.25, 0.3])
    np.testing.assert_allclose(red[7:], 0.3)
    np.testing.assert_allclose(f.values[0, :, CHANNELS.index("ndvi")][4], (0.4 - 0.2) / (0.4 + 0.2), rtol=1e-5)
    assert f.values[0, :, -1].tolist() == [0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0]
    assert np.isnan(f.values[0, :, CHANNELS.index("B8A")]).all()  # never observed: NaN until standardised
    assert f.valid_fraction[0] == pytest.approx(3 / 12)


def test_index_anomaly_is_index_minus_its_mean_over_clear_months() -> None:
    table = _one_row({"B04_m02": 1000.0, "B08_m02": 3000.0, "B04_m06": 1000.0, "B08_m06": 1000.0})
    f = build_features(table)
    ndvi = f.values[0, :, CHANNELS.index("ndvi")]
    anom = f.values[0, :, CHANNELS.index("ndvi_anom")]
    np.testing.assert_allclose(ndvi[[2, 6]], [0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(anom, ndvi - 0.25, atol=1e-6)  # mean over the two clear months m02, m06


def test_impossible_reflectance_is_missing_and_all_nan_row_survives() -> None:
    table = _one_row({"B05_m01": 61600.0})
    f = build_features(table)
    assert f.valid_fraction[0] == 0
    scaled = Standardiser.fit(build_features(synthetic_table(n_per_class=2)).values).apply(f.values)
    assert np.isfinite(scaled).all()
    assert (scaled == 0).all()


def test_label_synonyms() -> None:
    out = harmonise_labels(pd.Series(["managed_grasslands", "Maize", "pears_quinces", "sorghum"]))
    assert out.tolist() == ["grasslands", "maize", "trees_mixed", "sorghum"]


def test_bad_tables_name_the_column() -> None:
    table = synthetic_table(n_per_class=1)
    with pytest.raises(InvalidInput, match="B8A_m00"):
        validate_table(table.rename(columns={"B8A_m00": "b8a_m00"}), need_label=False)
    with pytest.raises(InvalidInput, match="'label'"):
        validate_table(table.drop(columns="label"), need_label=True)
    with pytest.raises(InvalidInput, match="empty"):
        validate_table(table.iloc[:0], need_label=False)
    with pytest.raises(InvalidInput, match="sample_id"):
        validate_table(pd.concat([table, table.iloc[:1]]), need_label=False)
