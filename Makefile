# The README's commands. Everything a target needs it installs itself (Python tools into a
# local .venv, pinned); nothing here relies on what happens to be installed on the machine.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
CARGO ?= cargo
# The binaries of the one workspace build (CARGO_TARGET_DIR is honoured).
DEBUG_BIN = $${CARGO_TARGET_DIR:-target}/debug
# Where `make test`'s sam build compiles (beside the workspace build, not in it).
SAM_TARGET = $${CARGO_TARGET_DIR:-target}/sam

.PHONY: dev test build scan arm64-toolchain bench bench-vs-onnxruntime fixtures demo-model venv clean-venv

## The whole system on this machine: moto (S3, DynamoDB), bucket, tables, the demo model,
## the 1,599 wines, the predict function under cargo lambda watch. Ctrl-C stops it all.
dev: $(VENV)/.stack build
	$(DEBUG_BIN)/devstack up

## Every crate and every target of the workspace in one cargo build, so that the features
## of their shared dependencies are resolved once: `make dev`, `make test` and the
## `cargo test` below reuse it instead of building the dependencies again with another
## feature set (a build of devstack alone resolves tokio, serde_json, hyper... differently).
build:
	$(CARGO) build --quiet --workspace --locked --all-targets

## Every test: unit tests, fixture agreement with onnxruntime, and end-to-end tests against
## a moto server started here on a free loopback port and stopped at the end (the nightly
## state machine on a moto of its own, which executes it); the scaling simulation's tests;
## the SAM template linted, scanned by checkov (`make scan`), validated, tested as code
## (tests/it/template/) and built for its default architecture, arm64: the built
## bootstraps checked (glibc, zipped size) and run under qemu-user against the same Runtime API and moto tests (the `arm64::` tests,
## ignored by a plain `cargo test`, which cannot have these bootstraps).
## `sam build` (a release build of both functions, the longest step) runs beside the debug
## build and the tests, in a target directory of its own (cargo locks one build per
## directory), so the two cores stay busy while the tests wait on moto; its log is printed
## when it fails.
test: $(VENV)/.stack arm64-toolchain
	$(VENV)/bin/cfn-lint template.yaml
	@$(MAKE) --no-print-directory scan
	$(VENV_PY) -m unittest discover -s dev/scaling
	$(SAM) validate --lint
	@mkdir -p $(SAM_TARGET)
	CARGO_TARGET_DIR=$(SAM_TARGET) $(SAM_ARM64) build --build-dir $(SAM_BUILD) \
		> $(SAM_TARGET)/sam-build.log 2>&1 & sam=$$!; \
	status=0; \
	{ $(MAKE) --no-print-directory build && \
	  $(DEBUG_BIN)/devstack with-moto -- $(CARGO) test --workspace --locked --no-fail-fast; } \
		|| status=$$?; \
	echo "waiting for sam build (log: $(SAM_TARGET)/sam-build.log)"; \
	if wait $$sam; then tail -n 3 $(SAM_TARGET)/sam-build.log; \
	  dev/check_bootstraps.sh $(SAM_BUILD) aarch64 || status=1; \
	  ARM64_BUILD_DIR="$$(realpath $(SAM_BUILD))" $(DEBUG_BIN)/devstack with-moto -- \
	    $(CARGO) test --workspace --locked --no-fail-fast --test it -- --ignored arm64:: \
	    > $(SAM_TARGET)/arm64-tests.log 2>&1 || status=1; \
	  cat $(SAM_TARGET)/arm64-tests.log; \
	  ran=$$(grep -c '^test arm64::.* ok$$' $(SAM_TARGET)/arm64-tests.log); \
	  [ "$$ran" = $(ARM64_TESTS) ] || { echo "$$ran arm64 tests passed, not $(ARM64_TESTS)"; status=1; }; \
	else cat $(SAM_TARGET)/sam-build.log; echo "sam build failed"; status=1; fi; \
	exit $$status

