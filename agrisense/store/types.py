"""A geometry column that is PostGIS ``geometry(Geometry, 4326)`` on PostgreSQL and WKT text on SQLite."""

from __future__ import annotations

from typing import Any

import shapely
from geoalchemy2 import Geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Text, TypeDecorator, TypeEngine


class GeometryType(TypeDecorator[BaseGeometry]):
    """Write-side geometry: binds a shapely geometry (lon/lat); PostGIS indexes and queries it, SQLite keeps WKT."""

    impl = Text
    cache_ok = True
    spatial_index = False  # the GiST index is made by the migration, not by geoalchemy2's DDL hooks

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        if dialect is None:  # geoalchemy2's DDL hooks probe without a dialect: we manage the column ourselves
            return Text()
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=False))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        wkt = value.wkt if isinstance(value, BaseGeometry) else str(value)
        return f"SRID=4326;{wkt}" if dialect.name == "postgresql" else wkt

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            from geoalchemy2.shape import to_shape

            return to_shape(value)
        return shapely.from_wkt(value)
