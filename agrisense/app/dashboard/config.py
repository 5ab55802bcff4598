"""Dashboard settings: the product's :class:`agrisense.config.Settings` plus where the re-score runs lie."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agrisense.config import Settings


class DashboardSettings(BaseSettings):
    """Dashboard-only settings (env prefix ``AGRISENSE_DASHBOARD_``)."""

    model_config = SettingsConfigDict(env_prefix="AGRISENSE_DASHBOARD_", env_file=".env", extra="ignore")

    rescore_dir: Path | None = Field(
        default=None,
        description="Folder of `agrisense rescore --out` runs: one run (plots.parquet, run.json) or one sub-folder "
        "per run. Default: <state_dir>/rescore (var/rescore/).",
    )
    price_shocks: tuple[float, ...] = Field(
        default=(-0.3,), description="Price shocks of the portfolio stress test (fractions, -0.3 = prices 30 % lower)."
    )


@dataclass(frozen=True)
class AppConfig:
    """Everything a page needs to know about where things are."""

    settings: Settings
    rescore_dir: Path
    price_shocks: tuple[float, ...]

    @property
    def database_url(self) -> str:
        return self.settings.database_url_or_default


def load_config() -> AppConfig:
    """Read the settings from the environment (every script run: cheap, and tests change the environment)."""
    settings = Settings()
    dash = DashboardSettings()
    return AppConfig(
        settings=settings,
        rescore_dir=dash.rescore_dir if dash.rescore_dir is not None else settings.state_dir / "rescore",
        price_shocks=tuple(dash.price_shocks),
    )
