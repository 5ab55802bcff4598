# agrisense: two commands do all set-up on a fresh machine.
#   make demo   install (Python + the farmer app's npm packages) + build both sample counties + score every sample plot (reports in out/demo/, out/demo_cn/)
#   make test   install + lint + type-check + all tests
#   make check  install + lint + type-check + the fast tests (not marked slow): about 3 minutes (docs/testing.md)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
REGION := data/sample_county
REGION_CN := data/sample_county_cn
# The checkout's own workflows keep their state and imagery cache in var/ and data/cache/ (the library's defaults
# are the user's data and cache folders, never the source tree).
export AGRISENSE_STATE_DIR ?= $(CURDIR)/var
export AGRISENSE_CACHE_DIR ?= $(CURDIR)/data/cache

.PHONY: demo test install data lint typecheck pytest train train-plot-crop clean system web serve dashboard rescore

# The Python venv and the farmer app's map library (npm ci): `agrisense serve` refuses to start without the latter.
install: $(STAMPS)/venv web

# torch first, pinned through constraints.txt, so nothing later replaces the local build.
$(STAMPS)/venv: pyproject.toml setup.py constraints.txt
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

data: $(REGION)/region.json $(REGION_CN)/region.json

$(REGION)/region.json: | $(STAMPS)/venv
	$(VENV)/bin/agrisense sample build --out $(REGION)

# The Chinese sample county (Jiangxi, 5 km; docs/sample-county.md), scored by models/landcover_unet_cn.
$(REGION_CN)/region.json: | $(STAMPS)/venv
	$(VENV)/bin/agrisense sample build --market china --province jiangxi --out $(REGION_CN)

# Both regions: the East-African county (out/demo) and the Jiangxi county (out/demo_cn), each with its summary.
demo: install data
	$(VENV)/bin/agrisense demo --region $(REGION) --out out/demo
	$(VENV)/bin/agrisense demo --region $(REGION_CN) --out out/demo_cn

# Debian packages for the browser and PostGIS tests (chromium, postgresql-15-postgis-3): installed when missing.
system:
	bash scripts/system-deps.sh

# Front-end packages of the farmer app (Leaflet, Leaflet-Geoman) from npm, served locally: no CDN.
web: agrisense/app/web/node_modules/.stamp

agrisense/app/web/node_modules/.stamp: agrisense/app/web/package.json agrisense/app/web/package-lock.json
	cd agrisense/app/web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check agrisense tests benchmarks

typecheck: $(STAMPS)/venv
	$(VENV)/bin/mypy

# PostgreSQL + PostGIS and Chromium tests are required here (they fail instead of skipping when missing).
pytest: $(STAMPS)/venv system web
	AGRISENSE_TEST_POSTGRES_URL="$$(bash scripts/postgres.sh)" AGRISENSE_REQUIRE_POSTGRES=1 \
	AGRISENSE_REQUIRE_BROWSER=1 $(VENV)/bin/pytest -q

test: lint typecheck pytest

# The fast tier: lint, type-check and every test not marked slow (no PostgreSQL, Chromium or npm needed).
.PHONY: check
check: lint typecheck
	$(VENV)/bin/pytest -q -m "not slow" -p no:cacheprovider

# The API and the farmer app on the sample county: http://127.0.0.1:8000 (API docs at /docs).
serve: $(STAMPS)/venv data web
	$(VENV)/bin/agrisense serve --host 127.0.0.1 --port 8000

# The analysts' dashboard (Streamlit) over the same database and service layer.
dashboard: $(STAMPS)/venv data
	$(VENV)/bin/streamlit run agrisense/app/dashboard/Home.py --server.headless true --browser.gatherUsageStats false

train: $(STAMPS)/venv data
	$(VENV)/bin/agrisense train cropland --region $(REGION) --out models/landcover_unet

# The East-African plot crop model (models/plotcrop_ea, docs/croptype.md): the sample county and two more seeded
# counties (built once into the cache) plus the real East-African samples beside the repository.
SAMPLES ?= ../shared/data/real/crop_samples/dev_samples.parquet
TRAIN_REGIONS := $(AGRISENSE_CACHE_DIR)/training
train-plot-crop: $(STAMPS)/venv data
	for seed in 11 12; do test -f $(TRAIN_REGIONS)/ea_seed$$seed/region.json || \
		$(VENV)/bin/agrisense sample build --seed $$seed --out $(TRAIN_REGIONS)/ea_seed$$seed || exit 1; done
	$(VENV)/bin/agrisense train plot-crop --region $(REGION) --region $(TRAIN_REGIONS)/ea_seed11 \
		--region $(TRAIN_REGIONS)/ea_seed12 --samples $(SAMPLES) --sample-region east_africa_2017 \
		--out models/plotcrop_ea --seed 0

clean:
	rm -rf $(STAMPS) out data/cache
