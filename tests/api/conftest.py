"""One service per test session over the small test region: farmers A and B, an analyst, an admin, and farmer A's
application scored for real (imagery + model + credit engine)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agrisense.config import Settings
from agrisense.lending import register_user
from agrisense.store import Database

PASSWORD = "correct-horse-7"


@dataclass
class World:
    client: TestClient
    settings: Settings
    db: Database
    features: list[dict[str, Any]]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def login(self, phone: str, password: str = PASSWORD) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/token", data={"username": phone, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def service_settings(region: Path, state: Path, **overrides: Any) -> Settings:
    return Settings(region_dir=region, state_dir=state, rate_limit_per_minute=100_000, **overrides)


@pytest.fixture(scope="session")
def world(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from agrisense.app.api.main import create_app

    settings = service_settings(small_region, tmp_path_factory.mktemp("state"))
    app = create_app(settings)
    features = json.loads((small_region / "plots.geojson").read_text())["features"]
    with TestClient(app) as client:
        w = World(client, settings, app.state.db, features)
        for who, phone in (("a", "13800000001"), ("b", "13800000002")):
            r = client.post(
                "/api/v1/auth/register", json={"phone": phone, "password": PASSWORD, "name": f"Farmer {who}"}
            )
            assert r.status_code == 201, r.text
            w.headers[who] = w.login(phone)
        register_user(w.db, phone="13900000001", password=PASSWORD, name="Analyst", role="analyst")
        register_user(w.db, phone="13900000002", password=PASSWORD, name="Admin", role="admin")
        w.headers["analyst"] = w.login("13900000001")
        w.headers["admin"] = w.login("13900000002")
        # farmer A: two plots (a1 applied for, a2 free); farmer B: one plot
        for key, who, feature in (("a1", "a", features[2]), ("a2", "a", features[3]), ("b1", "b", features[4])):
            crop = feature["properties"]["declared_crop"]
            r = client.post(
                "/api/v1/plots", json={"geometry": feature["geometry"], "declared_crop": crop}, headers=w.headers[who]
            )
            assert r.status_code == 201, r.text
            w.ids[key] = r.json()["id"]
        r = client.post(
            "/api/v1/applications", json={"plot_ids": [w.ids["a1"]], "consent": True}, headers=w.headers["a"]
        )
        assert r.status_code == 201, r.text
        w.ids["app_a"] = r.json()["id"]
        yield w
