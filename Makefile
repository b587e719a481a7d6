# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test check run lint bench profile clean package

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The fast lane, under a minute: lint, then the unit and functional tests not marked slow, each property test on a
# few examples (the `fast` Hypothesis profile, tests/conftest.py). `make test` is the full suite.
check: $(STAMP)
	$(BIN)/ruff check .
	HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -q -m "not slow" tests/unit tests/functional

run: $(STAMP)
	@echo "Starting certdeploy on http://127.0.0.1:8787 with the demo inventory (state in ./.certdeploy)."
	@echo "Web console: http://127.0.0.1:8787/console/ (sign in with the AccessKey)."
	@echo "Point the CAS SDK at it: Config(endpoint='127.0.0.1:8787', protocol='http', access_key_id=<id>, access_key_secret=<secret>)"
	@echo "or the CLI: CERTDEPLOY_ENDPOINT=http://127.0.0.1:8787 CERTDEPLOY_ACCESS_KEY_ID=<id> CERTDEPLOY_ACCESS_KEY_SECRET=<secret> $(BIN)/certdeploy jobs list"
	@echo "The AccessKey is printed once, on first start (or set CERTDEPLOY_ACCESS_KEY_ID/_SECRET before the first start)."
	$(BIN)/certdeploy serve --inventory demo/inventory.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Function Compute code directories, build/fc/$(FC_RUNTIME)/<function>/ (packaging/build.py; s.yaml deploys them).
FC_RUNTIME ?= python3.12
package: $(STAMP)
	$(BIN)/python packaging/build.py --runtime $(FC_RUNTIME)

bench: $(STAMP)
	$(BIN)/python -m bench

# Sample the job benchmark (bench/jobs.py) and `certdeploy serve` under it with py-spy: a flame graph of where a
# job's time goes, in bench/profile-jobs.svg (its table in bench/profile-jobs.txt, as sampling slows it down). Sizes
# as for the bench (CERTDEPLOY_BENCH_JOB_SIZES, default 1000).
profile: $(STAMP)
	$(BIN)/py-spy record --subprocesses --rate 200 --output bench/profile-jobs.svg -- \
		$(BIN)/python -m bench jobs --results bench/profile-jobs.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
