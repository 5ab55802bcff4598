from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agrisense.errors import ImageryUnavailable, InvalidInput, NotFound
from agrisense.imagery.catalog import StacApiSource, StaticCatalogSource, open_source

INSIDE = (32.99, 0.89, 33.02, 0.92)


def test_static_search_filters_dates_and_sorts(s2_catalog: Path) -> None:
    source = open_source(str(s2_catalog))
    assert isinstance(source, StaticCatalogSource)
    items = source.search(INSIDE, date(2026, 3, 5), date(2026, 4, 10))
    assert [it.datetime.day for it in items] == [5, 20, 10]
    assert all(Path(it.assets["red"].href).is_absolute() for it in items)


def test_static_search_by_directory_and_cloud_cover(s2_catalog: Path) -> None:
    items = open_source(str(s2_catalog.parent)).search(INSIDE, date(2026, 1, 1), date(2026, 12, 31), max_cloud=50)
    assert len(items) == 3 and all(it.properties["eo:cloud_cover"] <= 50 for it in items)


def test_no_items_and_missing_catalog_are_clear_errors(s2_catalog: Path, tmp_path: Path) -> None:
    source = open_source(str(s2_catalog))
    with pytest.raises(ImageryUnavailable, match="no Sentinel-2 scenes"):
        source.search((10.0, 10.0, 10.1, 10.1), date(2026, 3, 1), date(2026, 11, 30))
    with pytest.raises(ImageryUnavailable):
        source.search(INSIDE, date(2025, 1, 1), date(2025, 2, 1))
    with pytest.raises(NotFound, match="sample build"):
        open_source(str(tmp_path / "nope" / "catalog.json"))
    with pytest.raises(InvalidInput):
        source.search(INSIDE, date(2026, 5, 1), date(2026, 3, 1))


def test_urls_choose_the_right_source() -> None:
    assert isinstance(open_source("https://earth-search.aws.element84.com/v1"), StacApiSource)
    assert isinstance(open_source("https://example.org/stac/catalog.json"), StaticCatalogSource)
