"""``python -m lean_local compare``: the tests against known answers, alignment, grouping, and the report end to end."""
from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from lean_local.cli import main
from lean_local.compare import inference
from lean_local.compare.loading import group_runs, load_inputs
from lean_local.compare.report import compare, median_interval, runs_table, write_report
from lean_local.compare.window import common_dates, daily_returns, run_window_statistics
from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.orders import LEAN_ORDER_COLUMNS
from lean_local.engine.runner import run_backtest

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# Inference on series with known answers
# --------------------------------------------------------------------------------------------------
def _pair(rng: np.random.Generator, n: int, mean_b: float, correlation: float = 0.6) -> tuple[np.ndarray, ...]:
    """Daily returns: a with Sharpe 0.05/day, b with mean ``mean_b`` and 1.5x the volatility, correlated."""
    z = rng.standard_normal((n, 2))
    a = 0.0005 + 0.01 * z[:, 0]
    b = mean_b + 0.015 * (correlation * z[:, 0] + math.sqrt(1 - correlation ** 2) * z[:, 1])
    return a, b


def test_identical_series_have_zero_difference_and_p_value_one():
    a, _ = _pair(np.random.default_rng(0), 500, 0.0)
    lw = inference.ledoit_wolf_test(a, a.copy())
    boot, interval = inference.bootstrap_test(a, a.copy(), reps=200)
    assert (lw.difference, lw.p_value) == (0.0, 1.0)
    assert (boot.difference, boot.p_value, interval) == (0.0, 1.0, (0.0, 0.0))


def test_very_different_sharpe_ratios_are_significant():
    rng = np.random.default_rng(1)
    a = 0.002 + 0.01 * rng.standard_normal(2000)  # Sharpe 0.2 a day
    b = -0.001 + 0.01 * rng.standard_normal(2000)
    lw = inference.ledoit_wolf_test(a, b)
    boot, (low, high) = inference.bootstrap_test(a, b, reps=300)
    assert lw.difference == pytest.approx(inference.sharpe(a) - inference.sharpe(b), rel=1e-3)
    assert lw.p_value < 0.01 and boot.p_value < 0.01
    assert 0 < low < boot.difference < high


def test_ledoit_wolf_standard_error_matches_the_iid_formula():
    """Independent iid normal returns: Var(SR_hat) = (1 + SR^2 / 2) / T per series (Lo 2002), so the difference's
    standard error (per period, no lags) is sqrt(2 (1 + SR^2/2) / T)."""
    a, b = _pair(np.random.default_rng(2), 20_000, 0.00075, correlation=0.0)
    lw = inference.ledoit_wolf_test(a, b, lags=0, periods=1)
    expected = math.sqrt((2 + 0.05 ** 2) / 20_000)
    assert lw.standard_error == pytest.approx(expected, rel=0.05)


def test_ledoit_wolf_p_values_are_calibrated_under_the_null():
    """Equal true Sharpe (0.05 a day), correlated: the 5% test rejects about 5% of the time."""
    rng = np.random.default_rng(3)
    p_values = np.array([inference.ledoit_wolf_test(*_pair(rng, 750, 0.00075)).p_value for _ in range(300)])
    assert 0.02 <= np.mean(p_values < 0.05) <= 0.09
    assert 0.35 <= np.mean(p_values) <= 0.65  # roughly uniform: mean near 1/2


def test_newey_west_with_no_lags_is_the_ols_t_scaled_by_sqrt_n_over_n_minus_1():
    """On a constant, HAC with 0 lags is White's variance sum(e^2)/n^2 against OLS's sum(e^2)/((n-1) n)."""
    values = np.random.default_rng(4).standard_normal(120) + 0.2
    ols_t = float(sm.OLS(values, np.ones(120)).fit().tvalues[0])
    hand_t = values.mean() / math.sqrt(np.sum((values - values.mean()) ** 2) / 120 ** 2)
    result = inference.newey_west_mean(values, lags=0)
    assert result.t_stat == pytest.approx(hand_t, rel=1e-10)
    assert result.t_stat == pytest.approx(ols_t * math.sqrt(120 / 119), rel=1e-10)
    assert inference.newey_west_mean(values).t_stat == pytest.approx(ols_t, rel=0.15)  # no autocorrelation


