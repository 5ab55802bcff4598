"""Farmers and the plots they draw on a phone map, with the truth of each plot.

A plot is a hand-drawn approximation of a true field: simplified to 4-8 vertices and jittered by a few
metres. Some are shifted (partly off the field), some drawn on non-cropland, some overlap another
farmer's plot, and some declare the wrong crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from agrisense.sample.inputs import CROPS
from agrisense.sample.landscape import Landscape

KIND_P = {"good": 0.62, "wrong_crop": 0.13, "shifted": 0.12, "noncrop": 0.06, "overlapping": 0.07}
PLOTS_PER_FARMER_P = (0.5, 0.35, 0.15)
VERTEX_JITTER_M = 3.0
NEIGHBOUR_RADIUS_M = 600.0


@dataclass(frozen=True)
class Plots:
    """Parallel arrays, one entry per plot (UTM geometry)."""

    plot_id: np.ndarray
    farmer_id: np.ndarray
    declared_crop: np.ndarray
    kind: np.ndarray
    geometry: np.ndarray


def farmers_for_area(area_km2: float) -> int:
    """About 300 farmers per 100 km2, at least 5."""
    return max(5, int(round(300 * area_km2 / 100.0)))


def sketch(rng: np.random.Generator, geom: BaseGeometry) -> shapely.Polygon:
    """A phone-map drawing of ``geom``: 4-8 vertices, a little over/under-drawn, jittered."""
    want = int(rng.integers(4, 9))
    size = np.sqrt(geom.area)
    ring = geom
    for tol in size * np.array([0.02, 0.05, 0.08, 0.12, 0.18]):
        ring = geom.simplify(tol, preserve_topology=True)
        if len(shapely.get_coordinates(ring.exterior)) - 1 <= want:
            break
    if len(shapely.get_coordinates(ring.exterior)) - 1 < 4 or len(shapely.get_coordinates(ring.exterior)) - 1 > 8:
        ring = shapely.oriented_envelope(geom)
    xy = shapely.get_coordinates(ring.exterior)[:-1]
    c = xy.mean(axis=0)
    xy = c + (xy - c) * rng.uniform(0.93, 1.07) + rng.normal(0, VERTEX_JITTER_M, xy.shape)
    poly = shapely.make_valid(shapely.Polygon(xy))
    if poly.geom_type != "Polygon":
        poly = shapely.oriented_envelope(geom)
    return poly


def _translate(geom: BaseGeometry, dx: float, dy: float) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: xy + np.array([dx, dy]))


def make_plots(
    rng: np.random.Generator,
    land: Landscape,
    n_farmers: int,
    crops: Sequence[str] = CROPS,
    large_farm_plots: bool = False,
) -> Plots:
    """Draw ``n_farmers`` smallholders with 1-3 plots each; with ``large_farm_plots`` the owner of each large farm
    then applies too, one plot per field of the farm (good outlines, the true crop)."""
    f = land.fields
    small = np.flatnonzero(~f.large & (shapely.area(f.geometry) < 5e4))
    tree = shapely.STRtree(f.geometry[small])
    cent = shapely.centroid(f.geometry[small])
    noncrop = land.patches.geometry[land.patches.cls == "grassland"]
    used: set[int] = set()
    kinds = np.array(list(KIND_P))
    rows: list[tuple[str, str, str, BaseGeometry]] = []
    drawn: list[tuple[str, int, BaseGeometry]] = []  # (farmer, field, plot geometry)
    for fi in range(n_farmers):
        farmer = f"F{fi + 1:04d}"
        free = [i for i in range(len(small)) if i not in used]
        if not free:
            break
        home = int(rng.choice(free))
        near = tree.query(shapely.buffer(cent[home], NEIGHBOUR_RADIUS_M))
        near = [int(i) for i in near if int(i) not in used and int(i) != home]
        n_plots = int(rng.choice([1, 2, 3], p=PLOTS_PER_FARMER_P))
        picks = [home] + list(rng.permutation(near)[: n_plots - 1])
        for local in picks:
            used.add(int(local))
            field = int(small[local])
            geom = f.geometry[field]
            crop = str(f.crop[field])
            kind = str(rng.choice(kinds, p=list(KIND_P.values())))
            if kind == "overlapping" and not [d for d in drawn if d[0] != farmer]:
                kind = "good"
            if kind == "noncrop" and len(noncrop) == 0:
                kind = "good"
            declared = crop
            if kind == "good" or kind == "wrong_crop":
                plot = sketch(rng, geom)
                if kind == "wrong_crop":
                    declared = str(rng.choice([c for c in crops if c != crop]))
            elif kind == "shifted":
                size = np.sqrt(geom.area)
                ang = rng.uniform(0, 2 * np.pi)
                dist = max(10.0, rng.uniform(0.25, 0.7) * size)
                plot = _translate(sketch(rng, geom), dist * np.cos(ang), dist * np.sin(ang))
            elif kind == "noncrop":
                dist = shapely.distance(noncrop, geom.centroid)
                patch = noncrop[int(np.argmin(dist))]
                pt = patch.representative_point()
                side = np.sqrt(rng.uniform(0.2, 1.0) * 1e4)
                e = rng.uniform(1, 2)
                plot = sketch(
                    rng,
                    shapely.box(
                        pt.x - side * e / 2, pt.y - side / e / 2, pt.x + side * e / 2, pt.y + side / e / 2
                    ).intersection(patch)
                    if patch.area > 4000
                    else shapely.box(pt.x - 30, pt.y - 30, pt.x + 30, pt.y + 30),
                )
                declared = str(rng.choice(np.array(crops)))
            else:  # overlapping: another farmer's plot, drawn again with an offset
                others = [d for d in drawn if d[0] != farmer]
                _, other_field, other_plot = others[int(rng.integers(len(others)))]
                size = np.sqrt(other_plot.area)
                ang = rng.uniform(0, 2 * np.pi)
                plot = _translate(sketch(rng, other_plot), 0.3 * size * np.cos(ang), 0.3 * size * np.sin(ang))
                declared = str(f.crop[other_field])
                field = other_field
            drawn.append((farmer, field, plot))
            rows.append((farmer, declared, kind, plot))
    if large_farm_plots:
        rows += _large_farm_plots(rng, land, first_farmer=len({r[0] for r in rows}) + 1)
    n = len(rows)
    return Plots(
        plot_id=np.array([f"P{i + 1:05d}" for i in range(n)], dtype=object),
        farmer_id=np.array([r[0] for r in rows], dtype=object),
        declared_crop=np.array([r[1] for r in rows], dtype=object),
        kind=np.array([r[2] for r in rows], dtype=object),
        geometry=np.array([r[3] for r in rows], dtype=object),
    )


def _large_farm_plots(
    rng: np.random.Generator, land: Landscape, first_farmer: int
) -> list[tuple[str, str, str, BaseGeometry]]:
    """One farmer per large farm (种粮大户), a good plot on each of its fields, declaring the true crop."""
    f = land.fields
    rows = []
    for k, farm in enumerate(sorted({int(v) for v in f.farm if v >= 0})):
        farmer = f"F{first_farmer + k:04d}"
        for field in np.flatnonzero(f.farm == farm):
            rows.append((farmer, str(f.crop[field]), "good", sketch(rng, f.geometry[field])))
    return rows


def plot_truth(plots: Plots, land: Landscape) -> dict[str, np.ndarray]:
    """Best-matching field (largest intersection), its crop and the share of the plot it covers."""
    f = land.fields
    tree = shapely.STRtree(f.geometry)
    pi, fi = tree.query(plots.geometry, predicate="intersects")
    inter = shapely.area(shapely.intersection(plots.geometry[pi], f.geometry[fi]))
    best = np.full(len(plots.plot_id), -1)
    best_area = np.zeros(len(plots.plot_id))
    for p, fld, a in zip(pi, fi, inter, strict=True):
        if a > best_area[p]:
            best[p], best_area[p] = fld, a
    share = best_area / shapely.area(plots.geometry)
    has = best >= 0
    return {
        "plot_id": plots.plot_id,
        "field_index": best,
        "true_crop": np.where(has, f.crop[np.maximum(best, 0)], None),
        "overlap_with_field": np.round(share, 4),
        "kind": plots.kind,
    }
