"""One settings object for the whole product (env prefix ``AGRISENSE_``), built on demand, never at import.

Defaults never point next to the source: bundled read-only resources (models, reference tables, policy) come from
``agrisense.resources`` (the installed copy, else the source checkout); state and caches go to the user's folders
(``platformdirs``), or wherever ``AGRISENSE_STATE_DIR`` / ``AGRISENSE_CACHE_DIR`` say (the Makefile keeps them in
``var/`` and ``data/cache/`` of the checkout).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from agrisense.resources import resource_path, source_root

APP_NAME = "agrisense"


def default_region_dir() -> Path:
    """The sample county: ``data/sample_county`` of the source checkout, else ``<user data>/sample_county``
    (where ``agrisense sample build`` writes it by default)."""
    root = source_root()
    if root is not None:
        return root / "data" / "sample_county"
    return Path(platformdirs.user_data_dir(APP_NAME)) / "sample_county"


def default_state_dir() -> Path:
    """The user's data folder for agrisense (e.g. ``~/.local/share/agrisense``)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_cache_dir() -> Path:
    """The user's cache folder for agrisense (e.g. ``~/.cache/agrisense``)."""
    return Path(platformdirs.user_cache_dir(APP_NAME))


class Settings(BaseSettings):
    """Runtime settings. Every field can be set as ``AGRISENSE_<NAME>`` in the environment or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="AGRISENSE_", env_file=".env", extra="ignore")

    region_dir: Path = Field(
        default_factory=default_region_dir,
        description="Region folder with region.json, stac/, plots.geojson, weather/. Default: the sample county "
        "(data/sample_county in a source checkout, else <user data dir>/sample_county; `agrisense sample build`).",
    )
    reference_dir: Path = Field(
        default_factory=lambda: resource_path("reference"),
        description="Reference tables (crops.csv, ndvi_curves.csv). Default: the bundled ones.",
    )
    models_dir: Path = Field(
        default_factory=lambda: resource_path("models"),
        description="Trained model bundles with model cards. Default: the bundled ones.",
    )
    policy_file: Path = Field(
        default_factory=lambda: resource_path("policies") / "default.yaml",
        description="Versioned credit policy (YAML). Default: the bundled default.yaml.",
    )
    real_data_dir: Path | None = Field(
        default=None,
        description="The real data the sample generator is calibrated on (crop_samples/, parcels/, weather/); "
        "only `agrisense sample calibrate` needs it.",
    )
    catalog: str | None = Field(
        default=None,
        description="STAC source: a static catalog path or URL, or a STAC API URL. Default: the region's catalog.",
    )
    collection: str = Field(default="sentinel-2-l2a", description="STAC collection of Sentinel-2 L2A items.")
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="On-disk cache of loaded cubes. Default: the user's cache folder (~/.cache/agrisense).",
    )
    device: str = Field(default="auto", description="Torch device for inference: auto (CUDA when present), cpu, cuda.")
    dask_workers: int = Field(default=2, ge=1, description="Workers of the default Dask LocalCluster.")
    dask_scheduler: str | None = Field(default=None, description="Address of an existing Dask scheduler.")
    tile_reuse_s: float | None = Field(
        default=None,
        ge=0,
        description="Seconds a process reuses a scored imagery tile from memory before it asks the catalog for new "
        "scenes again. Default: 300 in the API service, 0 (always ask) in commands and batch jobs.",
    )

    # Service (API, farmer app, dashboard)
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Runtime state of the service: the SQLite database, the generated signing key, rescore runs. "
        "Default: the user's data folder (~/.local/share/agrisense).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite in state_dir; production: postgresql+psycopg://… with PostGIS.",
    )
    auth_secret: SecretStr | None = Field(
        default=None,
        description="Token signing key. Default: a random key generated once into state_dir/secret.key (mode 600).",
    )
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60, description="Lifetime of an access token.")
    terms_version: str = Field(default="2026-11", description="Version of the consent terms farmers agree to.")
    max_request_bytes: int = Field(default=2_000_000, ge=1024, description="Largest accepted request body.")
    rate_limit_per_minute: int = Field(default=600, ge=1, description="Requests per minute per client address.")
    rate_limit_store: Literal["memory", "database"] = Field(
        default="memory",
        description="Where request counts live: this process's memory (one worker) or the database (shared by every "
        "worker: set it with uvicorn --workers N).",
    )
    serve_warm_up: bool = Field(
        default=False,
        description="Load the model in the background when the API starts (agrisense.warmup). Off by default: on a "
        "quiet machine it showed no gain and the first request waited for it (docs/service.md, Start-up).",
    )

    @property
    def database_url_or_default(self) -> str:
        """The configured database URL, else the embedded SQLite file in state_dir."""
        return self.database_url or f"sqlite:///{self.state_dir / 'agrisense.db'}"

    @property
    def catalog_source(self) -> str:
        """The STAC source to read: the configured one, else the region's static catalog."""
        return self.catalog or str(self.region_dir / "stac" / "catalog.json")


def settings_with(**overrides: object) -> Settings:
    """Settings from the environment with the given fields set, those given as ``None`` left to the environment
    (what every command-line option and front end uses)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built once per process on first use."""
    return Settings()
