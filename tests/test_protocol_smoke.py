"""scripts/protocol.py end to end on the synthetic market with tiny random models: selection, freeze, report
seeds and ablations, the published report's structure, finite metrics, and a rerun that skips finished units."""
from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
import torch

from lean_local.data.synthetic import write_synthetic_market

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from protocol_lib.report import publish  # noqa: E402
from protocol_lib.runs import run_model  # noqa: E402
from protocol_lib.specs import ALLOCATOR_BASE, RANKER_BASE, Ablation, full_specs  # noqa: E402

TINY_T5 = {"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 4, "d_kv": 8, "vocab_size": 64}


def tiny_specs() -> dict:
    full = full_specs(2)
    allocator = replace(
        full["allocator"], base={**ALLOCATOR_BASE, "backbone_overrides": TINY_T5},
        grid={"lr0.001": {"lr": 0.001}, "lr0.01": {"lr": 0.01}},
        ablations=(Ablation("demean_returns", ({"demean_returns": False}, {"demean_returns": True})),
                   Ablation("no_such_option", ({"no_such_option": 0}, {"no_such_option": 1}))),
        run_from="2010-11-01", select=("2010-11-01", "2010-12-31"), report=("2011-01-01", "2011-04-30"),
        selection_seeds=(1,), report_seeds=(1, 2), universe_size=10)
    ranker = replace(
        full["ranker"], base={**RANKER_BASE, "gpt_layers": 2, "gpt_width": 32, "gpt_heads": 2, "pretrain_steps": 3,
                              "finetune_steps": 2, "finetune_epochs": 1, "finetune_window_days": 30,
                              "lookback_days": 16, "use_sipr": False},
        grid={"lr3e-4": {"lr": 3e-4}, "lr1e-3": {"lr": 1e-3}},
        ablations=(Ablation("use_wavelet", ({"use_wavelet": True}, {"use_wavelet": False})),),
        pretrain=("2010-01-04", "2010-10-31"), run_from="2010-11-01", select=("2010-11-01", "2010-11-30"),
        report=("2010-12-01", "2011-01-31"), selection_seeds=(1,), report_seeds=(1, 2), universe_size=10,
        sipr={"n_patterns": 2, "min_length": 4, "max_length": 8, "iterations": 1, "barycenter_iterations": 1,
              "restarts": 1})
    return {"allocator": allocator, "ranker": ranker}


@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory) -> Iterator[tuple[Path, Path, dict]]:
    market = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(market, seed=9, start="2010-01-04", end="2011-12-30")
    out = tmp_path_factory.mktemp("protocol")
    specs = tiny_specs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the protocol's setting: tiny models on a busy machine run far faster on one thread
    reports = {name: run_model(spec, market, out, 0.001, jobs=1, runner={}) for name, spec in specs.items()}
    publish(out, reports)
    yield market, out, specs
    torch.set_num_threads(threads)


def finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def test_the_report_has_selection_frozen_setting_ablations_and_finite_metrics(protocol_run):
    _, out, specs = protocol_run
    for name, spec in specs.items():
        report = json.loads((out / f"{name}.json").read_text())
        assert report["selection"]["chosen"] in spec.grid
        assert report["frozen_config"]["seed"] in spec.report_seeds
        frozen = report["settings"]["frozen"]
        assert sorted(frozen["seeds"]) == list(spec.report_seeds)
        series = frozen["daily" if name == "ranker" else "monthly"]
        for column in ("ic", "partial_ic"):
            block = series[column]
            assert finite(block["mean"], block["t_hac"], block["n_effective"])
            assert 1 <= block["n_effective"] <= block["n"]
        portfolio = frozen["portfolio"]
        assert finite(portfolio["effective_n"], portfolio["turnover"], portfolio["active_net"]["annualised"])
        assert 1 <= portfolio["effective_n"] <= spec.universe_size and 0 <= portfolio["turnover"] <= 1
        assert report["environment"]["packages"]["torch"] and "git_commit" in report["environment"]
        assert all(finite(y["mean"]) for y in report["yardsticks"].values())
    allocator = json.loads((out / "allocator.json").read_text())
    assert list(allocator["ablations"]) == ["demean_returns=True"]
    assert set(allocator["unavailable_ablations"]) == {"no_such_option=0", "no_such_option=1"}
    difference = allocator["ablations"]["demean_returns=True"]["difference_vs_frozen"]
    assert {"monthly_ic", "portfolio_net"} <= set(difference)
    assert "## allocator" in (out / "protocol.md").read_text() and "## ranker" in (out / "protocol.md").read_text()