def test_median_interval_across_seeds():
    assert median_interval([1.0]) == {"median": 1.0, "low": None, "high": None, "n": 1, "confidence": None}
    three = median_interval([0.5, 0.1, 0.9])  # [x(1), x(3)] covers the median with 1 - 2 (1/2)^3 = 75%
    assert (three["median"], three["low"], three["high"], three["confidence"]) == (0.5, 0.1, 0.9, 0.75)
    eight = median_interval([8.0, 3.0, 5.0, 1.0, 7.0, 2.0, 6.0, 4.0])  # [x(2), x(7)] covers 1 - 2 * 9/256 < 95%
    assert (eight["median"], eight["low"], eight["high"]) == (4.5, 1.0, 8.0)
    assert eight["confidence"] == pytest.approx(1 - 2 / 256, abs=1e-15)
    ten = median_interval([float(v) for v in range(10, 0, -1)])  # [x(2), x(9)]: 1 - 2 * 11/1024 >= 95%
    assert (ten["low"], ten["high"]) == (2.0, 9.0)
    assert ten["confidence"] == pytest.approx(1 - 22 / 1024, abs=1e-15)


def test_ledoit_wolf_difference_is_the_difference_of_test_sharpes():
    a, b = _pair(np.random.default_rng(5), 300, 0.0)
    assert inference.ledoit_wolf_test(a, b).difference == inference.sharpe(a) - inference.sharpe(b)


