"""Spectral-temporal signatures behave like the real East Africa samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

from agrisense.sample.inputs import CROPS, load_inputs


def _ndvi_by_date(region_dir: Path) -> pd.DataFrame:
    with rasterio.open(region_dir / "truth" / "landcover.tif") as src:
        crop = src.read(1) > 0
    rows = []
    for path in sorted((region_dir / "stac" / "sentinel-2-l2a").glob("*/*.json")):
        item = json.loads(path.read_text())
        off = 0.0 if item["properties"]["earthsearch:boa_offset_applied"] else -0.1
        red, nir = (rasterio.open(path.parent / f"{b}.tif").read(1) * 1e-4 + off for b in ("red", "nir"))
        scl = np.kron(rasterio.open(path.parent / "scl.tif").read(1), np.ones((2, 2), np.uint8))
        clear = np.isin(scl, [4, 5]) & crop
        if clear.sum() < 500:
            continue
        ndvi = (nir[clear] - red[clear]) / (nir[clear] + red[clear])
        rows.append({"date": pd.Timestamp(item["properties"]["datetime"][:10]), "ndvi": np.median(ndvi)})
    return pd.DataFrame(rows)


def test_cropland_ndvi_peaks_in_aug_sep(region_dir: Path) -> None:
    df = _ndvi_by_date(region_dir)
    month = df["date"].dt.month
    early = df.loc[month.isin([3, 4]), "ndvi"].mean()
    peak = df.loc[month.isin([8, 9]), "ndvi"].mean()
    assert peak - early > 0.15
    assert df.loc[df["ndvi"].idxmax(), "date"].month in (7, 8, 9, 10)


def test_class_means_come_from_the_samples() -> None:
    spectra = load_inputs().spectra
    for crop in CROPS:
        m = spectra.mean[crop]
        ndvi = (m[:, 6] - m[:, 2]) / (m[:, 6] + m[:, 2])
        assert ndvi[8:10].mean() > ndvi[2:5].mean() + 0.15, crop  # Aug-Sep vs Feb-Apr
        assert np.all(np.linalg.eigvalsh(spectra.cov[crop]) > 0)
    water = spectra.mean["water"]
    assert (water[:, 6] < water[:, 2]).all()  # water: NIR below red
