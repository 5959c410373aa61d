"""Reference allocators (models/reference and the four algorithms on it): hand-computable weights, no
look-ahead, bad input, and each algorithm run through the local runner on the synthetic market."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.runner import run_backtest
from models.reference import (ALLOCATORS, MomentumConfig, ReferenceDecider, RiskConfig, hierarchical_risk_parity,
                              inverse_volatility, minimum_variance, momentum_12_1, trailing_returns)
from models.reference import allocators as allocators_module

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("inverse_volatility", "minimum_variance", "hierarchical_risk_parity", "momentum_12_1")
DAYS = pd.bdate_range("2020-01-01", periods=300)


def orthogonal_returns(sigmas: list[float], n: int = 256) -> pd.DataFrame:
    """Zero-mean columns with sample correlation exactly 0 and sample std sigma * sqrt(n / (n - 1)):
    column k is a +-1 square wave of period 2^(k+1) (Walsh functions), scaled by its sigma."""
    t = np.arange(n)
    columns = {f"S{k}": sigma * np.where((t // 2 ** k) % 2 == 0, 1.0, -1.0) for k, sigma in enumerate(sigmas)}
    return pd.DataFrame(columns, index=DAYS[:n])


def block_returns(seed: int = 0, n: int = 252) -> pd.DataFrame:
    """Two clusters of three stocks: L* quiet (1% daily), H* volatile (3%), each driven by its own factor."""
    rng = np.random.default_rng(seed)
    frame = {}
    for prefix, vol in (("L", 0.01), ("H", 0.03)):
        factor = rng.normal(0, 1, n)
        for k in range(3):
            frame[f"{prefix}{k}"] = vol * (0.8 * factor + 0.6 * rng.normal(0, 1, n))
    return pd.DataFrame(frame, index=DAYS[:n])


def risk(**kw) -> RiskConfig:
    return RiskConfig(**{"lookback_days": 256, "min_history": 0.8, **kw})


# --- hand-computable weights ---
def test_inverse_volatility_is_one_over_sigma_normalised():
    weights = inverse_volatility(orthogonal_returns([0.01, 0.03]), risk()).weights
    assert weights.to_dict() == pytest.approx({"S0": 0.75, "S1": 0.25}, abs=1e-12)


def test_minimum_variance_of_uncorrelated_assets_is_one_over_variance():
    returns = orthogonal_returns([0.01, 0.02, 0.04])
    weights = minimum_variance(returns, risk(covariance="empirical")).weights
    inverse_variance = np.array([1 / 0.01 ** 2, 1 / 0.02 ** 2, 1 / 0.04 ** 2])
    # abs 1e-4: the interior-point solver (CLARABEL) stops at its default tolerance on variances of 1e-4.
    assert weights.to_numpy() == pytest.approx(inverse_variance / inverse_variance.sum(), abs=1e-4)
    # Ledoit-Wolf shrinks the variances towards their mean: the same order, less spread.
    shrunk = minimum_variance(returns, risk()).weights
    assert 1 / 3 < shrunk["S0"] < weights["S0"] and shrunk["S2"] > weights["S2"]


def test_minimum_variance_respects_max_weight_and_stays_fully_invested():
    weights = minimum_variance(orthogonal_returns([0.01, 0.02, 0.04]), risk(covariance="empirical",
                                                                           max_weight=0.5)).weights
    assert weights.max() == pytest.approx(0.5, abs=1e-5) and weights.sum() == pytest.approx(1.0)


def test_hrp_gives_the_volatile_cluster_less_weight():
    weights = hierarchical_risk_parity(block_returns(), risk(lookback_days=252)).weights
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all() and len(weights) == 6
    quiet, loud = weights.filter(like="L").sum(), weights.filter(like="H").sum()
    assert loud < quiet / 4  # risk parity between clusters with 3x the volatility: about 1/9 of the weight


def momentum_market(stocks: int = 20, formation: int = 252, skip: int = 21) -> pd.DataFrame:
    """Stock k earns k basis points a day for the first ``formation - skip`` days, then the ranking flips:
    in the last ``skip`` days the low-k stocks jump 3% a day and the high-k ones fall 3%."""
    head = np.tile(np.arange(stocks) * 1e-4, (formation - skip, 1))
    tail = np.tile(np.where(np.arange(stocks) < stocks // 2, 0.03, -0.03), (skip, 1))
    return pd.DataFrame(np.vstack([head, tail]), index=DAYS[:formation], columns=[f"M{k:02d}" for k in range(stocks)])


def test_momentum_holds_the_top_decile_of_the_12_1_return_and_skips_the_last_month():
    weights = momentum_12_1(momentum_market(), MomentumConfig()).weights
    assert weights.to_dict() == {"M19": 0.5, "M18": 0.5}  # ceil(10% of 20) = 2 best by the 12-1 return
    without_skip = momentum_12_1(momentum_market(), MomentumConfig(skip_days=0)).weights
    assert set(without_skip.index) == {"M08", "M09"}  # the last month's jump dominates when it is not skipped


# --- no look-ahead ---
def lean_history(closes: pd.DataFrame) -> pd.DataFrame:
    """``closes`` (dates x tickers) in LEAN's history shape: (symbol, 16:00 bar end) rows, a close column."""
    stacked = closes.set_axis(closes.index + pd.Timedelta(hours=16)).stack().rename("close")
    frame = stacked.to_frame().swaplevel().sort_index()
    frame.index.names = ["symbol", "time"]
    return frame


