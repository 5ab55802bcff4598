"""agrisense calibrate-plots end to end on the small seeded region: it scores the region and compares it with the
truth; its 10 labelled plots are too few to fit, which must say so and leave the calibration file as it was."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.plot_calibration import read_calibrations, save_calibration
from agrisense.pipelines.calibrate_plots import calibrate_region, labelled_plots

from ..ml.test_plot_calibration import _calibration

pytestmark = pytest.mark.slow  # scores the whole small region on a Dask LocalCluster


def test_too_few_plots_say_so_and_keep_the_file(small_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = save_calibration(tmp_path / "plot_calibration.json", _calibration(region="elsewhere"))
    before = out.read_text(encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"\d+ labelled plots are too few to calibrate on; need at least 30"):
        calibrate_region(small_settings, out, folds=3)
    assert out.read_text(encoding="utf-8") == before
    assert [c.region for c in read_calibrations(out)] == ["elsewhere"]


def test_truth_without_its_columns_is_refused() -> None:
    with pytest.raises(InvalidInput, match="rebuild the region"):
        labelled_plots({}, pd.DataFrame({"plot_id": ["P1"]}))