## The security scan: the template translated to plain CloudFormation (as the Serverless
## transform does at deploy time; tests/template/translate.py) and checked by checkov, a
## scanner no one here wrote, in a venv of its own (pinned by
## tests/template/requirements-checkov.txt). Any failed check fails; a finding accepted on
## purpose is skipped in template.yaml, on its resource, with the reason beside it
## (Metadata: checkov: skip). --skip-download: offline (no guidelines fetched).
CHECKOV_VENV ?= $(VENV)/checkov
SCAN_DIR = $${CARGO_TARGET_DIR:-target}/scan
scan: $(VENV)/.stack $(CHECKOV_VENV)/.installed
	@mkdir -p $(SCAN_DIR)
	$(VENV_PY) tests/template/translate.py > $(SCAN_DIR)/template.json
	$(CHECKOV_VENV)/bin/checkov --file $(SCAN_DIR)/template.json --framework cloudformation \
		--quiet --compact --skip-download

$(CHECKOV_VENV)/.installed: tests/template/requirements-checkov.txt | $(VENV)/bin/python
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tests/template/requirements-checkov.txt
	touch $@

# The SAM CLI, offline: no telemetry, and a proxy that refuses every connection, so its
# weekly version check goes nowhere and a build that needed the network would fail here.
# cargo (run by cargo-lambda in `sam build`) stays offline too: `cargo test --locked` above
# has fetched every crate. cargo-lambda and zig come from .venv/bin.
SAM_ENV := SAM_CLI_TELEMETRY=0 HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
	CARGO_NET_OFFLINE=true
SAM := $(SAM_ENV) PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam
# `sam build` for arm64 (samconfig.toml's Architecture) with Debian's cargo and rustc, which
# have the aarch64 standard library (rustup cannot add targets here; its toolchain stays
# first on PATH for everything else). cargo-lambda takes the cargo and rustc found first on
# PATH, links with zig against provided.al2023's glibc, and says "Failed to install target
# component" (rustup's copy, which it looks for and does not need).
SAM_ARM64 := $(SAM_ENV) PATH="$(CURDIR)/$(VENV)/bin:/usr/bin:$$PATH" \
	CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc $(VENV)/bin/sam
# The `arm64::` tests of predict and batch: all must run and pass (a filter that matched
# fewer would otherwise pass quietly).
ARM64_TESTS := 4
# Where `make test`'s sam build puts the bootstraps (not .aws-sam/, which `sam deploy` reads).
SAM_BUILD = $(SAM_TARGET)/build

# What arm64 needs on this x86-64 Debian machine: Debian's Rust (1.96) with the aarch64
# standard library, a cross C toolchain and binutils (objdump for the glibc check), the
# aarch64 glibc qemu-user loads (/usr/aarch64-linux-gnu), and qemu-user. Installs only when
# one is missing (apt, as root or through sudo), so once installed it costs a dpkg-query.
ARM64_PACKAGES := rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu \
	libc6-dev-arm64-cross qemu-user-static
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