def test_future_bars_do_not_change_any_decision():
    returns = block_returns(seed=1, n=299)
    closes = (1 + returns).cumprod() * 100
    decision = dt.datetime.combine(closes.index[260].date(), dt.time(10, 0))  # 30 minutes after the open
    known = closes.loc[closes.index < pd.Timestamp(decision.date())]
    rng = np.random.default_rng(9)
    with_future = closes.copy()
    with_future.loc[with_future.index >= pd.Timestamp(decision.date())] *= rng.uniform(0.2, 5.0, (39, 6))
    for name in NAMES:
        config = MomentumConfig(formation_days=200, skip_days=10) if name == "momentum_12_1" else RiskConfig()
        honest = ReferenceDecider(name, config).decide(lean_history(known), list(closes.columns), decision)
        leaked = ReferenceDecider(name, config).decide(lean_history(with_future), list(closes.columns), decision)
        assert honest.weights and leaked.weights == honest.weights, name
        assert leaked.window_end == pd.Timestamp(closes.index[259]) + pd.Timedelta(hours=16)  # the previous close


def test_trailing_returns_end_at_the_last_bar_before_the_decision():
    closes = pd.DataFrame({"A": [1.0, 2.0, 4.0, 8.0]}, index=DAYS[:4] + pd.Timedelta(hours=16))
    returns = trailing_returns(closes, dt.datetime.combine(DAYS[3].date(), dt.time(10)), 5)
    assert returns["A"].tolist() == [1.0, 1.0] and returns.index[-1] == closes.index[2]


# --- bad input ---
def test_a_one_day_halt_costs_no_return_and_keeps_the_move_across_it():
    """A missing bar between two closes used to erase two returns: the stock fell out of momentum's window
    (min_history 1.0) for a year, and the move across the gap was lost."""
    index = pd.DatetimeIndex(DAYS[:6]) + pd.Timedelta(hours=16)
    closes = pd.DataFrame({"A": [10.0, 11.0, np.nan, 12.1, 12.1, np.nan]}, index=index)
    returns = trailing_returns(closes, index[-1].to_pydatetime(), 10)
    # the halt on day 3 costs nothing: 10%, 0, 10%, 0; the trailing missing close stays missing (no invented zero)
    assert returns["A"].iloc[:4].to_numpy() == pytest.approx([0.1, 0.0, 0.1, 0.0])
    assert np.isnan(returns["A"].iloc[-1])


def test_scattered_gaps_leave_the_gappiest_stock_out_rather_than_zero_filled():
    """Zero-filled gaps understate a stock's volatility, and inverse volatility then overweights it."""
    returns = orthogonal_returns([0.01, 0.01, 0.01], n=100)
    gappy = returns.copy()
    gappy.iloc[::7, 0] = np.nan  # 15 gaps in S0: 85 returns, enough for min_history 0.8
    gappy.iloc[3::9, 1] = np.nan  # 11 gaps in S1, at other dates: complete rows fall below 80
    allocation = inverse_volatility(gappy, risk(lookback_days=100))
    assert "S0" in allocation.left_out and "gaps" in allocation.left_out["S0"]
    assert set(allocation.weights.index) == {"S1", "S2"}
    assert allocation.weights.to_dict() == pytest.approx({"S1": 0.5, "S2": 0.5}, rel=0.02)


