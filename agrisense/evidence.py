"""What the satellite and the model say about one plot: the evidence that the credit engine turns into money."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlotEvidence:
    """Imagery + model evidence for one plot in one season.

    ``status`` is ``ok`` when the plot had enough clear observations to be scored; otherwise
    ``no_clear_imagery`` / ``outside_coverage`` / ``imagery_failed`` with ``reason`` in plain words, and the credit
    engine must refer the plot instead of scoring it.
    """

    plot_id: str
    status: str
    reason: str | None = None
    crop: str | None = None
    crop_probability: float | None = None
    class_probabilities: dict[str, float] = field(default_factory=dict)
    cropland_fraction: float | None = None
    clear_fraction: float = 0.0
    n_clear_periods: int = 0
    ndvi_by_month: dict[int, float] = field(default_factory=dict)
    scene_ids: tuple[str, ...] = ()
    model_version: str | None = None

    @property
    def imagery_ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
