"""The synthetic landscape: fields (with crops, sowing dates, status) and non-crop patches as polygons.

Farmland is cut from Voronoi "blocks" into oriented strips whose areas and elongations follow the
lognormal fitted on real African parcels; a few large farms, villages, roads, a river with riparian
trees, a pond, woodland and grassland complete the map. All coordinates are UTM metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from agrisense.sample.grid import RegionGrid
from agrisense.sample.inputs import FieldShapes
from agrisense.sample.profiles import EAST_AFRICA, RegionProfile

BLOCK_SPACING_M = 500.0
FARM_SHARE, WOOD_SHARE = 0.50, 0.10  # of Voronoi blocks; the rest is grassland / bush fallow
FALLOW_SHARE = 0.15  # of smallholder strips left as grass fallow
MIN_FIELD_HA, MAX_FIELD_HA = 0.1, 8.0
LATE_SHARE, FAILED_SHARE = 0.08, 0.04
EDGE_PATH_M = 1.5  # half-width of the paths / bunds between fields
FIELD_WIGGLE_M = 10.0  # amplitude of the smooth bending of field edges
PARKLAND_TREES_PER_HA = 1.0  # candidate trees per ha of region; only those inside fields are kept
#: Drawn areas are inflated so that, after cutting at block edges and paths, the realised field areas
#: follow the real distribution (tuned by simulation: realised median ~ the real parcels' median).
AREA_INFLATION = 2.4


@dataclass(frozen=True)
class Fields:
    """True fields: parallel arrays, one entry per field."""

    geometry: np.ndarray  # shapely Polygons (UTM)
    crop: np.ndarray  # str
    sow_date: np.ndarray  # datetime.date
    status: np.ndarray  # "normal" | "late" | "failed"
    large: np.ndarray  # bool: part of a large commercial farm
    farm: np.ndarray  # int: index of the large farm the field belongs to, -1 for a smallholder field

    def __len__(self) -> int:
        return len(self.geometry)


@dataclass(frozen=True)
class Patches:
    """Non-crop patches drawn below the fields (class in grassland, trees, built_up, water)."""

    geometry: np.ndarray
    cls: np.ndarray


@dataclass(frozen=True)
class Landscape:
    fields: Fields
    patches: Patches  # drawn in order; later patches cover earlier ones
    overlay: Patches  # drawn above the fields (roads, villages, water, riparian trees)


def _wavy_line(rng: np.random.Generator, bbox: tuple[float, ...], step: float = 60.0) -> shapely.LineString:
    """A smooth random-walk line that crosses the box from one side to the opposite one."""
    minx, miny, maxx, maxy = bbox
    size = max(maxx - minx, maxy - miny)
    if rng.random() < 0.5:
        start = np.array([minx - 100, rng.uniform(miny, maxy)])
        heading = 0.0
    else:
        start = np.array([rng.uniform(minx, maxx), miny - 100])
        heading = np.pi / 2
    heading += rng.normal(0, 0.3)
    n = int((size + 400) / step) + 1
    turns = np.cumsum(rng.normal(0, 0.12, n))
    turns = np.clip(turns, -0.7, 0.7)
    angles = heading + turns
    pts = start + np.cumsum(np.stack([np.cos(angles), np.sin(angles)], 1) * step, axis=0)
    return shapely.LineString(np.vstack([start, pts]))


def _blob(rng: np.random.Generator, center: np.ndarray, radius: float, n: int = 24) -> shapely.Polygon:
    """An irregular roundish polygon (village, pond)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    harmonics = sum(rng.normal(0, 0.12) * np.cos(k * ang + rng.uniform(0, 6.3)) for k in range(1, 5))
    r = radius * (1 + harmonics)
    return shapely.Polygon(np.stack([center[0] + r * np.cos(ang), center[1] + r * np.sin(ang)], 1)).buffer(0)


