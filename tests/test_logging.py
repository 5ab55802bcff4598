"""One logging set-up (agrisense.logs) for the CLI, the API (request ids, one line per request) and the jobs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agrisense.logs import NOISY_LOGGERS, configure_logging, configured, request_id_var

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ ")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put the root logger and the quietened loggers back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


def _ours(root: logging.Logger | None = None) -> list[logging.Handler]:
    return [h for h in (root or logging.getLogger()).handlers if getattr(h, "_agrisense_handler", False)]


# ---- agrisense.logs -------------------------------------------------------------------------------------------


def test_format_is_one_greppable_line_with_key_values(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    log = logging.getLogger("agrisense.pipelines.rescore_run")
    log.info("tile %d/%d done", 3, 12, extra={"run": "2026-season-ab12", "tile": "t 7", "cached": True, "n": None})
    log.debug("not shown")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and LINE.match(err), err
    assert err.rstrip().endswith(
        'INFO agrisense.pipelines.rescore_run run=2026-season-ab12 tile="t 7" cached=yes n=- tile 3/12 done'
    )


def test_idempotent_and_level_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGRISENSE_LOG_LEVEL", "warning")
    configure_logging()
    configure_logging()
    assert len(_ours()) == 1 and configured()
    assert logging.getLogger().level == logging.WARNING
    configure_logging("DEBUG")  # an explicit level wins over the environment
    assert len(_ours()) == 1 and logging.getLogger().level == logging.DEBUG
    with pytest.raises(ValueError, match="not one of"):
        configure_logging("loud")


def test_noisy_libraries_quiet_unless_debug() -> None:
    configure_logging("INFO")
    assert not logging.getLogger("distributed.worker").isEnabledFor(logging.INFO)
    assert not logging.getLogger("urllib3").isEnabledFor(logging.INFO)
    assert logging.getLogger("urllib3").isEnabledFor(logging.WARNING)
    assert logging.getLogger("agrisense.x").isEnabledFor(logging.INFO)
    configure_logging("DEBUG")
    assert logging.getLogger("distributed.worker").isEnabledFor(logging.DEBUG)


def test_json_lines_and_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    token = request_id_var.set("req-1")
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("agrisense.t").exception("failed", extra={"tile": "t1"})
    finally:
        request_id_var.reset(token)
    doc = json.loads(capsys.readouterr().err)
    assert doc["level"] == "ERROR" and doc["message"] == "failed" and doc["tile"] == "t1"
    assert doc["request_id"] == "req-1" and "RuntimeError: boom" in doc["exception"]


def test_nothing_configured_at_import() -> None:
    # in a fresh interpreter: reloading agrisense.logs here would give it a second request-id variable, which the
    # already imported middleware would not see (and later tests of this process would fail for that reason)
    import subprocess
    import sys

    code = "import logging, agrisense.logs, agrisense.app.api.logging_mw; print(len(logging.getLogger().handlers))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"


# ---- CLI --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weather_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .agronomy.conftest import make_synthetic_weather

    folder = tmp_path_factory.mktemp("region")
    (folder / "weather").mkdir()
    make_synthetic_weather(1990, 2021).to_csv(folder / "weather" / "daily.csv", index=False)
    return folder


def test_cli_log_level_keeps_stdout_json(weather_region: Path) -> None:
    from agrisense.app.cli.main import app

    args = ["--log-level", "DEBUG", "quote", "--crop", "maize", "--area-ha", "1.2", "--season", "2027"]
    result = CliRunner().invoke(app, [*args, "--region", str(weather_region), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["area_ha"] == 1.2  # logs never reach stdout
    assert logging.getLogger().level == logging.DEBUG and len(_ours()) == 1
    logging.getLogger("agrisense.test").debug("after the command")
    assert configured()


def test_cli_rejects_a_bad_level() -> None:
    from agrisense.app.cli.main import app

    result = CliRunner().invoke(app, ["--log-level", "chatty", "quote", "--help"])
    assert result.exit_code == 2 and "not one of" in result.output


def test_cli_logs_go_to_stderr() -> None:
    import typer

    from agrisense.app.cli.main import _root

    probe = typer.Typer()
    probe.callback()(_root)

    @probe.command()
    def hello() -> None:
        logging.getLogger("agrisense.probe").info("working", extra={"step": 1})
        typer.echo("result")

    result = CliRunner().invoke(probe, ["--log-level", "info", "hello"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "result\n"
    assert LINE.match(result.stderr) and result.stderr.rstrip().endswith("agrisense.probe step=1 working")


# ---- API --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from agrisense.app.api.main import create_app
    from agrisense.config import Settings

    app = create_app(Settings(state_dir=tmp_path_factory.mktemp("state"), rate_limit_per_minute=100_000))

    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("kaput")

    with TestClient(app) as client:
        yield client


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "agrisense.app.api.requests"]


def test_request_id_generated_and_logged(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    r = api.post(
        "/api/v1/auth/token?password=hunter2",
        data={"username": "13800009999", "password": "s3cret-pass"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert r.status_code == 401
    rid = r.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    (line,) = _request_lines(caplog)
    assert line.__dict__["request_id"] == rid and line.levelno == logging.INFO
    assert (line.method, line.path, line.status) == ("POST", "/api/v1/auth/token", 401)  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    text = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records if not r.name.startswith("httpx"))
    assert "s3cret-pass" not in text and "hunter2" not in text and "not-a-token" not in text
    assert "bearer" not in text.lower() and "authorization" not in text.lower()


def test_incoming_request_id_kept_when_well_formed(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = api.get("/healthz", headers={"X-Request-ID": "edge-7f3a:42"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "edge-7f3a:42"
    (line,) = _request_lines(caplog)
    assert line.levelno == logging.DEBUG  # probes are DEBUG
    for bad in ("x" * 65, "has space", "semi;colon", "new\\nline", ""):
        r = api.get("/api/v1/auth/me", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"]), bad


def test_request_line_in_the_common_format(api: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    r = api.get("/api/v1/auth/me?token=abc", headers={"X-Request-ID": "trace-1"})
    assert r.status_code == 401
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "agrisense.app.api.requests" in ln]
    assert len(lines) == 1 and LINE.match(lines[0])
    assert "request_id=trace-1 method=GET path=/api/v1/auth/me status=401 duration_ms=" in lines[0]
    assert "token=abc" not in lines[0]


def test_signed_in_user_is_on_the_line(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    r = api.post("/api/v1/auth/register", json={"phone": "13800000077", "password": "long-enough-1", "name": "L"})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/auth/token", data={"username": "13800000077", "password": "long-enough-1"})
    token = r.json()["access_token"]
    caplog.set_level(logging.INFO)
    caplog.clear()  # only the /me line (the root level may already be INFO from another test's configure_logging)
    r = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    (line,) = _request_lines(caplog)
    assert isinstance(line.user, int)  # type: ignore[attr-defined]
    assert token not in caplog.text


def test_server_error_logged_with_id_and_traceback(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    r = api.get("/boom-for-test", headers={"X-Request-ID": "err-1"})
    assert r.status_code == 500 and r.headers["X-Request-ID"] == "err-1"
    assert r.json()["request_id"] == "err-1" and r.json()["error"] == "InternalError"
    (line,) = _request_lines(caplog)
    assert line.levelno == logging.ERROR and line.status == 500  # type: ignore[attr-defined]
    assert line.exc_info and "kaput" in caplog.text


def test_lines_logged_inside_a_request_carry_its_id(api: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    app = api.app

    @app.get("/inner-log-for-test")  # type: ignore[attr-defined]
    def inner() -> dict[str, str]:
        logging.getLogger("agrisense.inner").info("working on it")
        return {"ok": "yes"}

    r = api.get("/inner-log-for-test", headers={"X-Request-ID": "inner-9"})
    assert r.status_code == 200
    err = capsys.readouterr().err
    assert "agrisense.inner request_id=inner-9 working on it" in err


# ---- jobs --------------------------------------------------------------------------------------------------------


def test_rescore_tile_progress_lines(caplog: pytest.LogCaptureFixture) -> None:
    from agrisense.pipelines.rescore_run import _log_tile

    seen: list[str] = []
    done = _log_tile("2026-season-x", 2, lambda s: seen.append(s["tile_id"]))
    caplog.set_level(logging.INFO, logger="agrisense.pipelines.rescore_run")
    for tile in ("t1", "t2"):
        done({"tile_id": tile, "plots": 4, "scenes_used": 6, "total_s": 1.25})
    assert seen == ["t1", "t2"]
    assert [r.getMessage() for r in caplog.records] == ["tile 1/2 done", "tile 2/2 done"]
    last = caplog.records[1].__dict__
    assert (last["run"], last["tile"], last["plots"], last["cached"], last["seconds"]) == (
        "2026-season-x",
        "t2",
        4,
        False,
        1.25,
    )


def test_rescore_logs_plan_tiles_and_summary(
    small_region: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from agrisense.config import Settings
    from agrisense.pipelines.rescore_run import rescore_region

    settings = Settings(region_dir=small_region, cache_dir=tmp_path / "cache", device="cpu")
    caplog.set_level(logging.DEBUG, logger="agrisense.pipelines.rescore_run")
    run = rescore_region(settings, tmp_path / "out", n_workers=0)
    ours = [r for r in caplog.records if r.name == "agrisense.pipelines.rescore_run"]
    messages = [r.getMessage() for r in ours]
    n = run.n_tiles
    assert messages[0] == f"planned {n} tiles: {n} to score, 0 unchanged"
    assert [m for m in messages if m.startswith("tile ")] == [f"tile {i}/{n} done" for i in range(1, n + 1)]
    assert messages[-1].startswith(f"rescore done: {run.n_plots} plots in {n} tiles ({n} computed, 0 unchanged)")
    assert {r.__dict__["run"] for r in ours if "run" in r.__dict__} == {run.run_id}

    caplog.clear()
    again = rescore_region(settings, tmp_path / "out", n_workers=0)  # nothing changed: every tile is reused
    unchanged = [r for r in caplog.records if r.getMessage() == "tile unchanged"]
    assert len(unchanged) == again.n_tiles and all(r.__dict__["cached"] is True for r in unchanged)
    assert not any(r.getMessage().startswith("tile 1/") for r in caplog.records)
