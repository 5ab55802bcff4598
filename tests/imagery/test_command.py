from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from pyproj import Transformer
from typer.testing import CliRunner

from agrisense.app.cli.imagery import imagery_app

from .http_faults import serve_directory
from .s2_fixture import X0, Y0

pytestmark = pytest.mark.timeout(30)
ARGS = ["--start", "2026-03-01", "--end", "2026-05-31"]


def _square(x: float, y: float, size: float) -> dict:
    to_ll = Transformer.from_crs(32636, 4326, always_xy=True)
    ring = [to_ll.transform(*p) for p in [(x, y), (x + size, y), (x + size, y - size), (x, y - size), (x, y)]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def plots_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features = [
        {"type": "Feature", "properties": {"plot_id": "corner"}, "geometry": _square(X0 + 20, Y0 - 20, 100)},
        {"type": "Feature", "properties": {"plot_id": "middle"}, "geometry": _square(X0 + 300, Y0 - 300, 150)},
        {  # a bow-tie: rejected by agrisense.geo, kept in the output with its reason
            "type": "Feature",
            "properties": {"plot_id": "bowtie"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[33, 2], [33.001, 2.001], [33.001, 2], [33, 2.001], [33, 2]]],
            },
        },
    ]
    path = tmp_path_factory.mktemp("plots") / "plots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _run(catalog: str, plots: Path, out: Path, *extra: str) -> pd.DataFrame:
    app = typer.Typer()
    app.add_typer(imagery_app, name="imagery")
    args = ["imagery", "timeseries", "--catalog", catalog, "--plots", str(plots), *ARGS, "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def test_http_and_local_catalogs_give_the_same_table(s2_catalog: Path, plots_file: Path, tmp_path: Path) -> None:
    local = _run(str(s2_catalog), plots_file, tmp_path / "local.parquet", "--cache-dir", str(tmp_path / "c"))
    with serve_directory(s2_catalog.parent.parent) as (base, _):
        remote = _run(f"{base}/{s2_catalog.parent.name}/catalog.json", plots_file, tmp_path / "remote.parquet")
    pd.testing.assert_frame_equal(local, remote)
    assert len(local) == 3 * 3  # 3 plots (one rejected) x 3 months
    for column in ("plot_id", "period_start", "ndvi_median", "clear_fraction", "n_obs", "scene_ids", "status"):
        assert column in local
    rows = local.set_index(["plot_id", "period_start"])
    assert (rows.loc["bowtie"].status == "invalid_plot").all() and "cross" in rows.loc["bowtie"].reason.iloc[0]
    march = rows.loc[("middle", pd.Timestamp("2026-03-01"))]
    assert (
        march.status == "ok"
        and march.n_obs == 2
        and list(march.scene_ids)
        == [
            "S2B_36NXF_20260305_0_L2A",
            "S2B_36NXF_20260320_0_L2A",
        ]
    )
    assert 0.6 < march.ndvi_median < 0.8
    corner = rows.loc[("corner", pd.Timestamp("2026-03-01"))]
    assert corner.n_obs == 1  # under the 5 March cloud: only the 20 March scene sees it
    april = rows.loc[("middle", pd.Timestamp("2026-04-01"))]
    assert april.status == "too_few_clear_observations" and april.filled_fraction == 1.0  # gap-filled month


def test_bad_arguments_exit_with_a_message(s2_catalog: Path, plots_file: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(imagery_app, name="imagery")
    base = ["imagery", "timeseries", "--catalog", str(s2_catalog), "--plots", str(plots_file)]
    bad_date = CliRunner().invoke(app, [*base, "--start", "2026-13-01", "--end", "2026-05-31", "--out", "x.parquet"])
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in " ".join(bad_date.output.split())
    missing = CliRunner().invoke(
        app,
        [
            "imagery",
            "timeseries",
            "--catalog",
            str(tmp_path / "nope"),
            "--plots",
            str(plots_file),
            *ARGS,
            "--out",
            str(tmp_path / "o.parquet"),
        ],
    )
    assert missing.exit_code == 3 and "does not exist" in " ".join(missing.output.split())
