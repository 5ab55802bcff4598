"""Unit checks of the generator's parts: time warping, failed fields, plots, grid."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
import shapely

from agrisense.errors import InvalidInput
from agrisense.sample.build import sowing_windows
from agrisense.sample.farmers import make_plots, plot_truth, sketch
from agrisense.sample.grid import make_grid
from agrisense.sample.inputs import load_inputs
from agrisense.sample.landscape import make_landscape
from agrisense.sample.profiles import EAST_AFRICA
from agrisense.sample.signatures import build_signatures


def _ndvi(spec: np.ndarray) -> np.ndarray:
    return (spec[:, 6] - spec[:, 2]) / (spec[:, 6] + spec[:, 2])


def test_late_sowing_shifts_the_curve() -> None:
    spectra = load_inputs().spectra
    cls = np.array(["maize", "maize", "maize"], dtype=object)
    model = build_signatures(
        np.random.default_rng(0),
        spectra,
        cls,
        np.array([0, 1, 2]),
        np.array([0.0, 30.0, 0.0]),
        np.array([False, False, True]),
        2026,
    )
    model.curves[1] = model.curves[0]
    model.curves[2] = model.curves[0]
    model.bare[:] = model.bare[0]
    day = date(2026, 7, 20)
    late, _ = model.at(day)
    early, _ = model.at(day - timedelta(days=30))
    np.testing.assert_allclose(late[1], early[0], atol=1e-9)
    assert _ndvi(late)[1] < _ndvi(late)[0]  # still greening: the late field lags
    peak, _ = model.at(date(2026, 9, 1))
    assert _ndvi(peak)[2] < _ndvi(peak)[0] - 0.1  # a failed field stays near bare soil


def test_plots_cover_every_kind_and_overlap() -> None:
    inputs = load_inputs()
    grid = make_grid(3.0)
    land = make_landscape(np.random.default_rng(5), grid, inputs.shapes, sowing_windows(EAST_AFRICA, 2026))
    plots = make_plots(np.random.default_rng(6), land, 80)
    assert set(plots.kind) == {"good", "wrong_crop", "shifted", "noncrop", "overlapping"}
    for i in np.flatnonzero(plots.kind == "overlapping"):
        others = plots.geometry[plots.farmer_id != plots.farmer_id[i]]
        assert shapely.intersects(plots.geometry[i], others).any()
    truth = plot_truth(plots, land)
    shifted = truth["overlap_with_field"][plots.kind == "shifted"]
    good = truth["overlap_with_field"][plots.kind == "good"]
    assert np.median(shifted) < np.median(good) - 0.2
    n_vertices = [len(shapely.get_coordinates(g.exterior)) - 1 for g in plots.geometry]
    assert min(n_vertices) >= 4 and max(n_vertices) <= 8


def test_sketch_approximates_but_is_not_the_field() -> None:
    field = shapely.Polygon([(0, 0), (120, 5), (125, 60), (60, 70), (10, 65), (-3, 30)]).segmentize(5)
    drawn = sketch(np.random.default_rng(1), field)
    iou = drawn.intersection(field).area / drawn.union(field).area
    assert 0.7 < iou < 1.0
    assert len(shapely.get_coordinates(drawn.exterior)) - 1 <= 8


def test_grid_is_10m_utm_and_nests_20m() -> None:
    grid = make_grid(10.0)
    assert grid.shape == (1000, 1000) and grid.epsg == 32636
    assert grid.x0 % 60 == 0 and grid.y0 % 60 == 0
    lon0, lat0, lon1, lat1 = grid.bbox_lonlat()
    assert lon0 < 33.0 < lon1 and lat0 < 2.3 < lat1
    with pytest.raises(InvalidInput):
        make_grid(0.2)


def test_field_sizes_and_shapes_follow_the_real_parcels() -> None:
    """Realised smallholder fields match the savanna parcels' median area, elongation and compactness."""
    import pandas as pd

    from agrisense.sample.inputs import SHAPE_SOURCE, default_inputs_dir

    real = pd.read_csv(default_inputs_dir() / "field_shapes.csv").set_index("source").loc[SHAPE_SOURCE]
    inputs = load_inputs()
    land = make_landscape(np.random.default_rng(9), make_grid(4.0), inputs.shapes, sowing_windows(EAST_AFRICA, 2026))
    geoms = land.fields.geometry[~land.fields.large]
    area = shapely.area(geoms) / 1e4
    env = shapely.oriented_envelope(geoms)
    sides = np.array([np.sort(np.hypot(*np.diff(shapely.get_coordinates(e)[:3], axis=0).T)) for e in env])
    elong = sides[:, 1] / sides[:, 0]
    compact = 4 * np.pi * shapely.area(geoms) / shapely.length(geoms) ** 2
    assert abs(np.median(area) / real["area_p50"] - 1) < 0.25
    assert abs(np.median(elong) / real["elong_p50"] - 1) < 0.2
    assert abs(np.median(compact) - real["compactness_p50"]) < 0.08
    assert 0.2 < area.sum() * 1e4 / (16e6) < 0.6  # cropland share of the region