def _wiggle(
    rng: np.random.Generator, geoms: np.ndarray, amp: float = 25.0, wavelength: tuple[float, float] = (120, 300)
) -> np.ndarray:
    """Displace boundaries by one smooth random field: edges bend, shared edges stay shared."""
    k = rng.uniform(1 / wavelength[1], 1 / wavelength[0], (2, 3))
    ph = rng.uniform(0, 2 * np.pi, (2, 3))

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = sum(np.sin(k[0, i] * (x + 0.7 * y) + ph[0, i]) for i in range(3)) / 3
        dy = sum(np.sin(k[1, i] * (y - 0.6 * x) + ph[1, i]) for i in range(3)) / 3
        return np.stack([x + amp * dx, y + amp * dy], 1)

    seg = min(15.0, wavelength[0] / 6)
    return shapely.make_valid(shapely.transform(shapely.segmentize(geoms, seg), fn))


def _rotate(geoms: np.ndarray, theta: float, origin: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    ox, oy = origin

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0] - ox, xy[:, 1] - oy
        return np.stack([ox + c * x - s * y, oy + s * x + c * y], 1)

    return shapely.transform(geoms, fn)


def _draw_areas(rng: np.random.Generator, shapes: FieldShapes, n: int) -> np.ndarray:
    a = AREA_INFLATION * np.exp(rng.normal(shapes.log_area_mu, shapes.log_area_sigma, n))
    return np.clip(a, MIN_FIELD_HA, MAX_FIELD_HA) * 1e4


