"""Package discovery only; everything else is in pyproject.toml.

``pyproject.toml`` cannot combine ``packages.find`` with extra packages, so this adds the data-only packages of
``[tool.setuptools.package-dir]`` (the repository's top-level ``models/`` and ``data/`` folders, shipped in the wheel
under ``agrisense/_bundled/``, with their sub-folders) to the ``agrisense*`` packages found in the source tree.
"""

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

MAPPED: dict[str, str] = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]

code = find_namespace_packages(
    include=["agrisense*"], exclude=["agrisense._bundled*", "agrisense.app.web.node_modules*"]
)
data = [f"{name}.{sub}" for name, folder in MAPPED.items() for sub in find_namespace_packages(where=folder)]
setup(packages=code + sorted(MAPPED) + data)
