# The two commands of a fresh clone (README): `make backtest` and `make test`.
PY := .venv/bin/python
SHARED := ../shared/data/sp500_dev

.PHONY: setup backtest test data benchmarks

setup:
	@bash scripts/setup_env.sh

# Main job: build data/ (the dev data when ../shared is beside the clone, else a synthetic market), then
# local backtests of the baseline and of perl_portfolio with chronos-t5-tiny. weights=auto loads the checkpoint
# when the Hugging Face cache has it and otherwise runs on RANDOM weights, which every output records.
# HF_HUB_OFFLINE=1 by default (no network here); HF_HUB_OFFLINE=0 make backtest downloads the checkpoint.
PERL_DEMO := --parameter model_id amazon/chronos-t5-tiny --parameter weights auto --parameter fresh_start true

# LLM4FTS demo: small RANDOM GPT-2 (2 layers, width 64) on CPU, 2016-2018; stage 1 fitted at the start
# (pretrain=auto); stage 2 trains on every day (the paper's regime), one pass over the first year.
LLM4FTS_DEMO = --start 2016-01-01 --parameter model_id gpt2 --parameter weights random --parameter gpt_width 64 \
	--parameter gpt_heads 4 --parameter gpt_layers 2 --parameter finetune_epochs 1 --parameter fresh_start true

backtest: setup data
	$(PY) -m lean_local backtest algorithms/top100_baseline
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} $(PY) -m lean_local backtest algorithms/perl_portfolio $(PERL_DEMO)
	$(PY) -m lean_local backtest algorithms/llm4fts_ranker $(LLM4FTS_DEMO)

data: setup
	@bash scripts/build_data.sh

test: setup
	$(PY) -m pytest

benchmarks: setup data
	$(PY) benchmarks/import_dev_data.py
	$(PY) benchmarks/baseline_backtest.py
	$(PY) benchmarks/feature_panel.py
	$(PY) benchmarks/allocator_rebalance.py
	$(PY) benchmarks/perl_backtest.py
	$(PY) benchmarks/llm4fts.py
	$(PY) benchmarks/llm4fts_backtest.py