def _strips(rng: np.random.Generator, block: BaseGeometry, shapes: FieldShapes) -> np.ndarray:
    """Cut one farm block into oriented strip fields (polygons, UTM)."""
    theta = rng.uniform(0, np.pi)
    cen = block.centroid
    origin = (cen.x, cen.y)
    local = _rotate(np.array([block]), -theta, origin)[0]
    minx, miny, maxx, maxy = local.bounds
    boxes = []
    x = minx
    while x < maxx:
        a0 = _draw_areas(rng, shapes, 1)[0]
        e = float(np.clip(np.exp(rng.normal(shapes.log_elong_mu, shapes.log_elong_sigma)), 1.0, 6.0))
        w = np.sqrt(a0 / e)
        y = miny - rng.uniform(0, np.sqrt(a0 * e))
        while y < maxy:
            e_i = float(np.clip(np.exp(rng.normal(shapes.log_elong_mu, shapes.log_elong_sigma)), 1.0, 6.0))
            length = w * e_i
            boxes.append((x, y, x + w, y + length))
            y += length
        x += w
    arr = np.array(boxes)
    rects = shapely.box(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    pieces = shapely.intersection(rects, local)
    return _rotate(pieces, theta, origin)


def _is_sliver(geoms: np.ndarray) -> np.ndarray:
    """Thin leftovers of cutting (short side < 12 m or elongation > 6) stay fallow, not fields."""
    env = shapely.oriented_envelope(geoms)
    xy = [shapely.get_coordinates(e)[:3] for e in env]
    sides = np.array([np.sort(np.hypot(*np.diff(c, axis=0).T)) if len(c) == 3 else (0.0, 0.0) for c in xy])
    return (sides[:, 0] < 12.0) | (sides[:, 1] > 6 * np.maximum(sides[:, 0], 1e-6))


def _largest_polygon(g: BaseGeometry) -> BaseGeometry:
    if g.geom_type == "Polygon":
        return g
    polys = [p for p in getattr(g, "geoms", []) if p.geom_type == "Polygon"]
    return max(polys, key=lambda p: p.area) if polys else shapely.Polygon()


def make_landscape(
    rng: np.random.Generator,
    grid: RegionGrid,
    shapes: FieldShapes,
    calendar: dict[str, tuple[date, date]],
    profile: RegionProfile = EAST_AFRICA,
) -> Landscape:
    """Draw the whole landscape for ``grid``; ``calendar`` maps crop -> (sow_start, sow_end)."""
    minx, miny, maxx, maxy = grid.bbox
    region = shapely.box(minx, miny, maxx, maxy)
    scale = grid.area_km2 / 100.0

    # Voronoi blocks, land use from two smooth suitability surfaces sampled at block centroids.
    n_blocks = max(int(grid.area_km2 * 1e6 / BLOCK_SPACING_M**2), 6)
    pts = np.stack([rng.uniform(minx, maxx, n_blocks), rng.uniform(miny, maxy, n_blocks)], 1)
    vor = shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=region.buffer(500))
    blocks = shapely.intersection(np.asarray(vor.geoms), region)
    cen = shapely.get_coordinates(shapely.centroid(blocks))
    wave = rng.uniform(0, 2 * np.pi, 4)
    k = 2 * np.pi / 4000.0
    suit = (np.sin(k * cen[:, 0] + wave[0]) + np.cos(k * 0.7 * cen[:, 1] + wave[1])) + rng.normal(0, 0.8, len(cen))
    order = np.argsort(-suit)
    use = np.full(len(blocks), "grassland", dtype=object)
    use[order[: int(FARM_SHARE * len(blocks))]] = "farm"
    use[order[len(blocks) - max(1, int(WOOD_SHARE * len(blocks))) :]] = "trees"

    # Large commercial farms (rectangles of the profile's size, e.g. 100-250 ha, about 3 per 100 km2).
    large_polys: list[BaseGeometry] = []
    expected = profile.large_farms_per_100km2 * scale
    for _ in range(int(rng.poisson(expected)) if expected >= 1.5 else 0):
        area = rng.uniform(*profile.large_farm_ha) * 1e4
        e = rng.uniform(1.0, 2.5)
        w, h = np.sqrt(area / e), np.sqrt(area * e)
        c = rng.uniform([minx + w, miny + h], [maxx - w, maxy - h])
        rect = _rotate(
            np.array([shapely.box(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)]),
            rng.uniform(0, np.pi),
            (c[0], c[1]),
        )[0]
        if not any(rect.intersects(p) for p in large_polys):
            large_polys.append(rect)
    large_union = shapely.union_all(large_polys) if large_polys else shapely.Polygon()

    # Linear features and settlements.
    roads = [_wavy_line(rng, grid.bbox).buffer(4.0)]
    roads += [_wavy_line(rng, grid.bbox).buffer(2.5) for _ in range(max(1, int(rng.poisson(4 * scale))))]
    river_line = _wavy_line(rng, grid.bbox, step=40.0)
    river = river_line.buffer(rng.uniform(6, 12))
    riparian = river_line.buffer(rng.uniform(30, 60)).difference(river)
    ponds = []
    for _ in range(max(int(rng.poisson(1.5 * scale)), 1 if scale >= 0.5 else 0)):
        ponds.append(_blob(rng, rng.uniform([minx, miny], [maxx, maxy]), rng.uniform(60, 180)))
    villages = []
    road_lines = [shapely.get_exterior_ring(r) for r in roads]
    for _ in range(max(1, int(rng.poisson(8 * scale)))):
        line = road_lines[int(rng.integers(len(road_lines)))]
        p = line.interpolate(rng.uniform(0, line.length))
        c = np.array([p.x, p.y]) + rng.normal(0, 120, 2)
        villages.append(_blob(rng, c, rng.uniform(80, 250)))
    water = shapely.intersection(np.array([river, *ponds]), region)
    built = shapely.intersection(np.array(roads + villages), region)
    obstacles = shapely.union_all(np.concatenate([water, built, [riparian]]))

    # Smallholder strips in farm blocks, outside large farms and obstacles.
    fields_geom: list[BaseGeometry] = []
    for blk in blocks[use == "farm"]:
        blk = blk.difference(large_union)
        if blk.is_empty or blk.area < 2000:
            continue
        pieces = _strips(rng, blk, shapes)
        keep = rng.random(len(pieces)) > FALLOW_SHARE
        fields_geom.extend(pieces[keep])
    n_small = len(fields_geom)
    farm_of = [-1] * n_small
    lo, hi = profile.large_farm_fields
    for k, rect in enumerate(large_polys):
        n_parts = int(rng.integers(lo, hi + 1))
        farm_of += [k] * n_parts
        mrr = np.asarray(shapely.get_coordinates(rect))[:4]
        a, b, d = mrr[0], mrr[1], mrr[3]
        long_ax, short_ax = (b - a, d - a) if np.hypot(*(b - a)) > np.hypot(*(d - a)) else (d - a, b - a)
        for i in range(n_parts):
            p0 = a + long_ax * i / n_parts
            p1 = a + long_ax * (i + 1) / n_parts
            fields_geom.append(shapely.Polygon([p0, p1, p1 + short_ax, p0 + short_ax]))
    geoms = np.array(fields_geom, dtype=object)
    geoms = _wiggle(rng, geoms, amp=FIELD_WIGGLE_M, wavelength=(40.0, 120.0))
    geoms = shapely.difference(geoms, obstacles)
    geoms = shapely.buffer(geoms, -EDGE_PATH_M, join_style="mitre")
    geoms = np.array([_largest_polygon(g) for g in geoms], dtype=object)
    is_large = np.arange(len(geoms)) >= n_small
    ok = (shapely.area(geoms) >= 0.08e4) & shapely.is_valid(geoms) & ~_is_sliver(geoms)
    geoms, is_large, farm = geoms[ok], is_large[ok], np.array(farm_of, dtype=int)[ok]

    n = len(geoms)
    crops = profile.crops
    crop = rng.choice(np.array(crops), n, p=[profile.crop_shares[c] for c in crops])
    crop[is_large] = rng.choice(np.array(profile.large_farm_crops), int(is_large.sum()))
    status = rng.choice(
        np.array(["normal", "late", "failed"]), n, p=[1 - LATE_SHARE - FAILED_SHARE, LATE_SHARE, FAILED_SHARE]
    )
    status[is_large & (status == "failed")] = "normal"
    sow = np.empty(n, dtype=object)
    for i in range(n):
        start, end = calendar[str(crop[i])]
        span = (end - start).days
        offset = int(rng.integers(0, span + 1))
        if status[i] == "late":
            offset = span + int(rng.integers(15, 46))
        sow[i] = start + timedelta(days=offset)

    # Non-crop patches: grassland and woodland blocks, scattered trees on grassland.
    # Contiguous blocks of one use merge into one patch (no artificial Voronoi mosaic).
    grass_blocks = shapely.get_parts(shapely.union_all(shapely.difference(blocks[use == "grassland"], large_union)))
    wood_blocks = shapely.get_parts(shapely.union_all(shapely.difference(blocks[use == "trees"], large_union)))
    wood_blocks = shapely.get_parts(_wiggle(rng, wood_blocks))
    wood_blocks = wood_blocks[shapely.get_type_id(wood_blocks) == 3]  # polygons only
    n_trees = int(rng.poisson(25 * grid.area_km2))
    tree_pts = shapely.points(rng.uniform(minx, maxx, n_trees), rng.uniform(miny, maxy, n_trees))
    in_grass = shapely.STRtree(grass_blocks).query(tree_pts, predicate="within")[0] if len(grass_blocks) else []
    scattered = shapely.buffer(tree_pts[np.unique(in_grass)], rng.uniform(4, 9, len(np.unique(in_grass))))
    patch_geoms = np.concatenate([grass_blocks, wood_blocks, scattered])
    patch_cls = np.array(["grassland"] * len(grass_blocks) + ["trees"] * (len(wood_blocks) + len(scattered)))
    # Parkland trees left standing inside fields (shea-like): sub-pixel crowns, still "crop" in the truth.
    n_park = int(rng.poisson(PARKLAND_TREES_PER_HA * grid.area_km2 * 100))
    park_pts = shapely.points(rng.uniform(minx, maxx, n_park), rng.uniform(miny, maxy, n_park))
    in_field = shapely.STRtree(geoms).query(park_pts, predicate="within")[0] if n > 0 else np.array([], int)
    in_field = np.unique(in_field)
    parkland = shapely.buffer(park_pts[in_field], rng.uniform(3, 6, len(in_field)))
    ov_geoms = np.concatenate([[shapely.intersection(riparian, region)], parkland, water, built])
    ov_cls = np.array(["trees"] * (1 + len(parkland)) + ["water"] * len(water) + ["built_up"] * len(built))
    keep_p = ~shapely.is_empty(patch_geoms)
    keep_o = ~shapely.is_empty(ov_geoms)
    return Landscape(
        fields=Fields(geoms, crop.astype(object), sow, status.astype(object), is_large, farm),
        patches=Patches(patch_geoms[keep_p], patch_cls[keep_p]),
        overlay=Patches(ov_geoms[keep_o], ov_cls[keep_o]),
    )
