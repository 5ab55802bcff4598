"""The built wheel, installed into a fresh virtual environment outside the repository, is a working ``agrisense``.

The fresh environment gets the dependencies from this test's own environment through a ``.pth`` file (no second
torch install); the wheel's ``agrisense`` comes first on its path, which the tests check. Every command runs from a
folder outside the repository with ``HOME`` in a temporary folder and no ``AGRISENSE_*`` settings, so the defaults
(bundled resources, user data and cache folders) are what is exercised.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "agrisense" / "app" / "web" / "node_modules"
VENDOR_DIST = ["leaflet", "@geoman-io/leaflet-geoman-free"]  # only their LICENSE and dist/ go into the wheel

QUOTE = ["quote", "--crop", "maize", "--area-ha", "1.2", "--season", "2027", "--crop-probability", "0.9", "--json"]


def _source_copy(dest: Path) -> Path:
    """The working tree's tracked and not-ignored files (what ``pip install .`` of a clean checkout sees), plus the
    built npm packages when ``make web`` has run: no stale ``build/`` of the checkout can leak into the wheel."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for package in VENDOR_DIST:
        if (NODE_MODULES / package / "dist").is_dir():
            target = dest / NODE_MODULES.relative_to(REPO) / package
            shutil.copytree(NODE_MODULES / package / "dist", target / "dist")
            if (NODE_MODULES / package / "LICENSE").is_file():
                shutil.copy2(NODE_MODULES / package / "LICENSE", target / "LICENSE")
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the source files")
    src = _source_copy(tmp_path_factory.mktemp("wheel-src"))
    out = tmp_path_factory.mktemp("wheel-dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("agrisense-*.whl")
    return built


@dataclass
class Env:
    python: Path
    agrisense: Path
    site_packages: Path
    home: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.agrisense), *args],
            cwd=self.cwd,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def files(self) -> set[Path]:
        """Every file of the installed package's site-packages, bytecode caches aside."""
        return {p for p in self.site_packages.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("fresh")
    assert REPO not in root.resolve().parents, "the fresh venv must live outside the repository"
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies (torch included) from this environment, after the fresh venv's own site-packages
    dev_paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site_packages / "_agrisense_test_deps.pth").write_text("".join(f"{p}\n" for p in dev_paths))
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    home = root / "home"
    home.mkdir()
    cwd = root / "work"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGRISENSE_", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), AGRISENSE_DEVICE="cpu", AGRISENSE_DASK_WORKERS="1")
    return Env(python, venv / "bin" / "agrisense", site_packages, home, cwd, env)


