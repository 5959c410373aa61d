"""algorithms/llm4fts_ranker end to end on a synthetic market: pre-training where none is stored,
top-decile equal weights, the state saved and resumed, and pretrain=require refusing to guess."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.runner import run_backtest
from markets import first_backtest, write_project

ROOT = Path(__file__).resolve().parents[1]
MAIN = (ROOT / "algorithms" / "llm4fts_ranker" / "main.py").read_text()
TINY = {"model_id": "gpt2", "weights": "random", "seed": "3", "gpt_layers": "2", "gpt_width": "32",
        "gpt_heads": "2", "top_fraction": "0.2", "finetune_steps": "2", "pretrain_days": "250",
        "checkpoint_months": "2"}
ARTIFACT = "llm4fts/gpt2_l2_w32_random_seed3"


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=4, start="2009-01-02", end="2010-12-31")
    return out


@pytest.fixture(scope="module")
def first_run(market, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_root")
    return first_backtest(root, "llm4fts_ranker", MAIN, TINY, market, "2010-01-01", "2010-04-30")


def test_it_pretrains_when_nothing_is_stored_and_records_the_weights(first_run):
    root, _, result = first_run
    statistics = json.loads((result.output_dir / "statistics.json").read_text())
    assert statistics["runtime"]["Model weights"] == "random"
    assert statistics["runtime"]["Stage 1"].startswith("fitted in this run")
    assert (root / "storage" / ARTIFACT / "sipr.json").is_file()
    assert (root / "storage" / ARTIFACT / "stage1" / "model.safetensors").is_file()
    assert "RANDOM weights with the gpt2 resized (n_embd 32, n_head 2) GPT-2 architecture (seed 3)" in \
        (result.output_dir / "log.txt").read_text()
    assert result.algorithm.ranker.months_learned == 4


def test_it_holds_the_top_fraction_in_equal_weights(first_run):
    _, _, result = first_run
    holdings = pd.DataFrame(result.record.holdings, columns=["date", "symbol", "weight"])
    members = len(result.algorithm.tradable_members())
    for _, day in holdings.groupby("date"):
        assert len(day) <= max(1, -(-members * 0.2 // 1)) + 1
        assert day.weight.std() < 0.02 and 0.9 < day.weight.sum() < 1.05
    assert "SPY" not in set(holdings.symbol.astype(str))


def test_a_later_run_loads_stage1_and_resumes_the_state(first_run, market):
    root, project, _ = first_run
    later = run_backtest(project, data_dir=market, start="2010-05-01", end="2010-06-30", progress=False,
                         output=root / "out2")
    statistics = json.loads((later.output_dir / "statistics.json").read_text())
    assert statistics["runtime"]["Stage 1"].startswith("loaded")
    assert "resumed from 'llm4fts_ranker/gpt2_l2_w32_random_seed3/' after 4 monthly updates" in \
        (later.output_dir / "log.txt").read_text()
    assert later.algorithm.ranker.months_learned == 6


def test_pretrain_require_without_an_artifact_stops_with_the_command_to_run(market, tmp_path):
    project = write_project(tmp_path, "llm4fts_ranker", MAIN, {**TINY, "pretrain": "require"})
    with pytest.raises(RuntimeError, match="pretrain=require but no usable stage-1 artifact.*pretrain_llm4fts.py"):
        run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False,
                     output=tmp_path / "out")
