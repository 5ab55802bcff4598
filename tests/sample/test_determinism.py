"""Same seed -> byte-identical region; another seed -> different content."""

from __future__ import annotations

from pathlib import Path

from agrisense.sample.build import build_region


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_is_byte_identical(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # a relative output folder (as `make data` passes) gives the same bytes
    a = build_region(Path("a"), seed=11, size_km=1.0, max_scenes=3)
    b = build_region(tmp_path / "b", seed=11, size_km=1.0, max_scenes=3)
    fa, fb = _files(a.out_dir), _files(b.out_dir)
    assert fa.keys() == fb.keys()
    assert any(k.endswith(".tif") for k in fa) and any(k.endswith("catalog.json") for k in fa)
    different = [k for k in fa if fa[k] != fb[k]]
    assert different == []
    item = next(k for k in fa if k.endswith("_L2A.json"))
    assert b'"href": "./scl.tif"' in fa[item], "asset hrefs are relative to their item"


def test_other_seed_differs(tmp_path: Path) -> None:
    a = build_region(tmp_path / "a", seed=11, size_km=1.0, max_scenes=2)
    c = build_region(tmp_path / "c", seed=12, size_km=1.0, max_scenes=2)
    fa, fc = _files(a.out_dir), _files(c.out_dir)
    blue_a = [v for k, v in fa.items() if k.endswith("blue.tif")]
    blue_c = [v for k, v in fc.items() if k.endswith("blue.tif")]
    assert blue_a[0] != blue_c[0]
    assert fa["plots.geojson"] != fc["plots.geojson"]
    assert fa["weather/daily.csv"] != fc["weather/daily.csv"]
    # Rebuilding into an existing region folder replaces it cleanly.
    again = build_region(tmp_path / "a", seed=12, size_km=1.0, max_scenes=2)
    assert _files(again.out_dir) == fc
