# voc-pipeline — every entry point a user or CI needs.
# The virtualenv and all downloads live outside the clone (reused across clones and CI runs).
SHELL := /bin/bash
VENV ?= $(HOME)/.cache/voc-pipeline/venv
PY := $(VENV)/bin/python
VOC := $(VENV)/bin/voc
# the editable install points at one clone: reinstall when pyproject or the clone changes
STAMP := $(VENV)/.voc-installed-$(shell (cat pyproject.toml; echo "$(CURDIR)") | sha1sum | cut -c1-12)

.PHONY: install browser demo test test-unit test-deploy test-reliability test-scale stack-up stack-down lint bench-quality bench-speed bench-pipeline bench-console bench-pii fuzz train train-minilm

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.voc-installed-*; touch $(STAMP)

# The browser tests drive Debian's chromium through Playwright (never Playwright's own
# browser download, which cannot work offline); installed like the stack's Debian packages.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }
	@test -x $(CHROMIUM) || { echo "chromium missing: apt-get install chromium" >&2; exit 1; }

stack-up: install
	$(VOC) stack up

stack-down: install
	$(VOC) stack down

# Style, the import contracts (pyproject [tool.importlinter]: the may-import table, pure
# processors, no cycles) and types (pyproject [tool.mypy]: strict on schemas and processors,
# mypy's defaults on streams).
lint: install
	$(VENV)/bin/ruff check schemas processors streams tests bench scripts training
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Lint first, then the whole suite against the real local stack. The stack is brought down
# afterwards only if this run started it (a developer's running stack is left alone); any
# failure -> exit != 0.
test: lint browser
	set -o pipefail; status=0; \
	  if $(VOC) stack status >/dev/null 2>&1; then was_up=1; else was_up=0; fi; \
	  $(VOC) stack up || status=$$?; \
	  if [ $$status -eq 0 ]; then $(PY) -m pytest tests -q || status=$$?; fi; \
	  if [ $$was_up -eq 0 ]; then $(VOC) stack down || true; fi; \
	  exit $$status

test-unit: install
	$(PY) -m pytest tests/unit -q

# deploy/ offline (also part of `make test`): the Kubernetes manifests rendered with the
# kubectl of the machine image and validated against the Kubernetes JSON schemas, the
# systemd units through systemd-analyze, and the wheel carrying deploy/ (docs/deploy.md)
test-deploy: install
	$(PY) -m pytest tests/deploy -q

# Fault tests (worker kill -9, search down 60 s, broker restart, group failover, hostile input).
# Figures are appended to bench/results/reliability.json. The outage tests start their own
# private Kafka + OpenSearch, so the shared stack is never stopped under other suites.
test-reliability: install
	set -o pipefail; status=0; \
	  if $(VOC) stack status >/dev/null 2>&1; then was_up=1; else was_up=0; fi; \
	  $(VOC) stack up || status=$$?; \
	  if [ $$status -eq 0 ]; then $(PY) -m pytest tests/reliability -q -m reliability || status=$$?; fi; \
	  if [ $$was_up -eq 0 ]; then $(VOC) stack down || true; fi; \
	  exit $$status

# The multi-node suite (tests/scale): three KRaft brokers, two OpenSearch nodes and three
# workers of its own on ports 29092-29097, 29200-29206 and 29300+ (the shared stack is not
# needed); leader-broker kill -9, search-node kill -9, workers 3 -> 1 -> 3, exact repeat
# contacts. About 8 GB and 20-odd minutes; not part of `make test` (`pytest tests` leaves
# the folder out). Figures are appended to bench/results/scale.json.
test-scale: install
	$(PY) -m pytest tests/scale -q -m scale

demo: install
	$(VOC) demo

# Retrain the shipped models (multilingual-e5-small, Latin vocabulary; docs/models.md),
# seeded, into processors/models/multilingual-e5-small/: frozen encoder states of
# ../shared/data's tweets and GoEmotions and of our customer set's train part are cached in
# ~/.cache/voc-pipeline/heads-cache (about 10 min on 2 cores), then the sentiment and
# emotion heads (3 seeds averaged, about 3 min), the customer-domain calibration
# (topics, vulnerability, harm) and the intensity model (seconds each).
E5_HEADS := --encoder multilingual-e5-small-latin --cut-layer 12 --no-full-semeval \
  --customer-weight 0 --customer-set-weight 1 --customer-set-repeat 16
train: install
	nice -n 10 $(PY) scripts/train_heads.py cache $(E5_HEADS) --cache-threads 2
	nice -n 10 $(PY) scripts/train_heads.py train $(E5_HEADS) --epochs 6 --members 3
	nice -n 10 $(PY) scripts/fit_customer_calibration.py --encoder multilingual-e5-small-latin
	PYTHONPATH=. $(PY) training/fit_intensity.py --encoder multilingual-e5-small-latin

# The English-only all-MiniLM-L6-v2 models (processors/models/), the shipped ones before
# issue 19 and today's baseline in bench/quality.py. Stage 1: heads on the frozen encoder;
# stage 2 (about 55 min): encoder adapters (LoRA) trained together with those heads.
PLAIN_HEADS ?= $(HOME)/.cache/voc-pipeline/heads-plain
train-minilm: install
	nice -n 10 $(PY) scripts/train_heads.py all --encoder all-MiniLM-L6-v2 --out-dir $(PLAIN_HEADS)
	cp $(PLAIN_HEADS)/training_result.json processors/models/training_result.json
	nice -n 10 $(PY) scripts/train_adapter.py --init $(PLAIN_HEADS)/heads.safetensors
	nice -n 10 $(PY) scripts/fit_customer_calibration.py --encoder all-MiniLM-L6-v2
	# intensity (processors/models/intensity.json) reads the heads just trained
	PYTHONPATH=. $(PY) training/fit_intensity.py --encoder all-MiniLM-L6-v2

bench-quality: install
	$(PY) bench/quality.py

# PII recall / over-redaction on the labelled corpus, beside the old regex redaction.
bench-pii: install
	$(PY) bench/pii.py

# Coverage-guided fuzzing (atheris) of normalize, redact, reply and parse_inbound for
# FUZZ_SECONDS; a crash or a hang over 10 s fails. Crashers land in tests/data/fuzz_crashers/,
# which tests/unit/test_pii_hostile.py replays.
FUZZ_SECONDS ?= 120
fuzz: install
	$(PY) tests/fuzz/fuzz_processors.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -artifact_prefix=tests/data/fuzz_crashers/

bench-speed: install
	$(PY) bench/speed.py

# Kafka in -> indexed out, beside enrichment alone (needs the stack: voc stack up).
bench-pipeline: install
	$(VOC) stack up
	$(PY) bench/pipeline.py --pairs 5

# Console render time (issue 17's targets) on 200,000 generated documents: load them,
# measure the overview and the queue beside their bare backend requests, then remove them.
bench-console: install
	$(VOC) stack up
	$(PY) bench/console_data.py --docs 200000
	$(PY) bench/console.py; status=$$?; $(PY) bench/console_data.py --clean; exit $$status
