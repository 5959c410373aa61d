# The two commands of a fresh clone (README): `make backtest` and `make test`.
PY := .venv/bin/python
SHARED := ../shared/data/sp500_dev

.PHONY: setup backtest test data benchmarks

setup:
	@bash scripts/setup_env.sh

# Main job: build data/ (the dev data when ../shared is beside the clone, else a synthetic market),
# then a local backtest of the main algorithm.
backtest: setup data
	$(PY) -m lean_local backtest algorithms/top100_baseline

data: setup
	@bash scripts/build_data.sh

test: setup
	$(PY) -m pytest

benchmarks: setup
	$(PY) benchmarks/import_dev_data.py
	$(PY) benchmarks/baseline_backtest.py
	$(PY) benchmarks/feature_panel.py
