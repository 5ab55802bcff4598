"""`agrisense evaluate` caches the region's composites in the configured cache dir, never in the region folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

MODEL = Path(__file__).resolve().parents[2] / "models" / "landcover_unet"


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.mark.skipif(not (MODEL / "bundle.json").is_file(), reason="no committed land-cover bundle")
def test_evaluate_writes_nothing_in_the_region(
    small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from agrisense.app.cli.models import evaluate_command
    from agrisense.ml.training.region import CACHE_NAME

    cache = tmp_path / "cache"
    monkeypatch.setenv("AGRISENSE_CACHE_DIR", str(cache))
    before = _listing(small_region)
    app = typer.Typer()
    app.command("evaluate")(evaluate_command)
    app.command("other")(lambda: None)  # two commands: typer keeps the subcommand name
    args = ["evaluate", "--model", str(MODEL), "--region", str(small_region), "--out", str(tmp_path / "eval")]
    result = CliRunner().invoke(app, [*args, "--device", "cpu", "--no-maps"])
    assert result.exit_code == 0, result.output
    assert _listing(small_region) == before  # nothing written, nothing changed in the region folder
    cached = list(cache.rglob(CACHE_NAME))
    assert len(cached) == 1 and cached[0].stat().st_size > 0
    assert (tmp_path / "eval" / "metrics.json").is_file()
