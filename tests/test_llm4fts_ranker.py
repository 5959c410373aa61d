"""algorithms/llm4fts_ranker end to end on a synthetic market: pre-training where none is stored,
top-decile equal weights, the state saved and resumed, and pretrain=require refusing to guess."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.object_store import ObjectStore
from lean_local.engine.runner import run_backtest
from markets import first_backtest, write_project
from models.llm4fts.checkpoint import stage1_state

ROOT = Path(__file__).resolve().parents[1]
MAIN = (ROOT / "algorithms" / "llm4fts_ranker" / "main.py").read_text()
TINY = {"model_id": "gpt2", "weights": "random", "seed": "3", "gpt_layers": "2", "gpt_width": "32",
        "gpt_heads": "2", "top_fraction": "0.2", "finetune_steps": "2", "pretrain_days": "250",
        "checkpoint_months": "2", "finetune_window_days": "40", "finetune_epochs": "1",
        "torch_threads": "1"}
PAPER = {"label": "rank_normal", "label_horizon_days": "1", "ranking_loss": "printed", "head_init": "random",
         "finetune_schedule": "sampled", "prediction_days": "1", "rebalance": "daily"}
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
    artifact = stage1_state(ObjectStore(root / "storage"), ARTIFACT).current_keys()
    assert set(artifact) == {"sipr.json", "model.safetensors", "stage1.json"}  # one generation, one manifest
    assert all((root / "storage" / key).is_file() for key in artifact.values())
    assert "RANDOM weights with the gpt2 resized (n_embd 32, n_head 2) GPT-2 architecture (seed 3)" in \
        (result.output_dir / "log.txt").read_text()
    assert result.algorithm.ranker.months_learned == 5  # at the first decision, then at 4 month ends
    assert result.algorithm.ranker.finetuned_through.startswith("2010-04-29")  # the last label (Apr 30) is realised


def test_it_holds_the_top_fraction_in_equal_weights(first_run):
    _, _, result = first_run
    holdings = pd.DataFrame(result.record.holdings, columns=["date", "symbol", "weight"])
    members = len(result.algorithm.tradable_members())
    for _, day in holdings.groupby("date"):
        assert len(day) <= max(1, -(-members * 0.2 // 1)) + 1
        assert day.weight.std() < 0.02 and 0.9 < day.weight.sum() < 1.05
    assert "SPY" not in set(holdings.symbol.astype(str))


@pytest.fixture(scope="module")
def resumed_run(first_run, market):
    """May-June, resuming the state the first run (January-April) stored."""
    root, project, _ = first_run
    return run_backtest(project, data_dir=market, start="2010-05-01", end="2010-06-30", progress=False,
                        output=root / "out2")


def test_a_later_run_loads_stage1_and_resumes_the_state(resumed_run):
    later = resumed_run
    statistics = json.loads((later.output_dir / "statistics.json").read_text())
    assert statistics["runtime"]["Stage 1"].startswith("loaded")
    assert "resumed from 'llm4fts_ranker/gpt2_l2_w32_random_seed3/' after 5 monthly updates" in \
        (later.output_dir / "log.txt").read_text()
    assert later.algorithm.ranker.months_learned == 7  # resumed: no extra update at the first decision
    log = (later.output_dir / "log.txt").read_text()
    # the daily schedule continues where the saved state stopped: May's update trains on the 21 windows ending
    # Apr 30 .. May 28 (their next-day labels are realised by May 31), none already seen, none twice
    first_update = next(line for line in log.splitlines() if "fine-tuned:" in line)
    assert "over 21 steps" in first_update, first_update


def held_sets(result, since: str) -> pd.Series:
    holdings = pd.DataFrame(result.record.holdings, columns=["date", "symbol", "weight"])
    holdings = holdings[pd.to_datetime(holdings.date) >= pd.Timestamp(since)]
    return holdings.groupby("date").symbol.apply(lambda s: frozenset(map(str, s)))


def test_a_resumed_run_decides_and_learns_exactly_like_an_uninterrupted_one(first_run, market, tmp_path):
    """January-April in one run (the module's first run) against January-March then April resumed from the
    stored running state: April's decision holds the same stocks and the network ends bit-identical
    (so every prediction is identical), with the same updates and the same last label trained on. The cut
    is at a quarter start because the skeleton selects its universe at a run's start and otherwise only in
    January, April, July and October: a run resumed mid-quarter trades another universe, by design."""
    _, _, straight = first_run
    root, project, _ = first_backtest(tmp_path, "llm4fts_ranker", MAIN, TINY, market, "2010-01-01", "2010-03-31")
    resumed_run = run_backtest(project, data_dir=market, start="2010-04-01", end="2010-04-30", progress=False,
                               output=root / "out2")
    assert "resumed from" in (resumed_run.output_dir / "log.txt").read_text()
    ranker, resumed = straight.algorithm.ranker, resumed_run.algorithm.ranker
    assert (resumed.months_learned, resumed.steps_taken, resumed.finetuned_through) == \
        (ranker.months_learned, ranker.steps_taken, ranker.finetuned_through)
    one, other = ranker.network.state_dict(), resumed.network.state_dict()
    assert one.keys() == other.keys() and all(torch.equal(one[k], other[k]) for k in one)
    after, before = held_sets(straight, "2010-04-01"), held_sets(resumed_run, "2010-04-01")
    assert len(after) == 1 and after.equals(before)  # April's decision (holdings are recorded on fill days)
    assert held_sets(straight, "2010-01-01").nunique() > 1  # the held set does change: the comparison can fail


def test_pretrain_require_without_an_artifact_stops_with_the_command_to_run(market, tmp_path):
    project = write_project(tmp_path, "llm4fts_ranker", MAIN, {**TINY, "pretrain": "require"})
    with pytest.raises(RuntimeError, match="pretrain=require but no usable stage-1 artifact.*pretrain_llm4fts.py"):
        run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False,
                     output=tmp_path / "out")


def test_a_run_before_the_stored_artifact_keeps_it_under_rejected_and_pretrains_again(first_run, market):
    """Issue 15: the stage-1 artifact (weights and SIPR library) learned from bars up to the first run's
    start, so an earlier run refuses it as look-ahead; pre-training again must not destroy it uncopied."""
    root, project, _ = first_run
    store = ObjectStore(root / "storage")
    stored = {name: store.read_bytes(key) for name, key in stage1_state(store, ARTIFACT).current_keys().items()}
    assert set(stored) == {"sipr.json", "model.safetensors", "stage1.json"}
    earlier = run_backtest(project, data_dir=market, start="2009-11-02", end="2009-12-31", progress=False,
                           output=root / "out3", parameters=TINY | {"fresh_start": "true"})
    log = (earlier.output_dir / "log.txt").read_text()
    assert "stage-1 artifact under 'llm4fts/gpt2_l2_w32_random_seed3/' (generation 1) not used" in log
    assert "look-ahead" in log
    statistics = json.loads((earlier.output_dir / "statistics.json").read_text())
    assert statistics["runtime"]["Stage 1"].startswith("fitted in this run")
    kept = [key for key in store.keys if key.startswith(f"{ARTIFACT}/rejected/") and key.endswith("stage1.json")]
    assert len(kept) == 1
    folder = kept[0].rsplit("/", 1)[0]
    assert {name: store.read_bytes(f"{folder}/{name}") for name in stored} == stored
    assert stage1_state(store, ARTIFACT).current_keys()["stage1.json"] == f"{ARTIFACT}/gen-2/stage1.json"


def test_the_papers_settings_run_and_rebalance_every_day(market, tmp_path):
    """label rank_normal over 1 day, the printed ranking term, the random head, sampled fine-tuning, today's
    predictions only and a daily rebalance (the paper's trading) run through the algorithm."""
    project = write_project(tmp_path, "llm4fts_ranker", MAIN, {**TINY, **PAPER, "seed": "8"})
    result = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-26", progress=False,
                          output=tmp_path / "out")
    holdings = pd.DataFrame(result.record.holdings, columns=["date", "symbol", "weight"])
    assert result.algorithm.ranker_config.ranking_loss == "printed"
    assert result.algorithm.ranker.steps_taken == 3 * 2  # sampled: 2 steps at the first decision, 2 month ends
    trading_days = holdings.groupby("date").size()
    assert len(trading_days) >= 30  # holdings recorded every day; the top set changes within the month
    daily_sets = holdings.groupby("date").symbol.apply(frozenset)
    assert daily_sets.nunique() > 2, daily_sets.nunique()


def test_a_ranker_that_cannot_tell_stocks_apart_does_not_trade(market, tmp_path):
    """With lr 0 the zero-initialised score head never moves, so every stock scores 0: picking the "top" decile
    would buy the first names in universe order. The rebalance says why and holds cash instead."""
    project = write_project(tmp_path, "llm4fts_ranker", MAIN, {**TINY, "lr": "0", "seed": "9", "pretrain_steps": "3"})
    result = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-01-29", progress=False,
                          output=tmp_path / "out")
    log = (result.output_dir / "log.txt").read_text()
    assert "every stock has the same score" in log
    assert not result.record.holdings and not result.algorithm.portfolio.invested