arm64-toolchain:
	@installed=$$(dpkg-query -W -f='$${db:Status-Abbrev}\n' $(ARM64_PACKAGES) 2>/dev/null \
		| grep -c '^ii'); \
	if [ "$$installed" != "$(words $(ARM64_PACKAGES))" ]; then \
		echo "installing the arm64 toolchain: $(ARM64_PACKAGES)"; \
		$(SUDO) dpkg --add-architecture arm64 && \
		$(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
			install -y -qq --no-install-recommends $(ARM64_PACKAGES) > /dev/null; \
	fi

## Captured traffic scored again by a candidate model file and compared with what was
## answered (README "Replaying captured traffic"). CAPTURES: the stack's CaptureUri
## (s3://bucket/captures/) or a directory of downloaded objects; REPLAY_ARGS: e.g.
## "--days 3 --model-version V --json".
.PHONY: replay
REPLAY_USAGE := CANDIDATE=<model.onnx> CAPTURES=<s3://bucket/prefix | directory> [REPLAY_ARGS=...]
replay:
	@test -n "$(CANDIDATE)" -a -n "$(CAPTURES)" || { echo "usage: make replay $(REPLAY_USAGE)"; \
		exit 2; }
	$(CARGO) run --quiet -p devstack --bin replay -- --captures "$(CAPTURES)" \
		--candidate "$(CANDIDATE)" $(REPLAY_ARGS)

## Criterion benches of the model runtime (load+optimize, single row, throughput).
bench:
	$(CARGO) bench -p scoring --bench model

## tract vs onnxruntime (one thread) on the same models and rows, with ratios.
bench-vs-onnxruntime: $(VENV)/.model
	$(VENV_PY) model/bench_vs_onnxruntime.py

## Regenerate the committed fixtures / the demo model (needs only the pinned venv; the
## explanation fixtures' references also need the shap package, pinned apart).
fixtures: $(VENV)/.model $(VENV)/.explain
	$(VENV_PY) model/make_fixtures.py
	$(VENV_PY) model/fixtures_tree_ensemble5.py
	$(VENV_PY) model/fixtures_explain.py
	$(VENV_PY) model/fixtures_challenger.py

demo-model: $(VENV)/.model
	$(VENV_PY) model/train.py

venv: $(VENV)/.stack $(VENV)/.model

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# moto server, cargo-lambda, the SAM CLI, cfn-lint, aws-sam-translator
$(VENV)/.stack: requirements.txt | $(VENV)/bin/python
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# scikit-learn, skl2onnx, onnx, onnxruntime
$(VENV)/.model: model/requirements.txt | $(VENV)/bin/python
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r model/requirements.txt
	touch $@

# shap (TreeExplainer, the explanation fixtures' reference for scikit-learn's trees)
$(VENV)/.explain: model/requirements-explain.txt $(VENV)/.model
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r model/requirements-explain.txt
	touch $@

clean-venv:
	rm -rf $(VENV)

## Trees side by side: this project, onnxruntime and lleaves (LightGBM compiled with LLVM)
## on the same LightGBM / scikit-learn / XGBoost forests and rows (model/bench_vs_lleaves.py).
## lleaves gets a venv of its own (LLEAVES_VENV), pinned by model/requirements-lleaves.txt.
## OLD_TIMING=<a `timing` example built from another commit> adds its column.
.PHONY: bench-vs-lleaves
LLEAVES_VENV ?= $(VENV)/lleaves
bench-vs-lleaves: $(VENV)/.model $(LLEAVES_VENV)/.installed
	LLEAVES_PY=$(LLEAVES_VENV)/bin/python $(VENV_PY) model/bench_vs_lleaves.py

$(LLEAVES_VENV)/.installed: model/requirements-lleaves.txt | $(VENV)/bin/python
	$(PYTHON) -m venv $(LLEAVES_VENV)
	$(LLEAVES_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r model/requirements-lleaves.txt
	touch $@

## Cold start over a ladder of model sizes (the demo model, ~5, ~30 and ~100 MB forests
## from scikit-learn, LightGBM and XGBoost, made once into target/ladder/ by a seeded
## script), the release bootstrap against moto, onnxruntime's session creation beside it,
## and the floor: a bootstrap with the same start and SDK clients but no model.
.PHONY: bench-coldstart-ladder
LADDER := $${CARGO_TARGET_DIR:-target}/ladder
bench-coldstart-ladder: $(VENV)/.stack $(VENV)/.model
	@test -f $(LADDER)/ladder.json || $(VENV_PY) model/make_ladder.py $(LADDER)
	$(CARGO) build --release -p predict --bin predict --example floor
	$(CARGO) run --release -p devstack --bin coldstart -- --ladder $(LADDER) --runs 3 \
		--floor $${CARGO_TARGET_DIR:-target}/release/examples/floor
