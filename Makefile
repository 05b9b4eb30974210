# The README's commands. Everything a target needs it installs itself (a local .venv for
# Python tools); nothing here relies on what happens to be installed on the machine.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
CARGO ?= cargo

.PHONY: test bench bench-vs-onnxruntime fixtures demo-model venv clean-venv

## Every test: unit, fixture agreement with onnxruntime, refusals, row errors.
test:
	$(CARGO) test --workspace --locked

## Criterion benches of the model runtime (load+optimize, single row, throughput).
bench:
	$(CARGO) bench -p scoring --bench model

## tract vs onnxruntime (one thread) on the same models and rows, with ratios.
bench-vs-onnxruntime: $(VENV)/.installed
	$(VENV_PY) model/bench_vs_onnxruntime.py

## Regenerate the committed fixtures / the demo model (needs only the pinned venv).
fixtures: $(VENV)/.installed
	$(VENV_PY) model/make_fixtures.py

demo-model: $(VENV)/.installed
	$(VENV_PY) model/train.py

venv: $(VENV)/.installed

$(VENV)/.installed: model/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r model/requirements.txt
	touch $@

clean-venv:
	rm -rf $(VENV)
