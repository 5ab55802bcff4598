"""Where agrisense's bundled read-only resources are: the copy installed inside the package, else the source checkout.

A wheel carries the top-level ``models/`` and ``data/`` folders of the repository as data-only packages
(``agrisense/_bundled/…``, mapped in ``pyproject.toml``); in a source checkout (editable install, ``pytest``) they are
read where they are committed. Nothing here writes: state and caches live in the user's folders (``agrisense.config``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agrisense.errors import NotFound

PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed (or checked-out) ``agrisense`` package folder."""


@dataclass(frozen=True)
class Resource:
    """A bundled folder: where the wheel installs it (relative to the package), where a checkout has it (relative
    to the repository root), what it is and how to get it back."""

    installed: str
    source: str
    what: str
    hint: str


RESOURCES: dict[str, Resource] = {
    "models": Resource(
        "_bundled/models",
        "models",
        "the trained model bundles (landcover_unet, croptype_tcnn)",
        "reinstall agrisense, or retrain with `agrisense train cropland --out DIR` and set AGRISENSE_MODELS_DIR=DIR",
    ),
    "reference": Resource(
        "_bundled/reference",
        "data/reference",
        "the reference tables (crops.csv, ndvi_curves.csv)",
        "reinstall agrisense, or set AGRISENSE_REFERENCE_DIR to a folder with these tables",
    ),
    "sample_inputs": Resource(
        "_bundled/sample_inputs",
        "data/sample_inputs",
        "the calibration tables of the sample-county generator",
        "reinstall agrisense, or rebuild them with `agrisense sample calibrate --real DIR --out DIR`",
    ),
    "policies": Resource(
        "credit/policies",
        "agrisense/credit/policies",
        "the credit policies (default.yaml)",
        "reinstall agrisense, or set AGRISENSE_POLICY_FILE to a policy YAML",
    ),
    "web": Resource(
        "app/web",
        "agrisense/app/web",
        "the farmer web app (public/ and the npm packages in node_modules/)",
        "reinstall agrisense (a source checkout also needs `make web` for node_modules/)",
    ),
}


def source_root() -> Path | None:
    """The repository root when agrisense runs from a source checkout (editable install, tests), else None."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "models").is_dir() else None


def candidates(name: str) -> list[Path]:
    """Where resource ``name`` may be, in order: inside the installed package, then in the source checkout."""
    res = RESOURCES[name]
    found = [PACKAGE_DIR / res.installed]
    root = source_root()
    if root is not None and root / res.source not in found:
        found.append(root / res.source)
    return found


def resource_path(name: str) -> Path:
    """The folder of bundled resource ``name`` (``models``, ``reference``, ``sample_inputs``, ``policies``,
    ``web``); NotFound naming what is missing and how to get it when no copy exists."""
    if name not in RESOURCES:
        raise KeyError(f"unknown bundled resource {name!r}; known: {', '.join(RESOURCES)}")
    paths = candidates(name)
    for path in paths:
        if path.is_dir():
            return path
    res = RESOURCES[name]
    raise NotFound(
        f"agrisense's bundled {res.what} are missing (looked in {', '.join(str(p) for p in paths)}); {res.hint}."
    )