def test_bad_columns_are_left_out_with_a_reason_and_one_stock_gets_everything():
    returns = orthogonal_returns([0.01, 0.02])
    returns["EMPTY"] = np.nan
    returns["FLAT"] = 0.0
    returns.iloc[:200, 1] = np.nan  # S1 joined late: 56 of 256 returns
    for name in NAMES[:3]:
        allocation = ALLOCATORS[name](returns, risk())
        assert allocation.weights.to_dict() == {"S0": 1.0}, name
        assert set(allocation.left_out) == {"EMPTY", "FLAT", "S1"}
        assert allocation.left_out["S1"] == "56 daily returns in the 256-day window, 205 needed"
    assert inverse_volatility(returns.iloc[:, 2:], risk()).weights.empty  # nothing usable: no weights, no crash


def test_singular_covariance_is_repaired_not_fatal():
    returns = block_returns(n=252)
    returns["L0_twin"] = returns["L0"]  # two identical columns: the sample covariance is singular
    for allocate in (minimum_variance, hierarchical_risk_parity):
        allocation = allocate(returns, risk(lookback_days=252, covariance="empirical"))
        assert allocation.warning is None and allocation.weights.sum() == pytest.approx(1.0)
        assert (allocation.weights >= 0).all()


def test_a_solver_failure_falls_back_to_inverse_volatility_and_names_the_window(monkeypatch):
    def broken_fit(self, X, y=None, **kw):
        raise ArithmeticError("solver gave up")

    monkeypatch.setattr(allocators_module.MeanRisk, "fit", broken_fit)
    returns = orthogonal_returns([0.01, 0.03])
    allocation = minimum_variance(returns, risk())
    assert allocation.weights.to_dict() == pytest.approx({"S0": 0.75, "S1": 0.25})
    assert allocation.warning and f"{returns.index[-1]:%Y-%m-%d}" in allocation.warning
    assert "solver gave up" in allocation.warning


def test_left_out_stocks_are_logged_once_per_run():
    closes = (1 + orthogonal_returns([0.01, 0.02], n=280)).cumprod()
    closes["NEW"] = np.nan
    closes.iloc[-30:, 2] = 50.0 + np.arange(30)
    decider = ReferenceDecider("inverse_volatility", RiskConfig())
    times = [dt.datetime.combine(closes.index[i].date(), dt.time(10)) for i in (-10, -1)]
    lines = [decider.decide(lean_history(closes), ["S0", "S1", "NEW", "GONE"], t).log_lines for t in times]
    assert len(lines[0]) == 1 and "NEW (" in lines[0][0] and "GONE (no price history)" in lines[0][0]
    assert lines[1] == []


def test_settings_come_from_lean_parameter_strings_and_typos_fail_at_start():
    config = RiskConfig.from_parameters({"lookback_days": "126", "covariance": "empirical", "unrelated": "x"})
    assert (config.lookback_days, config.covariance) == (126, "empirical")
    with pytest.raises(ValueError, match="covariance='ledoitwolf'"):
        RiskConfig.from_parameters({"covariance": "ledoitwolf"})
    with pytest.raises(ValueError, match="skip_days=252"):
        MomentumConfig.from_parameters({"skip_days": "252"})


# --- the four algorithms through the local runner ---
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=5, start="2009-01-02", end="2010-04-30")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_each_algorithm_finishes_a_backtest_on_the_synthetic_market(name, synthetic):
    result = run_backtest(ROOT / "algorithms" / name, data_dir=synthetic, start="2010-01-01", end="2010-03-31",
                          progress=False, write=False)
    filled = [o for o in result.record.orders if o.status.name == "FILLED"]
    assert filled and result.record.equity[-1][0] >= dt.date(2010, 3, 30)
    decisions = result.algorithm.window_ends
    assert len(decisions) == 3
    for decided_at, newest_bar in decisions:  # LEAN's history at 10:00 ends at the previous session's close
        assert newest_bar.date() < decided_at.date() and (decided_at - newest_bar).days <= 4
    holdings = pd.DataFrame(result.record.holdings, columns=["date", "symbol", "weight"])
    per_day = holdings.groupby("date").weight
    # Fully invested, long-only: sized on the previous close and filled at the day's close, so the close's
    # weights drift from the targets by that day's moves (a few percent on the synthetic market).
    assert per_day.sum().between(0.95, 1.05).all() and (holdings.weight > 0).all()
    if name == "momentum_12_1":
        assert per_day.count().max() == 10  # the top decile of the top 100
