"""Where scenes come from: every STAC request goes through a :class:`SceneSource`.

``open_source`` picks the implementation: a static catalog (local path or ``http(s)://.../catalog.json``) is
walked with pystac, a STAC API (e.g. Earth Search v1) is searched with pystac-client. Both retry HTTP requests
with backoff (urllib3 ``Retry``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pystac
import requests
from pystac.stac_io import DefaultStacIO, StacIO
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from requests.adapters import HTTPAdapter
from shapely.geometry import box, shape
from urllib3 import Retry

from agrisense.errors import ImageryUnavailable, InvalidInput, NotFound
from agrisense.imagery.grid import LonLatBBox, check_bbox_lonlat

EARTH_SEARCH_V1 = "https://earth-search.aws.element84.com/v1"
DEFAULT_COLLECTION = "sentinel-2-l2a"


def _retry(max_retries: int = 5) -> Retry:
    return Retry(
        total=max_retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # retry POST searches too
    )


def _retrying_io(max_retries: int = 5, timeout: float = 30.0) -> StacApiIO:
    return StacApiIO(max_retries=_retry(max_retries), timeout=timeout)


class RetryingStacIO(DefaultStacIO):
    """pystac IO for static catalogs: local files as usual, http(s) via a requests session with retries."""

    def __init__(self, max_retries: int = 5, timeout: float = 30.0):
        super().__init__()
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=_retry(max_retries))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def read_text_from_href(self, href: str) -> str:
        if not _is_url(href):
            return super().read_text_from_href(href)
        response = self.session.get(href, timeout=self.timeout)
        response.raise_for_status()
        return response.text


def _utc_range(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00, end + 1 day 00:00)`` in UTC: both dates are included."""
    if isinstance(start, datetime) or isinstance(end, datetime):
        start, end = (d.date() if isinstance(d, datetime) else d for d in (start, end))
    if end < start:
        raise InvalidInput(f"end date {end} is before start date {start}.")
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def _item_time(item: pystac.Item) -> datetime:
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise InvalidInput(f"STAC item {item.id!r} has no datetime; the catalog is malformed.")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _finish(items: Iterable[pystac.Item], where: str, bbox: LonLatBBox, start: date, end: date) -> list[pystac.Item]:
    found = sorted(items, key=lambda it: (_item_time(it), it.id))
    if not found:
        raise ImageryUnavailable(
            f"no Sentinel-2 scenes in {where} for bbox {bbox} between {start} and {end}; widen the dates, "
            "raise max_cloud, or check that the catalog covers this place."
        )
    for item in found:
        item.make_asset_hrefs_absolute()
    return found


class SceneSource(ABC):
    """A searchable source of Sentinel-2 L2A STAC items."""

    collection: str

    @property
    @abstractmethod
    def identity(self) -> str:
        """A stable text naming the catalog and collection (part of the composite cache key)."""

    @abstractmethod
    def search(
        self, bbox_lonlat: LonLatBBox, start: date, end: date, max_cloud: float | None = None
    ) -> list[pystac.Item]:
        """Items of the collection intersecting the box, acquired on ``start``..``end`` (both included),
        with ``eo:cloud_cover <= max_cloud`` when given, sorted by datetime. ImageryUnavailable when none."""


