"""Read a region folder for training: region.json, the truth rasters and the (cached) monthly composites."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from rasterio.features import rasterize

from agrisense.config import Settings
from agrisense.errors import InvalidInput, NotFound
from agrisense.imagery.catalog import open_source
from agrisense.imagery.timeseries import build_composites
from agrisense.ml.dataset import SPLIT_NAMES, TRAIN, BlockSplit, block_split
from agrisense.ml.features import channel_statistics, stack_features
from agrisense.ml.registry import NON_CROP, ModelBundle

CACHE_NAME = "composites.nc"
CACHE_KEY_ATTR = "agrisense_cache_key"
NODATA = 255


@dataclass(frozen=True)
class RegionTruth:
    """The truth of a region on its 10 m grid."""

    classes: tuple[str, ...]  # ("non_crop", *crops)
    labels: np.ndarray  # (H, W) uint8, NODATA where unknown
    field_ids: np.ndarray  # (H, W) int32, 0 outside fields, i + 1 for the i-th field
    field_classes: np.ndarray  # (n_fields + 1,) int64 class index of each field id (index 0 unused)


def read_region_meta(region_dir: Path) -> dict[str, Any]:
    """region.json of ``region_dir``; NotFound with the command that makes one."""
    path = region_dir / "region.json"
    if not path.is_file():
        raise NotFound(f"{path} is missing; build the sample region with `agrisense sample build --out {region_dir}`")
    meta: dict[str, Any] = json.loads(path.read_text())
    for key in ("crs", "bbox_utm", "imagery_start", "imagery_end", "crops"):
        if key not in meta:
            raise InvalidInput(f"{path} lacks {key!r}; rebuild the region with `agrisense sample build`")
    return meta


def read_truth(region_dir: Path, meta: dict[str, Any], shape: tuple[int, int]) -> RegionTruth:
    """truth/landcover.tif and truth/fields.parquet rasterised onto the region grid of ``shape``."""
    classes = (NON_CROP, *meta["crops"])
    tif = region_dir / "truth" / "landcover.tif"
    if not tif.is_file():
        raise NotFound(f"{tif} is missing; training needs a region with truth (agrisense sample build)")
    with rasterio.open(tif) as src:
        labels = src.read(1)
        transform = src.transform
    if labels.shape != shape:
        raise InvalidInput(f"{tif} is {labels.shape} pixels but the composites are {shape}; rebuild the region")
    bad = (labels >= len(classes)) & (labels != NODATA)
    if bad.any():
        raise InvalidInput(f"{tif} holds class ids above {len(classes) - 1} that region.json does not name")
    field_ids = np.zeros(shape, dtype=np.int32)
    field_classes = np.zeros(1, dtype=np.int64)
    parquet = region_dir / "truth" / "fields.parquet"
    if parquet.is_file():
        fields = gpd.read_parquet(parquet)
        if fields.crs is not None and str(meta["crs"]) and fields.crs != meta["crs"]:
            fields = fields.to_crs(meta["crs"])
        fields = fields[fields["crop"].isin(meta["crops"])].reset_index(drop=True)
        if len(fields):
            shapes = ((geom, i + 1) for i, geom in enumerate(fields.geometry))
            field_ids = rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")
            field_classes = np.array([0, *(classes.index(c) for c in fields["crop"])], dtype=np.int64)
    return RegionTruth(classes=classes, labels=labels, field_ids=field_ids, field_classes=field_classes)


def cache_key(region_dir: Path) -> str:
    """Fingerprint of what the composites depend on: region.json and the list of STAC items."""
    digest = hashlib.sha256((region_dir / "region.json").read_bytes())
    stac = region_dir / "stac"
    if stac.is_dir():
        for item in sorted(p.relative_to(stac).as_posix() for p in stac.rglob("*.json")):
            digest.update(item.encode())
    return digest.hexdigest()[:16]


def composite_cache_path(region_dir: Path, cache_dir: Path | None = None) -> Path:
    """Where the region's composites are cached: under the configured cache dir (``Settings.cache_dir``, or
    ``cache_dir``), in a folder named after the region and a hash of its absolute path; never in the region folder
    (a ~0.5 GB file in data that is meant to be read only)."""
    base = Path(cache_dir) if cache_dir is not None else Settings().cache_dir
    resolved = Path(region_dir).resolve()
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return base / "region_composites" / f"{resolved.name}-{tag}" / CACHE_NAME


def load_composites(
    region_dir: Path,
    meta: dict[str, Any],
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """The region's monthly composites, from the cache (``composite_cache_path``) when it is current."""
    cache = composite_cache_path(region_dir, cache_dir)
    key = cache_key(region_dir)
    if use_cache and cache.is_file():
        with xr.open_dataset(cache, engine="scipy") as cached:
            if cached.attrs.get(CACHE_KEY_ATTR) == key:
                log(f"composites from cache {cache}")
                return cached.load()
        log(f"cache {cache} is stale; rebuilding the composites")
    composites = build_region_composites(region_dir, meta, log=log)
    if use_cache:
        write_composite_cache(composites, cache, key)
    return composites


