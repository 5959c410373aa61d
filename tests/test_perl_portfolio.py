"""algorithms/perl_portfolio end to end on a synthetic market: weights recorded, checkpoints saved,
resumed only without look-ahead, and pretrained weights never replaced silently."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.object_store import ObjectStore
from lean_local.engine.runner import run_backtest
from markets import first_backtest, write_project
from models.allocator import BackboneLoadError, OnlineAllocator, checkpoint_keys

ROOT = Path(__file__).resolve().parents[1]
MAIN = (ROOT / "algorithms" / "perl_portfolio" / "main.py").read_text()
TINY_RANDOM = {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "seed": "3", "checkpoint_months": "2"}
PREFIX = "perl_portfolio/amazon_chronos-t5-tiny_seed3"


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=3, start="2009-01-02", end="2010-12-31")
    return out


@pytest.fixture(scope="module")
def first_run(market, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_root")
    return first_backtest(root, "perl_portfolio", MAIN, TINY_RANDOM, market, "2010-01-01", "2010-06-30")


def test_the_run_records_which_weights_it_used(first_run):
    root, _, result = first_run
    run_info = json.loads((result.output_dir / "run.json").read_text())
    statistics = json.loads((result.output_dir / "statistics.json").read_text())
    assert run_info["runtime_statistics"]["Model weights"] == statistics["runtime"]["Model weights"] == "random"
    log = (result.output_dir / "log.txt").read_text()
    assert "RANDOM weights with the tiny Chronos-T5 architecture (seed 3)" in log
    assert result.algorithm.learner.months_learned == 6


def test_it_trades_the_models_weights_and_learns_away_from_equal_weight(first_run):
    _, _, result = first_run
    holdings = pd.DataFrame(result.record.holdings, columns=["date", "symbol", "weight"])
    by_day = holdings.groupby("date")
    # Sized on the previous close and filled at the day's close (LEAN's daily fills): a few % of drift either way.
    assert by_day.weight.sum().between(0.95, 1.03).all() and (holdings.weight >= 0).all()
    first, last = holdings.date.min(), holdings.date.max()
    spread = lambda day: holdings[holdings.date == day].weight.std()  # noqa: E731
    assert spread(last) > 2 * spread(first)  # starts at equal weight (zero head), then learns


def test_checkpoints_land_in_the_object_store_and_a_later_run_resumes(first_run, market):
    root, project, _ = first_run
    keys = checkpoint_keys(ObjectStore(root / "storage"), PREFIX)
    assert len(keys) == 7 and {"replay.safetensors", "replay.json"} <= set(keys)
    for key in keys.values():
        assert (root / "storage" / key).is_file(), key
    manifest = json.loads((root / "storage" / keys["learner.json"]).read_text())
    assert manifest["extra"]["trained_through"].startswith("2010-06-30")
    assert manifest["learner"]["weights_info"]["source"] == "random"
    later = run_backtest(project, data_dir=market, start="2010-07-01", end="2010-08-31", progress=False,
                         output=root / "out2")
    assert "resumed from" in (later.output_dir / "log.txt").read_text()
    assert later.algorithm.learner.months_learned == 8


def test_rerunning_the_same_years_refuses_the_checkpoint_and_keeps_it(market, tmp_path):
    project = write_project(tmp_path, "perl_portfolio", MAIN, TINY_RANDOM)
    run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False, output=tmp_path / "a")
    keys = checkpoint_keys(ObjectStore(tmp_path / "storage"), PREFIX)
    saved = (tmp_path / "storage" / keys["adapter_model.safetensors"]).read_bytes()
    again = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False,
                         output=tmp_path / "b")
    log = (again.output_dir / "log.txt").read_text()
    assert "look-ahead" in log and "rejected" in log
    kept = list((tmp_path / "storage" / PREFIX / "rejected").rglob("adapter_model.safetensors"))
    assert len(kept) == 1 and kept[0].read_bytes() == saved
    fresh = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False,
                         output=tmp_path / "c", parameters=TINY_RANDOM | {"fresh_start": "true"})
    assert "fresh_start: not reading" in (fresh.output_dir / "log.txt").read_text()
    assert len(list((tmp_path / "storage" / PREFIX / "rejected").rglob("adapter_model.safetensors"))) == 1


def test_pretrained_weights_that_cannot_load_stop_the_run(market, tmp_path):
    project = write_project(tmp_path, "perl_portfolio", MAIN,
                            {"model_id": str(tmp_path / "missing" / "chronos-t5-tiny"), "weights": "pretrained"})
    with pytest.raises(BackboneLoadError, match="could not load the Chronos checkpoint"):
        run_backtest(project, data_dir=market, start="2010-01-01", end="2010-01-31", progress=False,
                     output=tmp_path / "out")


def test_auto_falls_back_to_random_weights_and_every_output_says_so(market, tmp_path):
    project = write_project(tmp_path, "perl_portfolio", MAIN,
                            {"model_id": str(tmp_path / "missing" / "chronos-t5-tiny"), "weights": "auto"})
    result = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-01-31", progress=False,
                          output=tmp_path / "out")
    statistics = json.loads((result.output_dir / "statistics.json").read_text())
    run_info = json.loads((result.output_dir / "run.json").read_text())
    assert statistics["runtime"]["Model weights"] == run_info["runtime_statistics"]["Model weights"] \
        == "random (auto: no checkpoint)"
    assert "weights=auto fell back to random weights" in (result.output_dir / "log.txt").read_text()


PAPER = {"replay_months": "0", "head_init": "random", "demean_returns": "false", "turnover_penalty": "0",
         "standardise_features": "false", "lr_half_life_months": "0"}  # one step on the latest month, random head


@pytest.mark.parametrize("learning", [PAPER])
def test_the_learning_options_reach_the_learner_and_the_paper_settings_still_run(market, tmp_path, learning):
    project = write_project(tmp_path, "perl_portfolio", MAIN, TINY_RANDOM | learning)
    result = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False,
                          output=tmp_path / "out")
    learner = result.algorithm.learner
    assert learner.months_learned == 2 and learner.steps_taken == 2
    assert learner.config.head_init == learning.get("head_init", "zero")
    assert len(learner.replay.months) == int(learning["replay_months"]) == learner.config.replay_months
    head = OnlineAllocator.from_config(learner.config).model.base_model.model.score_head.modules_to_save.default
    assert bool(head.weight.abs().sum() > 0) == (learning.get("head_init") == "random")  # the paper's random head
