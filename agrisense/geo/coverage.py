"""The service's imagery area: the one rule for outlines outside (or partly outside) it.

Used by the API's plot check (``agrisense.lending.plots.check_plot``) and by the reading of plot files for the CLI
(``agrisense.geo.plots.parse_plots`` with ``imagery_area``), so both refuse the same outlines with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry

OUTSIDE_IMAGERY = "OUTSIDE_IMAGERY"
"""``PlotError.code`` (and offer reason code) of an outline that lies wholly or partly outside the imagery area."""
PARTLY_OUTSIDE_IMAGERY = "PARTLY_OUTSIDE_IMAGERY"
"""The API's message code of an outline part of which lies outside the imagery area."""


@dataclass(frozen=True)
class ImageryArea:
    """The lon/lat box the service has imagery for (a region's ``bbox_lonlat``) and the name shown to farmers."""

    name: str
    bbox_lonlat: tuple[float, float, float, float]

    def problem_code(self, geometry: BaseGeometry) -> str | None:
        """``None`` when the outline lies inside the imagery, else its message code: ``OUTSIDE_IMAGERY`` (wholly
        outside) or ``PARTLY_OUTSIDE_IMAGERY``. Front ends localise the code (``agrisense.app.api.messages``)."""
        coverage = shapely.box(*self.bbox_lonlat)
        if not coverage.intersects(geometry):
            return OUTSIDE_IMAGERY
        if not coverage.contains(geometry):
            return PARTLY_OUTSIDE_IMAGERY
        return None

    def problem(self, geometry: BaseGeometry) -> str | None:
        """``None`` when the outline lies inside the imagery; else the message for the farmer.

        An outline any part of which lies outside the box is refused: the imagery cannot assess that part.
        """
        minx, miny, maxx, maxy = self.bbox_lonlat
        code = self.problem_code(geometry)
        if code == OUTSIDE_IMAGERY:
            return (
                f"This field is outside the area our satellite imagery covers ({self.name}: longitude "
                f"{minx:.4f} to {maxx:.4f}, latitude {miny:.4f} to {maxy:.4f}). We cannot assess it yet."
            )
        if code == PARTLY_OUTSIDE_IMAGERY:
            return (
                "Part of this field lies outside the area our satellite imagery covers. Draw only the part inside "
                "the county, or contact the branch office."
            )
        return None
