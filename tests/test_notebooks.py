"""The walkthrough notebook runs top to bottom on a small region."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

pytestmark = pytest.mark.slow  # a Jupyter kernel runs the walkthrough end to end (make test)


def test_walkthrough_executes(small_region: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGRISENSE_REGION_DIR", str(small_region))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # importing streamlit (dashboard tests) sets it to Agg
    nb = nbformat.read(NOTEBOOKS / "01_one_plot_walkthrough.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(
        o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    )
    assert "scenes" in outputs and "condition z" in outputs
    assert any(word in outputs for word in ("approve", "refer", "decline"))
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 4
    assert os.environ["AGRISENSE_REGION_DIR"] == str(small_region)
