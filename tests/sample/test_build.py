"""The region folder follows the contract in docs/architecture.md."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pystac
import pytest
from typer.testing import CliRunner, Result

from agrisense.errors import InvalidInput
from agrisense.sample.build import RegionSummary, build_region


def test_contract_files_present(region_dir: Path) -> None:
    for rel in [
        "region.json",
        "stac/catalog.json",
        "plots.geojson",
        "truth/fields.parquet",
        "truth/landcover.tif",
        "truth/plots_truth.parquet",
        "weather/daily.csv",
        "README.md",
    ]:
        assert (region_dir / rel).is_file(), rel


def test_region_json(region_dir: Path, region: RegionSummary) -> None:
    meta = json.loads((region_dir / "region.json").read_text())
    assert meta["crs"] == "EPSG:32636"
    assert meta["crops"] == ["maize", "sorghum", "groundnut", "beans"]
    assert meta["synthetic"] is True and meta["seed"] == 7 and meta["resolution"] == 10
    assert meta["imagery_start"] == "2026-03-01" and meta["imagery_end"] == "2026-11-30"
    minx, miny, maxx, maxy = meta["bbox_utm"]
    assert maxx - minx == pytest.approx(3000) and maxy - miny == pytest.approx(3000)
    lon0, lat0, lon1, lat1 = meta["bbox_lonlat"]
    assert 32.9 < lon0 < lon1 < 33.1 and 2.2 < lat0 < lat1 < 2.4
    assert "SYNTHETIC" in (region_dir / "README.md").read_text()


def test_catalog_is_static_and_relative(region_dir: Path, region: RegionSummary) -> None:
    cat = pystac.Catalog.from_file(str(region_dir / "stac" / "catalog.json"))
    coll = cat.get_child("sentinel-2-l2a")
    assert isinstance(coll, pystac.Collection)
    items = list(coll.get_items())
    assert len(items) == region.n_scenes >= 8
    for path in (region_dir / "stac").rglob("*.json"):
        text = path.read_text()
        assert str(region_dir) not in text and ".building-" not in text, f"absolute or build path in {path}"
    assert region.catalog == region_dir / "stac" / "catalog.json" and region.catalog.is_file()
    dates = sorted(i.datetime for i in items if i.datetime)
    gaps = {(b - a).days for a, b in zip(dates, dates[1:], strict=False)}
    assert min(gaps) >= 20 and max(gaps) <= 31
    assert dates[0].month == 3 and dates[-1] <= pd.Timestamp("2026-11-30T23:59Z")


def test_truth_tables(region_dir: Path, region: RegionSummary) -> None:
    fields = gpd.read_parquet(region_dir / "truth" / "fields.parquet")
    assert fields.crs.to_epsg() == 32636
    assert set(fields["crop"]) == {"maize", "sorghum", "groundnut", "beans"}
    assert set(fields["status"]) <= {"normal", "late", "failed"}
    assert fields["field_id"].is_unique and len(fields) == region.n_fields
    assert fields.geometry.is_valid.all()
    assert 0.02 < fields.area.median() / 1e4 < 2.0
    truth = pd.read_parquet(region_dir / "truth" / "plots_truth.parquet")
    assert set(truth.columns) >= {"plot_id", "field_id", "true_crop", "overlap_with_field", "kind"}
    assert set(truth["kind"]) <= {"good", "shifted", "noncrop", "overlapping", "wrong_crop"}
    assert truth["field_id"].dropna().isin(fields["field_id"]).all()
    assert truth["overlap_with_field"].between(0, 1).all()


def test_bad_input_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="size_km"):
        build_region(tmp_path / "a", size_km=0.1)
    with pytest.raises(InvalidInput, match="scene_interval_days"):
        build_region(tmp_path / "b", size_km=1.0, scene_interval_days=(10, 5))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="not empty"):
        build_region(busy, size_km=1.0)
    assert (busy / "notes.txt").exists()


TINY = ["--size-km", "1", "--max-scenes", "1"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(*args: str) -> Result:
    from agrisense.app.cli.main import app

    return CliRunner().invoke(app, ["sample", "build", *args])


def test_cli_builds_and_refuses_to_replace_a_region_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    built = _build("--out", str(out), *TINY)
    assert built.exit_code == 0, built.output
    assert "fields" in built.output
    before = _files(out)
    (out / "notes.txt").write_text("mine")
    monkeypatch.setenv("AGRISENSE_REGION_DIR", str(out))  # no --out: the settings' region folder
    for args in (["--out", str(out)], []):
        refused = _build(*args, "--seed", "8", *TINY)
        assert refused.exit_code == 2
        assert "already holds a region; pass --force" in " ".join(refused.output.split())
    assert _files(out) == {**before, "notes.txt": b"mine"}
    replaced = _build("--force", "--seed", "8", *TINY)
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "region.json").read_text())["seed"] == 8
    assert (out / "notes.txt").read_text() == "mine", "the folder's other files stay"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"] and not list(out.glob(".*"))


def test_failed_build_leaves_no_partial_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agrisense.sample import build

    out = tmp_path / "r"
    assert _build("--out", str(out), *TINY).exit_code == 0
    before = _files(out)
    bad = _build("--out", str(out), "--force", "--size-km", "0.1")
    assert bad.exit_code == 2 and _files(out) == before

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "save_catalog", disk_full)  # fails after weather and scenes are written
    failed = _build("--out", str(out), "--force", "--seed", "8", *TINY)
    assert isinstance(failed.exception, OSError)
    assert _files(out) == before, "the region already there stays intact"
    assert _build("--out", str(tmp_path / "new"), *TINY).exit_code != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"], "no partial or hidden build folder is left"


def test_interrupted_build_leaves_no_partial_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agrisense.sample import build

    def ctrl_c(*args: object, **kwargs: object) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "save_catalog", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        build_region(tmp_path / "r", size_km=1.0, max_scenes=1)
    assert list(tmp_path.iterdir()) == []


def test_a_build_removes_what_a_killed_build_left_and_keeps_a_running_ones(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".r.building-{int(dead.stdout)}-0123abcd"  # SIGKILL: its own clean-up never ran
    (left / "truth").mkdir(parents=True)
    running = tmp_path / f".r.building-{os.getppid()}-4567ef01"  # a live process (this one's parent)
    running.mkdir()
    other = tmp_path / ".s.building-1-89ab"  # another region's: not ours to touch
    other.mkdir()
    assert _build("--out", str(tmp_path / "r"), *TINY).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["r", running.name, other.name])
