# agrisense: two commands do all set-up on a fresh machine.
#   make demo   install + build the sample county + score every sample plot (report in out/demo/)
#   make test   install + lint + type-check + all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
REGION := data/sample_county

.PHONY: demo test install data lint typecheck pytest train clean

install: $(STAMPS)/venv

# torch first, pinned through constraints.txt, so nothing later replaces the local build.
$(STAMPS)/venv: pyproject.toml constraints.txt
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

data: $(REGION)/region.json

$(REGION)/region.json: | $(STAMPS)/venv
	$(VENV)/bin/agrisense sample build --out $(REGION)

demo: $(STAMPS)/venv data
	$(VENV)/bin/agrisense demo --region $(REGION) --out out/demo

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check agrisense pipelines tests benchmarks

typecheck: $(STAMPS)/venv
	$(VENV)/bin/mypy

pytest: $(STAMPS)/venv
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

train: $(STAMPS)/venv data
	$(VENV)/bin/agrisense train cropland --region $(REGION) --out models/landcover_unet

clean:
	rm -rf $(STAMPS) out data/cache