def test_wheel_holds_one_package_and_its_resources(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert zf.read(top_level).decode().split() == ["agrisense"]
    assert {n.split("/")[0] for n in names} == {"agrisense", top_level.split("/")[0]}
    for required in [
        "agrisense/credit/policies/default.yaml",
        "agrisense/_bundled/reference/crops.csv",
        "agrisense/_bundled/reference/ndvi_curves.csv",
        "agrisense/_bundled/sample_inputs/spectra_monthly_mean.csv",
        "agrisense/_bundled/sample_inputs/weather_scalars.json",
        "agrisense/_bundled/models/landcover_unet/bundle.json",
        "agrisense/_bundled/models/landcover_unet/model.pt",
        "agrisense/_bundled/models/croptype_tcnn/bundle.json",
        "agrisense/_bundled/models/croptype_tcnn/model.pt",
        "agrisense/app/web/public/index.html",
        "agrisense/app/web/public/static/app.js",
        "agrisense/store/migrations/script.py.mako",
        "agrisense/app/dashboard/Home.py",
        "agrisense/lending/common_passwords.txt",  # the password rule's list (issue #16)
    ]:
        assert required in names, required
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    if (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file():
        assert "agrisense/app/web/node_modules/leaflet/dist/leaflet.js" in names
        # only the built files of the npm packages, not the rest of node_modules
        assert not any(n.startswith("agrisense/app/web/node_modules/@turf") for n in names)


@pytest.mark.slow
def test_installed_quote_uses_bundled_resources_and_writes_nothing_in_the_package(installed: Env) -> None:
    imported = subprocess.run(
        [
            str(installed.python),
            "-c",
            "import agrisense, agrisense.config as c; print(agrisense.__file__); "
            "s = c.Settings(); print(s.models_dir); print(s.state_dir); print(s.region_dir)",
        ],
        cwd=installed.cwd,
        env=installed.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    package_file, models_dir, state_dir, region_dir = map(Path, imported)
    assert installed.site_packages in package_file.parents, package_file
    assert REPO not in package_file.parents
    assert installed.site_packages in models_dir.parents
    assert installed.home in state_dir.parents and installed.home in region_dir.parents

    before = installed.files()
    result = installed.run(*QUOTE)
    assert result.returncode == 0, result.stderr
    offer = json.loads(result.stdout)
    assert offer["decision"] in {"approve", "review", "decline"}
    assert offer["credit_limit"] > 0
    assert installed.files() == before, "a command wrote into site-packages"
    assert list(installed.cwd.iterdir()) == []


@pytest.mark.slow
def test_installed_score_on_a_region(installed: Env, small_region: Path) -> None:
    plots = json.loads((small_region / "plots.geojson").read_text())
    plots["features"] = plots["features"][:3]
    path = installed.cwd / "plots.geojson"
    path.write_text(json.dumps(plots))
    before = installed.files()
    try:
        missing = installed.run("score", str(path), "--json")  # the default sample county is not built here
        assert missing.returncode == 3, missing.stderr
        assert "agrisense sample build" in missing.stderr

        result = installed.run("score", str(path), "--json", AGRISENSE_REGION_DIR=str(small_region))
        assert result.returncode == 0, result.stderr
        offers = json.loads(result.stdout)
        assert [o["plot_id"] for o in offers] == [f["properties"]["plot_id"] for f in plots["features"]]
        assert all("decision" in o and "credit_limit" in o for o in offers)
        assert installed.files() == before, "a command wrote into site-packages"
        assert (installed.home / ".cache" / "agrisense").is_dir(), "the imagery cache goes to the user cache folder"
    finally:
        path.unlink()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture()
def served(installed: Env, small_region: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(installed.agrisense), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=installed.cwd,
        env={**installed.env, "AGRISENSE_REGION_DIR": str(small_region)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"agrisense serve exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}"
                )
            try:
                if _get(f"{base}/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("agrisense serve did not answer within 120 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_installed_serve_answers_the_farmer_app(installed: Env, served: str) -> None:
    status, body = _get(f"{served}/")
    assert status == 200 and b"<html" in body.lower()
    status, body = _get(f"{served}/static/app.js")
    assert status == 200 and body
    status, body = _get(f"{served}/app-config.json")
    assert status == 200 and json.loads(body)["crops"]
    assert any((installed.home / ".local" / "share" / "agrisense").glob("agrisense.db*")), "SQLite in the user folder"
    if not (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file():
        pytest.skip("agrisense/app/web/node_modules is absent (run `make web`): /vendor/leaflet/leaflet.js not checked")
    status, body = _get(f"{served}/vendor/leaflet/leaflet.js")
    assert status == 200 and b"Leaflet" in body[:2000]


def test_missing_resource_names_it_and_the_remedy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agrisense import resources
    from agrisense.errors import NotFound

    assert resources.resource_path("models").joinpath("landcover_unet", "bundle.json").is_file()
    monkeypatch.setattr(resources, "PACKAGE_DIR", tmp_path / "site-packages" / "agrisense")
    monkeypatch.setattr(resources, "source_root", lambda: None)
    with pytest.raises(NotFound, match=r"trained model bundles .* reinstall agrisense"):
        resources.resource_path("models")


def test_missing_optional_dependency_names_the_extra() -> None:
    from agrisense.app.cli.errors import missing_extra

    assert missing_extra(ModuleNotFoundError("No module named 'fastapi'", name="fastapi")) == (
        "this command needs the optional dependency 'fastapi': pip install \"agrisense[service]\""
    )
    assert "agrisense[dashboard]" in (missing_extra(ModuleNotFoundError(name="streamlit.web")) or "")
    assert missing_extra(ModuleNotFoundError(name="numpy")) is None