def test_report_scores_only_the_report_window_and_selection_only_its_own(protocol_run):
    _, out, specs = protocol_run
    for name, spec in specs.items():
        for path in (out / "units" / name).glob("select-*.json"):
            unit = json.loads(path.read_text())
            assert max(unit["monthly"]["date"]) <= spec.select[1]  # selection never ran past its window
        report = json.loads((out / f"{name}.json").read_text())
        months = report["settings"]["frozen"]["monthly"]["ic"]["n"]
        assert 0 < months <= 4


def test_a_rerun_skips_finished_units(protocol_run):
    market, out, specs = protocol_run
    units = sorted((out / "units").rglob("*-s*-*.json"))
    stamps = {p: p.stat().st_mtime_ns for p in units}
    again = run_model(specs["allocator"], market, out, 0.001, jobs=1, runner={})
    assert {p: p.stat().st_mtime_ns for p in units} == stamps
    assert sorted((out / "units").rglob("*-s*-*.json")) == units
    before = json.loads((out / "allocator.json").read_text())["settings"]["frozen"]["monthly"]["ic"]["mean"]
    assert again["settings"]["frozen"]["monthly"]["ic"]["mean"] == pytest.approx(before)


def test_publishing_one_model_keeps_the_other_models_section(protocol_run, tmp_path):
    """``--model ranker`` after ``--model allocator``: protocol.md still reports the allocator (read back from its
    published JSON), and the ranker's section is the new one."""
    _, out, _ = protocol_run
    for name in ("allocator.json", "ranker.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    ranker = json.loads((out / "ranker.json").read_text())
    ranker["protocol"] = "a-new-run"
    publish(tmp_path, {"ranker": ranker})
    text = (tmp_path / "protocol.md").read_text()
    assert "## allocator" in text and "## ranker" in text and "a-new-run" in text
    assert json.loads((tmp_path / "ranker.json").read_text())["protocol"] == "a-new-run"
    assert (tmp_path / "allocator.json").read_bytes() == (out / "allocator.json").read_bytes()


def test_runner_backtests_give_the_fee_adjusted_active_return_over_the_report_window(tmp_path):
    from protocol_lib.report import runner_block

    days = pd.bdate_range("2013-11-01", "2014-04-30")
    growth = {"model": 1.02, "baseline": 1.01}  # per month, compounded daily within each month
    for name, monthly in growth.items():
        folder = tmp_path / name
        folder.mkdir()
        months = np.array([(d.year - 2013) * 12 + d.month for d in days], dtype=float)
        equity = 100_000 * monthly ** months
        pd.DataFrame({"date": days, "equity": equity, "benchmark": equity}).to_csv(folder / "equity.csv", index=False)
        (folder / "statistics.json").write_text(json.dumps(  # the runner's layout (lean_local/engine/statistics.py)
            {"algorithm": {"Total Fees": 12.5, "Sharpe Ratio": 1.0}, "lean": {"Total Fees": "$12.50"}}))
        (folder / "run.json").write_text(json.dumps({"status": "completed"}))  # the completion marker
        pd.DataFrame(columns=["time", "symbol", "quantity", "price", "status", "lastFillTime",  # the runner's columns
                              "orderFeeAmount"]).to_csv(folder / "orders.csv", index=False)
    block = runner_block({"ranker": str(tmp_path / "model"), "baseline": str(tmp_path / "baseline")},
                         ("2014-01-01", "2014-04-30"), "ranker")
    active = block["active_vs_baseline_after_fees"]
    assert active["n"] == 4 and active["mean"] == pytest.approx(0.01)  # Jan..Apr 2014 only, 2 % - 1 % a month
    assert block["ranker"]["statistics"]["Total Fees"] == 12.5
    assert runner_block({}, ("2014-01-01", "2014-04-30"), "ranker") is None
    (tmp_path / "model" / "run.json").write_text(json.dumps({"status": "failed", "error": "killed"}))
    with pytest.raises(SystemExit, match="status 'failed'"):  # a failed backtest is refused, not read
        runner_block({"ranker": str(tmp_path / "model")}, ("2014-01-01", "2014-04-30"), "ranker")