class StaticCatalogSource(SceneSource):
    """A static STAC catalog (file or URL) walked with pystac; items are read once and filtered in memory."""

    def __init__(self, href: str, collection: str = DEFAULT_COLLECTION, stac_io: StacIO | None = None):
        self.href = href
        self.collection = collection
        self._io = stac_io or RetryingStacIO()
        self._items: list[pystac.Item] | None = None

    @property
    def identity(self) -> str:
        return f"static:{self.href}#{self.collection}"

    def _all_items(self) -> list[pystac.Item]:
        if self._items is None:
            try:
                root = pystac.read_file(self.href, stac_io=self._io)
            except (requests.RequestException, OSError) as exc:
                raise ImageryUnavailable(
                    f"cannot read the STAC catalog {self.href} ({exc}); check the path/URL and the network."
                ) from exc
            if isinstance(root, pystac.Item):
                items: Iterable[pystac.Item] = [root]
            elif isinstance(root, pystac.Catalog):
                items = root.get_items(recursive=True)
            else:
                raise InvalidInput(f"{self.href} is a {type(root).__name__}, not a STAC catalog or collection.")
            self._items = [it for it in items if it.collection_id in (None, self.collection)]
        return self._items

    def search(
        self, bbox_lonlat: LonLatBBox, start: date, end: date, max_cloud: float | None = None
    ) -> list[pystac.Item]:
        bbox = check_bbox_lonlat(bbox_lonlat)
        t0, t1 = _utc_range(start, end)
        area = box(*bbox)
        hits = []
        for item in self._all_items():
            if not t0 <= _item_time(item) < t1:
                continue
            footprint = shape(item.geometry) if item.geometry else (box(*item.bbox) if item.bbox else None)
            if footprint is None or not footprint.intersects(area):
                continue
            cloud = item.properties.get("eo:cloud_cover")
            if max_cloud is not None and cloud is not None and float(cloud) > max_cloud:
                continue
            hits.append(item.clone())
        return _finish(hits, f"catalog {self.href}", bbox, start, end)


class StacApiSource(SceneSource):
    """A STAC API searched with pystac-client (retries with backoff on 429/5xx)."""

    def __init__(self, url: str, collection: str = DEFAULT_COLLECTION, stac_io: StacApiIO | None = None):
        self.url = url
        self.collection = collection
        self._io = stac_io or _retrying_io()
        self._client: Client | None = None

    @property
    def identity(self) -> str:
        return f"api:{self.url.rstrip('/')}#{self.collection}"

    def search(
        self, bbox_lonlat: LonLatBBox, start: date, end: date, max_cloud: float | None = None
    ) -> list[pystac.Item]:
        bbox = check_bbox_lonlat(bbox_lonlat)
        t0, t1 = _utc_range(start, end)
        window = f"{t0.isoformat().replace('+00:00', 'Z')}/{(t1 - timedelta(milliseconds=1)).isoformat()[:23]}Z"
        query = {"eo:cloud_cover": {"lte": max_cloud}} if max_cloud is not None else None
        try:
            if self._client is None:
                self._client = Client.open(self.url, stac_io=self._io)
            found = self._client.search(collections=[self.collection], bbox=bbox, datetime=window, query=query)
            items = list(found.items())
        except (APIError, requests.RequestException) as exc:
            raise ImageryUnavailable(
                f"STAC API {self.url} failed after retries ({exc}); retry later or use a static catalog."
            ) from exc
        return _finish(items, f"STAC API {self.url}", bbox, start, end)


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in {"http", "https"}


def open_source(
    url_or_path: str,
    collection: str = DEFAULT_COLLECTION,
    *,
    max_retries: int = 5,
    timeout: float = 30.0,
) -> SceneSource:
    """A SceneSource for a static catalog (local path, or http(s) URL ending in ``.json``) or a STAC API URL.

    A local directory is read as ``<dir>/catalog.json``. HTTP requests retry ``max_retries`` times with
    backoff and time out after ``timeout`` seconds. Raises NotFound when a local catalog does not exist.
    """
    text = str(url_or_path)
    if max_retries < 0 or timeout <= 0:
        raise InvalidInput(f"max_retries must be >= 0 and timeout > 0, got {max_retries} and {timeout}.")
    if _is_url(text):
        if urlparse(text).path.endswith(".json"):
            return StaticCatalogSource(text, collection, RetryingStacIO(max_retries, timeout))
        return StacApiSource(text, collection, _retrying_io(max_retries, timeout))
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "catalog.json"
    if not path.is_file():
        raise NotFound(
            f"STAC catalog {path} does not exist; build the sample region (`agrisense sample build`) or set "
            "AGRISENSE_CATALOG to a catalog path or STAC API URL."
        )
    return StaticCatalogSource(str(path.resolve()), collection)