def test_flat_series_give_nan_results_with_a_reason_and_no_warning():
    a, _ = _pair(np.random.default_rng(6), 300, 0.0)
    flat = np.zeros_like(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lw = inference.ledoit_wolf_test(a, flat)
        boot, interval = inference.bootstrap_test(flat, a, reps=50)
    for result in (lw, boot):
        assert math.isnan(result.difference) and math.isnan(result.p_value) and "no variance" in result.note
    assert all(math.isnan(x) for x in interval)


def test_holm_adjusted_p_values_by_hand():
    from lean_local.compare.report import holm_adjusted

    adjusted = holm_adjusted({"a": 0.01, "b": 0.04, "c": 0.03, "flat": float("nan")})
    # sorted 0.01, 0.03, 0.04 over m = 3 tests: 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    assert adjusted["a"] == pytest.approx(0.03) and adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06) and math.isnan(adjusted["flat"])


# --------------------------------------------------------------------------------------------------
# Hand-made run folders: alignment, grouping, failures
# --------------------------------------------------------------------------------------------------
def fake_run(folder: Path, dates: pd.DatetimeIndex, seed: int, parameters: dict[str, str] | None = None,
             project: str = "algorithms/model", status: str = "completed", trades: bool = True) -> Path:
    """A run folder as the runner writes it: random equity, one buy and one sale (or no order), run.json last."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    equity = 1e6 * np.cumprod(1 + 0.0004 + 0.01 * rng.standard_normal(len(dates)))
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "equity": equity,
                  "benchmark": 100 * np.cumprod(1 + 0.01 * rng.standard_normal(len(dates)))}).to_csv(
        folder / "equity.csv", index=False)
    orders = [{"id": i + 1, "symbol": "AAA", "time": f"{d.date()}T14:00:00Z", "lastFillTime": f"{d.date()}T21:00:00Z",
               "quantity": q, "type": "MarketOnClose", "status": "Filled", "price": 10.0 + i, "orderFeeAmount": 1.0}
              for i, (d, q) in enumerate([(dates[1], 100.0), (dates[-2], -100.0)] if trades else [])]
    pd.DataFrame(orders, columns=LEAN_ORDER_COLUMNS).to_csv(folder / "orders.csv", index=False)
    (folder / "statistics.json").write_text(json.dumps({"algorithm": {"Start Equity": 1e6}}))
    params = {**(parameters or {}), "seed": str(seed)}
    info = {"project": project, "parameters": params, "seed": str(seed), "status": status, "data_folder": None}
    if status != "completed":
        info["error"] = "RuntimeError: boom"
    (folder / "run.json").write_text(json.dumps(info))
    return folder


DAYS = pd.bdate_range("2015-01-02", "2016-06-30")


def test_common_window_is_the_intersection_and_starts_from_the_previous_close(tmp_path):
    early = fake_run(tmp_path / "early", DAYS[:300], 1)
    late = fake_run(tmp_path / "late", DAYS[100:], 2)
    runs, _ = load_inputs([early, late])
    dates = common_dates(runs)
    assert (dates[0], dates[-1], len(dates)) == (DAYS[100], DAYS[299], 200)
    stats = {r.path.name: run_window_statistics(r, dates) for r in runs}
    early_close = pd.read_csv(early / "equity.csv")["equity"].iloc[99]
    assert stats["early"]["Start Equity"] == pytest.approx(early_close)  # the close before the window
    assert stats["late"]["Start Equity"] == 1e6  # its own first day: its starting capital
    for name in ("early", "late"):  # each run's second fill is in the window, the other is not
        assert (stats[name]["Total Fees"], stats[name]["Total Orders"]) == (1.0, 1.0)
    assert stats["early"]["End Equity"] == pytest.approx(pd.read_csv(early / "equity.csv")["equity"].iloc[299],
                                                         abs=1e-4)


def test_runs_without_common_dates_are_refused(tmp_path):
    runs, _ = load_inputs([fake_run(tmp_path / "a", DAYS[:50], 1), fake_run(tmp_path / "b", DAYS[60:], 2)])
    with pytest.raises(ValueError, match="share 0 trading dates"):
        common_dates(runs)


def test_runs_differing_only_by_seed_form_a_group(tmp_path):
    opt = tmp_path / "optimization"
    for seed in (1, 2, 3):
        fake_run(opt / f"lr=0.1,seed={seed}", DAYS, seed, {"lr": "0.1"})
    fake_run(opt / "lr=0.2,seed=1", DAYS, 4, {"lr": "0.2"})
    runs, _ = load_inputs([opt])
    groups = group_runs(runs)
    assert [len(g.runs) for g in groups] == [3, 1]
    assert groups[0].is_seed_group and not groups[1].is_seed_group
    assert groups[0].label == "model lr=0.1"
    result = compare([opt], bootstrap_reps=50)
    (summary,) = result.group_summaries
    sharpes = [result.statistics[r.label]["Sharpe Ratio"] for r in groups[0].runs]
    assert summary["Sharpe Ratio"]["median"] == pytest.approx(float(np.median(sharpes)))
    assert (summary["Sharpe Ratio"]["low"], summary["Sharpe Ratio"]["high"]) == (min(sharpes), max(sharpes))
    assert summary["Sharpe Ratio"]["confidence"] == 0.75  # 1 - 2 (1/2)^3 with three seeds
    raw = {label: t["ledoit_wolf"]["p_value"] for label, t in result.tests.items()}
    order = sorted(raw, key=raw.get)  # Holm by hand over the three runs tested against the reference
    steps = [min(1.0, (len(order) - i) * raw[label]) for i, label in enumerate(order)]
    by_hand = {label: max(steps[:i + 1]) for i, label in enumerate(order)}
    assert {label: t["lw_p_value_holm"] for label, t in result.tests.items()} == pytest.approx(by_hand)


def test_a_name_containing_the_label_separators_keeps_its_group(tmp_path):
    from lean_local.compare.html import _series_by_group

    opt = tmp_path / "optimization"
    for seed in (1, 2):
        fake_run(opt / f"seed={seed}", DAYS[:60], seed)
    fake_run(tmp_path / "other", DAYS[:60], 9, project="algorithms/other")
    name = "mine seed=7 (median)"
    result = compare([opt, tmp_path / "other"], names={opt: name}, bootstrap_reps=20)
    assert [g.label for g in result.groups] == [name, "other"]
    assert [s["group"] for s in result.group_summaries] == [name]
    frame = pd.DataFrame({r.label: np.ones(3) for r in result.runs})
    bands = [band_label for _, _, band, band_label in _series_by_group(result, frame) if band is not None]
    assert bands == [f"{name}: range across seeds"]


def test_a_flat_run_is_reported_with_a_reason(tmp_path):
    fake_run(tmp_path / "runs" / "a", DAYS[:80], 1)
    flat = fake_run(tmp_path / "runs" / "flat", DAYS[:80], 2, trades=False, project="algorithms/cash")
    frame = pd.read_csv(flat / "equity.csv").assign(equity=1e6)
    frame.to_csv(flat / "equity.csv", index=False)
    result = compare([tmp_path / "runs"], reference=tmp_path / "runs" / "a", bootstrap_reps=30)
    (test,) = result.tests.values()
    assert "no variance" in test["note"] and math.isnan(test["sharpe_difference"])
    out = write_report(result, tmp_path / "report")
    row = pd.read_csv(out / "runs.csv").set_index("run").loc["cash"]
    assert "no variance" in row["note"] and math.isnan(row["lw_p_value"])
    assert "no variance" in (out / "report.html").read_text()


def test_runs_table_computes_a_missing_test_sharpe_only_when_needed(tmp_path, monkeypatch):
    from lean_local.compare import report

    for seed in (1, 2, 3):
        fake_run(tmp_path / "runs" / str(seed), DAYS[:40], seed, project=f"algorithms/p{seed}")
    result = compare([tmp_path / "runs"], bootstrap_reps=20)
    calls = []
    monkeypatch.setattr(report, "daily_returns", lambda *a: calls.append(a) or daily_returns(*a))
    runs_table(result)
    assert len(calls) == 1  # the reference only: the others' test Sharpe is in their tests


def test_a_failed_run_is_listed_and_skipped(tmp_path):
    good = fake_run(tmp_path / "runs" / "good", DAYS, 1)
    fake_run(tmp_path / "runs" / "other", DAYS, 2, trades=False)
    failed = fake_run(tmp_path / "runs" / "failed", DAYS, 3, status="failed")
    result = compare([tmp_path / "runs"], reference=good, bootstrap_reps=50)
    assert [r.path for r in result.skipped] == [failed]
    assert "boom" in result.skipped[0].problem
    assert len(result.runs) == 2 and result.reference.path == good
    (other,) = [r for r in result.runs if r.path.name == "other"]
    assert other.label == "model seed=2" and result.statistics[other.label]["Total Orders"] == 0.0
    out = write_report(result, tmp_path / "report")
    skipped = json.loads((out / "comparison.json").read_text())["skipped"]
    assert skipped == [{"path": str(failed), "problem": "status 'failed': RuntimeError: boom"}]
    with pytest.raises(ValueError, match="no completed run"):
        compare([failed])


# --------------------------------------------------------------------------------------------------
# Real runs on a synthetic market, through the command line
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """top100_baseline 2009-06..2010-06 and SPY buy-and-hold from 2009-09 on a small synthetic market."""
    root = tmp_path_factory.mktemp("compare")
    write_synthetic_market(root / "data", seed=3, start="2009-01-02", end="2010-06-30")
    base = run_backtest(ROOT / "algorithms" / "top100_baseline", data_dir=root / "data", progress=False,
                        output=root / "runs" / "baseline")
    spy = run_backtest(ROOT / "algorithms" / "spy_buy_and_hold", data_dir=root / "data", start="2009-09-01",
                       progress=False, output=root / "runs" / "spy")
    return root, base.output_dir, spy.output_dir


def test_window_statistics_of_a_whole_run_are_its_statistics_json(synthetic_runs):
    """lean_statistics.window_statistics over a run's own dates reproduces what the runner wrote (to 1e-4: equity.csv
    keeps 6 decimals of the benchmark, which moves Beta and Tracking Error in the 7th digit)."""
    _, baseline, _ = synthetic_runs
    runs, _ = load_inputs([baseline])
    (run,) = runs
    stats = run_window_statistics(run, pd.DatetimeIndex(run.equity.index))
    written = json.loads((baseline / "statistics.json").read_text())["algorithm"]
    for name, value in written.items():
        assert stats[name] == pytest.approx(value, rel=1e-4, abs=1e-9), name


def test_compare_command_writes_html_json_and_csv(synthetic_runs, caplog):
    root, baseline, spy = synthetic_runs
    out = root / "report"
    assert main(["compare", str(spy), str(baseline), "--out", str(out), "--bootstrap-reps", "100",
                 "--name", f"spy={spy}"]) == 0
    payload = json.loads((out / "comparison.json").read_text())
    assert payload["window"]["first"] == "2009-09-01" and payload["window"]["last"] == "2010-06-30"
    assert payload["reference"] == "top100_baseline"  # the baseline, though given second
    table = pd.read_csv(out / "runs.csv")
    assert list(table["run"]) == ["spy", "top100_baseline"]
    assert table.set_index("run").loc["spy", "lw_p_value"] == payload["tests"]["spy"]["ledoit_wolf"]["p_value"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # equity and drawdown (under 12 months: no rolling Sharpe)
    assert "2009-09-01 .. 2010-06-30" in page
    assert json.loads((out / "run.json").read_text())["kind"] == "lean_local comparison"
    # the report folder is never taken for a run, and a rerun into it replaces it whole
    assert main(["compare", str(root), "--out", str(out), "--bootstrap-reps", "50"]) == 0
    assert len(pd.read_csv(out / "runs.csv")) == 2
    assert not [p for p in root.iterdir() if ".backtest-" in p.name]


def test_labels_stay_unique_and_follow_name(tmp_path):
    first = fake_run(tmp_path / "a" / "run", DAYS, 1, {"lr": "0.1"})
    second = fake_run(tmp_path / "b" / "run", DAYS, 1, {"lr": "0.1"})
    runs, _ = load_inputs([first, second])
    assert [r.label for r in runs] == ["model (run)", "model (run) #2"]
    runs, _ = load_inputs([first, second], names={second: "mine"})
    assert [r.label for r in runs] == ["model", "mine"]


def test_report_cells_are_formatted_by_statistic():
    from lean_local.compare.html import _format

    assert _format("Drawdown", 0.104) == "10.40%" and _format("Drawdown low", 0.1) == "10.00%"
    assert _format("Sharpe Ratio confidence", 0.9375) == "93.75%" and _format("Sharpe Ratio high", 1.0) == "1.000"
    assert _format("Drawdown Recovery", 92.0) == "92" and _format("Total Orders", 281.0) == "281"
    assert _format("run Total Fees", 1234.5) == "$1,234.50" and _format("lw_p_value", 0.5) == "0.5000"
    assert _format("Sharpe Ratio", float("nan")) == "" and _format("run", "<b>") == "&lt;b&gt;"


def test_window_statistics_needs_a_starting_equity_before_the_first_close():
    from lean_local.engine import lean_statistics as ls

    daily = pd.DataFrame({"equity": [100.0, 101.0, 102.0, 101.5, 103.0], "benchmark": 1.0},
                         index=pd.bdate_range("2020-01-06", periods=5))
    rates = ls.InterestRateModel.default("test")
    with pytest.raises(ValueError, match="no close before 2020-01-06"):
        ls.window_statistics(daily, dt.date(2020, 1, 6), dt.date(2020, 1, 10), rates)
    inside = ls.window_statistics(daily, dt.date(2020, 1, 7), dt.date(2020, 1, 10), rates)
    assert inside["Start Equity"] == 100.0 and inside["End Equity"] == 103.0
    assert inside["Net Profit"] == pytest.approx(0.03)
