"""Request bodies of the API (and the token); the response models are in ``agrisense.app.api.models``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Coordinate = Annotated[float, Field(allow_inf_nan=False)]
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3)]
Ring = list[Position]


class PolygonGeometry(BaseModel):
    """A GeoJSON Polygon in EPSG:4326, ``[longitude, latitude]`` corners, each ring closed."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon"]
    coordinates: list[Ring]


class MultiPolygonGeometry(BaseModel):
    """A GeoJSON MultiPolygon in EPSG:4326 (a field in several parts)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["MultiPolygon"]
    coordinates: list[list[Ring]]


Geometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]
Crop = Annotated[str, Field(min_length=1, max_length=32, examples=["maize"])]
Label = Annotated[str, Field(max_length=100)]
Area = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: Annotated[str, Field(min_length=6, max_length=20, examples=["13800138000"])]
    password: Annotated[
        str,
        Field(
            min_length=10,
            max_length=128,
            description="10 to 128 characters, not a common password and not the phone number.",
        ),
    ]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Literal["farmer", "analyst", "admin"] = "farmer"


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Annotated[
        str,
        Field(
            min_length=10,
            max_length=128,
            description="10 to 128 characters, not a common password and not the phone number.",
        ),
    ]


class PlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    geometry: Geometry
    declared_crop: Crop | None = None
    name: Label | None = None
    village: Label | None = None
    declared_area_ha: Area | None = None


class PlotPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    geometry: Geometry | None = None
    declared_crop: Crop | None = None
    name: Label | None = None
    village: Label | None = None
    declared_area_ha: Area | None = None


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plot_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(min_length=1, max_length=20)]
    consent: bool = Field(
        description="Explicit consent to process satellite imagery of these plots for this credit assessment."
    )
    consent_language: Literal["zh-CN", "en"] = Field(
        default="zh-CN",
        description="The language of the consent text the farmer read; the statement in that language is stored.",
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "decline", "change_limit"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    new_limit: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str