def build_region_composites(region_dir: Path, meta: dict[str, Any], log: Callable[[str], None] = print) -> xr.Dataset:
    """Monthly composites on the region's UTM grid through ``agrisense.imagery`` (slow: reads every scene)."""
    catalog = region_dir / "stac" / "catalog.json"
    if not catalog.is_file():
        raise NotFound(f"{catalog} is missing; rebuild the region with `agrisense sample build --out {region_dir}`")
    geobox = GeoBox.from_bbox(tuple(meta["bbox_utm"]), meta["crs"], resolution=meta.get("resolution", 10))
    log(f"building monthly composites for a {geobox.shape[0]}x{geobox.shape[1]} px grid from {catalog}")
    start, end = (date.fromisoformat(str(meta[k])[:10]) for k in ("imagery_start", "imagery_end"))
    result = build_composites(open_source(str(catalog)), geobox, start, end)
    return result.composites.load()


def write_composite_cache(composites: xr.Dataset, path: Path, key: str) -> Path:
    """Write the band/index variables and n_obs as netCDF-3 (scipy; no extra packages)."""
    keep = [
        v for v in composites.data_vars if composites[v].dims == ("period", "y", "x") and v not in ("filled", "clear")
    ]
    ds = composites[keep]
    ds = ds.drop_vars([c for c in ds.coords if c not in ("period", "y", "x")]).copy()
    ds.attrs = {CACHE_KEY_ATTR: key}
    for name in ds.variables:
        ds[name].attrs = {}
        ds[name].encoding = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.nc")
    ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
    tmp.replace(path)
    return path


def region_for_bundle(
    region_dir: Path,
    bundle: ModelBundle,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Any], np.ndarray, RegionTruth]:
    """``(region.json, raw features stacked as the bundle needs them, truth)`` of a region with truth; the region
    must have the bundle's classes."""
    meta = read_region_meta(region_dir)
    composites = load_composites(region_dir, meta, use_cache=use_cache, cache_dir=cache_dir, log=log)
    features = stack_features(composites, bands=bundle.bands, indices=bundle.indices, months=bundle.months)
    del composites
    truth = read_truth(region_dir, meta, features.shape[1:])
    if truth.classes != bundle.classes:
        raise InvalidInput(
            f"the region's classes {truth.classes} differ from the model's {bundle.classes}; "
            "use a region with the same crops (region.json 'crops')"
        )
    return meta, features, truth


@dataclass(frozen=True)
class TrainingRegion:
    """A region ready for training: its region.json, raw features (C, H, W), truth and own block split."""

    folder: str  # the region folder's name (no machine path)
    meta: dict[str, Any]
    features: np.ndarray
    truth: RegionTruth
    split: BlockSplit

    def labelled_pixels(self) -> dict[str, int]:
        """Labelled pixels in each split."""
        labelled = self.truth.labels < len(self.truth.classes)
        return {SPLIT_NAMES[s]: int(((self.split.split == s) & labelled).sum()) for s in SPLIT_NAMES}

    def describe(self) -> dict[str, Any]:
        """What the bundle records of the region: folder, name, seed, generator, size, split."""
        return {
            "folder": self.folder,
            "region": self.meta.get("name"),
            "region_seed": self.meta.get("seed"),
            "generator_version": self.meta.get("generator_version"),
            "shape": list(self.features.shape[1:]),
            "labelled_pixels": self.labelled_pixels(),
            "split_blocks": self.split.blocks.tolist(),
        }


def load_training_region(
    region_dir: Path,
    *,
    bands: Sequence[str],
    indices: Sequence[str],
    months: Sequence[int],
    seed: int,
    use_cache: bool = True,
    log: Callable[[str], None] = print,
) -> TrainingRegion:
    """Composites (cached), stacked features, truth and the seeded 4x4 block split of ``region_dir``."""
    meta = read_region_meta(region_dir)
    composites = load_composites(region_dir, meta, use_cache=use_cache, log=log)
    features = stack_features(composites, bands=bands, indices=indices, months=months)
    del composites
    truth = read_truth(region_dir, meta, features.shape[1:])
    split = block_split(truth.labels, len(truth.classes), seed=seed, field_ids=truth.field_ids)
    return TrainingRegion(
        folder=Path(region_dir).resolve().name, meta=meta, features=features, truth=truth, split=split
    )


def check_same_classes(main: TrainingRegion, others: Sequence[TrainingRegion]) -> None:
    """Refuse training regions whose crops differ from the main region's."""
    for other in others:
        if other.truth.classes != main.truth.classes:
            raise InvalidInput(
                f"region {other.folder!r} has classes {other.truth.classes} but the main region {main.folder!r} "
                f"has {main.truth.classes}; train only on regions with the same crops (region.json 'crops')"
            )


def pooled_statistics(regions: Sequence[TrainingRegion]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over the training-block pixels of all ``regions`` together."""
    pixels = np.concatenate([r.features[:, r.split.split == TRAIN] for r in regions], axis=1)
    return channel_statistics(pixels[:, :, None])
