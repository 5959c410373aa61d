"""LEAN's statistics by LEAN's formulas: hand-computable cases per formula, and LEAN's own published numbers.

The end-to-end tests run two of LEAN's regression algorithms on LEAN's sample SPY data (tests/fixtures/lean_sample)
and compare the runner's ``statistics.json["lean"]`` with the strings LEAN asserts in
``Algorithm.CSharp/<name>.cs`` ``ExpectedStatistics`` (QuantConnect/Lean 24863901).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from lean_local.data.interest_rate import RELATIVE_PATH, write_interest_rates
from lean_local.engine import lean_statistics as ls
from lean_local.engine.runner import run_backtest
from lean_local.engine.orders import OrderStatus, OrderType
from lean_local.engine.statistics import backtest_statistics
from lean_local.engine.tearsheet import find_baseline_run
from markets import bars, write_market, write_project

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lean_sample"
NO_RATES = ls.InterestRateModel.default("test")

# Algorithm.Python/BasicTemplateDailyAlgorithm.py, as LEAN ships it (comments trimmed)
BASIC_TEMPLATE_DAILY = """
from AlgorithmImports import *

class BasicTemplateDailyAlgorithm(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2013,10,8)
        self.set_end_date(2013,10,17)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)

    def on_data(self, data):
        if not self.portfolio.invested:
            self.set_holdings("SPY", 1)
            self.debug("Purchased Stock")
"""
# Algorithm.CSharp/BasicTemplateDailyAlgorithm.cs ExpectedStatistics (capacity lines left out: not computed)
BASIC_TEMPLATE_DAILY_EXPECTED = {
    "Total Orders": "1", "Average Win": "0%", "Average Loss": "0%", "Compounding Annual Return": "424.375%",
    "Drawdown": "0.800%", "Expectancy": "0", "Start Equity": "100000", "End Equity": "104486.22",
    "Net Profit": "4.486%", "Sharpe Ratio": "17.304", "Sortino Ratio": "35.217",
    "Probabilistic Sharpe Ratio": "96.710%", "Loss Rate": "0%", "Win Rate": "0%", "Profit-Loss Ratio": "0",
    "Alpha": "-0.249", "Beta": "1.015", "Annual Standard Deviation": "0.141", "Annual Variance": "0.02",
    "Information Ratio": "-19", "Tracking Error": "0.011", "Treynor Ratio": "2.403", "Total Fees": "$3.49",
    "Portfolio Turnover": "10.01%", "Drawdown Recovery": "1"}

# Algorithm.Python/MACDTrendAlgorithm.py with LEAN's MACD written out (the runner has no indicators): LEAN updates
# the registered indicator from each daily bar before on_data; ExponentialMovingAverage seeds with the SMA of its
# first N inputs and is ready after N; the signal EMA is fed from the bar on which fast and slow are both ready
# (Indicators/ExponentialMovingAverage.cs, MovingAverageConvergenceDivergence.cs). on_data also runs for slices
# without a bar (a dividend at 00:00), where the trading logic acts once per date, as in LEAN's algorithm.
MACD_TREND = """
from AlgorithmImports import *


class Ema:
    def __init__(self, period):
        self.period, self.k, self.samples, self.total, self.value = period, 2.0 / (period + 1), 0, 0.0, 0.0

    def update(self, x):
        self.samples += 1
        if self.samples <= self.period:
            self.total += x
        if self.samples == self.period:
            self.value = self.total / self.period
        elif self.samples > self.period:
            self.value = x * self.k + self.value * (1 - self.k)
        return self.samples >= self.period


class MACDTrendAlgorithm(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2004, 1, 1)
        self.set_end_date(2015, 1, 1)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)
        self.fast, self.slow, self.signal = Ema(12), Ema(26), Ema(9)
        self.macd, self.ready = 0.0, False
        self.previous = datetime.min

    def update_macd(self, close):
        fast_ready, slow_ready = self.fast.update(close), self.slow.update(close)
        self.macd = self.fast.value - self.slow.value
        if fast_ready and slow_ready:
            self.ready = self.signal.update(self.macd)

    def on_data(self, data):
        if data.contains_key("SPY"):
            self.update_macd(data["SPY"].close)
        if not self.ready:
            return
        if self.previous.date() == self.time.date():
            return
        tolerance = 0.0025
        holdings = self.portfolio["SPY"].quantity
        signal_delta_percent = (self.macd - self.signal.value) / self.fast.value
        if holdings <= 0 and signal_delta_percent > tolerance:
            self.set_holdings("SPY", 1.0)
        elif holdings >= 0 and signal_delta_percent < -tolerance:
            self.liquidate("SPY")
        self.previous = self.time
"""
# Algorithm.CSharp/MACDTrendAlgorithm.cs ExpectedStatistics (capacity lines left out: not computed)
MACD_TREND_EXPECTED = {
    "Total Orders": "85", "Average Win": "4.78%", "Average Loss": "-4.16%", "Compounding Annual Return": "2.952%", "Drawdown": "34.900%",
    "Expectancy": "0.228", "Start Equity": "100000", "End Equity": "137751.04", "Net Profit": "37.751%",
    "Sharpe Ratio": "0.029", "Sortino Ratio": "0.022", "Probabilistic Sharpe Ratio": "0.005%", "Loss Rate": "43%",
    "Win Rate": "57%", "Profit-Loss Ratio": "1.15", "Alpha": "-0.015", "Beta": "0.411",
    "Annual Standard Deviation": "0.103", "Annual Variance": "0.011", "Information Ratio": "-0.34",
    "Tracking Error": "0.123", "Treynor Ratio": "0.007", "Total Fees": "$468.54", "Portfolio Turnover": "2.09%",
    "Drawdown Recovery": "1931"}


@pytest.fixture(scope="module")
def lean_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LEAN's sample SPY folder plus the interest-rate file our data writer adds."""
    data = tmp_path_factory.mktemp("lean_sample") / "data"
    shutil.copytree(FIXTURE, data, ignore=shutil.ignore_patterns("README.md"))
    write_interest_rates(data)
    # the runner only opens folders an import finished (its marker); this one is LEAN's sample data as is
    (data / "lean_local_import.json").write_text(json.dumps({"notes": ["LEAN's sample SPY data, see " + str(FIXTURE)]}))
    return data


def run_lean_algorithm(root: Path, name: str, source: str, data: Path):
    project = write_project(root, name, source, libraries=False)
    return run_backtest(project, data_dir=data, progress=False, output=root / "out")


# --- LEAN's published numbers, end to end -------------------------------------------------------------------
def test_basic_template_daily_reproduces_every_lean_statistic(lean_sample, tmp_path):
    result = run_lean_algorithm(tmp_path, "basic_template_daily", BASIC_TEMPLATE_DAILY, lean_sample)
    [order] = result.record.orders
    assert order.quantity == 697 and order.fee == pytest.approx(3.485)
    lean = result.statistics["lean"]
    assert {k: lean[k] for k in BASIC_TEMPLATE_DAILY_EXPECTED} == BASIC_TEMPLATE_DAILY_EXPECTED
    written = json.loads((result.output_dir / "statistics.json").read_text())
    assert written["lean"] == lean and set(written) >= {"algorithm", "benchmark", "lean", "conventions"}
    assert written["algorithm"]["Sharpe Ratio"] == pytest.approx(17.304, abs=5e-4)
    assert written["conventions"]["risk_free_rate"]["average"] == pytest.approx(0.0075)


def test_macd_trend_reproduces_lean_statistics_over_eleven_years(lean_sample, tmp_path):
    """2004-2015, 42 round trips: trade statistics, rate changes, thinned equity candles, Drawdown Recovery.

    Total Orders 85, not the 84 the runner counted before: SPY goes ex-dividend on 2005-03-18, LEAN calls on_data
    for that 00:00 slice, the signal still says sell, and liquidate cancels the market-on-open sell placed at
    16:00 the day before (Canceled, and counted) before ordering again."""
    result = run_lean_algorithm(tmp_path, "macd_trend", MACD_TREND, lean_sample)
    (canceled,) = [o for o in result.record.orders if o.status != OrderStatus.FILLED]
    assert canceled.status == OrderStatus.CANCELED and canceled.type == OrderType.MARKET_ON_OPEN
    assert canceled.time == dt.datetime(2005, 3, 17, 16) and canceled.canceled_time == dt.datetime(2005, 3, 18)
    lean = result.statistics["lean"]
    assert {k: lean[k] for k in MACD_TREND_EXPECTED} == MACD_TREND_EXPECTED


def test_without_the_interest_rate_file_lean_default_rate_applies(lean_sample, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(lean_sample, data)
    (data / RELATIVE_PATH).unlink()
    result = run_lean_algorithm(tmp_path, "basic_template_daily", BASIC_TEMPLATE_DAILY, data)
    assert result.statistics["conventions"]["risk_free_rate"]["average"] == pytest.approx(0.01)
    assert "default 1%" in result.statistics["conventions"]["risk_free_rate"]["source"]
    assert result.statistics["lean"]["Sharpe Ratio"] != "17.304"  # 1% instead of 0.75%


# --- the risk-free rate (InterestRateProvider.cs) -------------------------------------------------------------
def test_data_writer_ships_lean_interest_rate_file(tmp_path):
    data = write_market(tmp_path, [bars("AAA", [10.0, 11.0, 12.0])])
    rates = ls.InterestRateModel.from_csv(data / RELATIVE_PATH)
    assert (data / RELATIVE_PATH).read_text().startswith("DATE,PCREDIT8\n2003-01-09,2.25\n")
    days = np.array(["2003-01-09", "2008-12-17", "2013-10-10", "2015-12-17", "2023-08-01"], dtype="datetime64[D]")
    assert rates.rates_on(days, dt.date(2024, 1, 1)) == pytest.approx([0.0225, 0.005, 0.0075, 0.01, 0.055])


def test_interest_rate_lookup_follows_lean_provider(tmp_path, caplog):
    path = tmp_path / "interest-rate.csv"
    path.write_text("DATE,PCREDIT8\n1990-01-01,8\n1997-06-01,6\n2003-01-09,2.25\nnot-a-date,1\n2010-02-19,0.75\n")
    with caplog.at_level(logging.ERROR):
        rates = ls.InterestRateModel.from_csv(path)
    assert f"{path}:5" in caplog.text  # the bad line is named and skipped
    days = np.array(["1997-06-01", "1996-01-01", "2000-01-01", "2005-05-05", "2010-02-19", "2030-01-01"],
                    dtype="datetime64[D]")
    # exact file dates win; before 1998 -> 1998-01-01's rate; 1998..first change -> the FIRST line's rate (8%,
    # LEAN's loop starts from it); after today -> today's
    assert rates.rates_on(days, dt.date(2026, 1, 1)) == pytest.approx([0.06, 0.08, 0.08, 0.0225, 0.0075, 0.0075])
    missing = ls.InterestRateModel.from_csv(tmp_path / "none.csv")
    assert missing.rates_on(days) == pytest.approx([0.01] * 6)


# --- sampling ------------------------------------------------------------------------------------------------
def friday_to_tuesday() -> pd.DataFrame:
    """Three trading days around a weekend: Fri 2013-10-11, Mon 14, Tue 15 (EDT: 00:00 = 04:00 UTC)."""
    index = pd.DatetimeIndex(["2013-10-11", "2013-10-14", "2013-10-15"])
    return pd.DataFrame({"equity": [100.0, 110.0, 99.0], "benchmark": [10.0, 11.0, 12.0]}, index=index)


def test_lean_samples_every_calendar_midnight_and_drops_the_first_returns():
    sales = pd.Series([100.0], index=pd.DatetimeIndex(["2013-10-11 16:00"]))
    charts = ls.lean_charts(friday_to_tuesday(), dt.date(2013, 10, 11), None, 100.0, sales)
    utc = [f"2013-10-{d} 04:00" for d in (11, 12, 13, 14, 15)] + ["2013-10-15 20:00"]
    assert list(charts.performance.index) == list(pd.DatetimeIndex(utc))
    # midnight values: start cash, then the last close before each day; final: Tuesday's close
    assert charts.performance.to_numpy() == pytest.approx([0, 0, 0, 0, 0.1, -0.1])
    assert charts.benchmark.to_numpy() == pytest.approx([0, 10, 10, 10, 11, 12])
    returns, bench = ls.performance_lists(charts)
    assert returns == pytest.approx([0, 0, 0.1, -0.1])
    assert bench == pytest.approx([0, 0, 0.1, 12 / 11 - 1])
    # turnover: the Friday fill counts at Saturday's midnight (100 / 100); the start's sample is skipped
    assert charts.turnover.to_numpy() == pytest.approx([1.0, 0, 0, 0, 0])
    assert ls.portfolio_turnover(charts.turnover) == pytest.approx(0.2)
    # equity candles: the midnights plus each 16:00 close (short backtest: every slice is sampled)
    assert len(charts.equity) == 5 + 3 and charts.equity.iloc[-1] == 99.0


def test_equity_candles_are_thinned_to_lean_resample_period():
    assert ls.resample_minutes(dt.date(2013, 10, 8), dt.date(2013, 10, 17)) == 4.0
    eleven_years = ls.resample_minutes(dt.date(2004, 1, 1), dt.date(2015, 1, 1))
    assert eleven_years == pytest.approx(4019 * 1440 / 4000, abs=1e-6)  # 24.1 h: every other daily slice
    times = pd.date_range("2020-01-06 21:00", periods=5, freq="D")
    assert ls._thinned(times, eleven_years).tolist() == [True, False, True, False, True]


def test_compounding_annual_return_counts_calendar_time_in_utc():
    """Across the end of daylight saving the 16:00 close is 21:00 UTC: 4 days 17 hours after 04:00 UTC."""
    index = pd.DatetimeIndex(["2013-11-01", "2013-11-04", "2013-11-05"])
    daily = pd.DataFrame({"equity": [100.0, 100.0, 121.0], "benchmark": [1.0, 1.0, 1.0]}, index=index)
    charts = ls.lean_charts(daily, dt.date(2013, 11, 1), None, 100.0)
    years = (4 + 17 / 24) / 365
    stats = ls.portfolio_statistics(charts, 100.0, NO_RATES)
    assert stats["Compounding Annual Return"] == pytest.approx(1.21 ** (1 / years) - 1)


# --- formulas ------------------------------------------------------------------------------------------------
def test_annualisation_is_geometric_and_variance_is_sample_variance():
    assert ls.annual_performance(np.full(10, 0.001)) == pytest.approx(1.001 ** 252 - 1)
    assert ls.annual_performance(np.array([0.01, -0.01])) == pytest.approx(0.0)
    assert ls.annual_variance(np.array([0.01, -0.01])) == pytest.approx(0.0002 * 252)
    assert ls.annual_variance(np.full(5, 0.01)) == 0.0
    assert ls.annual_standard_deviation(np.array([0.01, -0.01])) == pytest.approx(math.sqrt(0.0504))


def test_sortino_deviation_uses_only_the_negative_returns_around_their_own_mean():
    returns = np.array([0.02, -0.01, -0.03, 0.01])
    assert ls.annual_downside_standard_deviation(returns) == pytest.approx(math.sqrt(0.0002 * 252))
    assert ls.sharpe_ratio(0.2, 0.1, 0.02) == pytest.approx(1.8)
    assert ls.sharpe_ratio(0.2, 0.0, 0.02) == 0.0


def test_beta_alpha_treynor_tracking_error_information_ratio():
    bench = np.array([0.01, -0.02, 0.03, 0.0])
    algo = 2 * bench
    assert ls.beta(algo, bench) == pytest.approx(2.0)
    assert ls.alpha(0.30, 0.10, 2.0, 0.02) == pytest.approx(0.30 - (0.02 + 2.0 * 0.08))
    assert ls.alpha(0.30, 0.10, 0.0, 0.02) == 0.0
    assert ls.treynor_ratio(0.30, 0.02, 2.0) == pytest.approx(0.14)
    assert ls.tracking_error(bench + 0.001, bench) == pytest.approx(0.0, abs=1e-12)
    assert ls.tracking_error(algo, bench) == pytest.approx(ls.annual_standard_deviation(bench))
    assert ls.information_ratio(0.3, 0.1, 0.0) == 0.0
    assert ls.information_ratio(0.3, 0.1, 0.5) == pytest.approx(0.4)
    assert ls.beta(algo, np.zeros(4)) == 0.0  # a flat benchmark: LEAN's 0, not a division by zero


def test_probabilistic_sharpe_ratio_of_a_zero_mean_series():
    """Observed Sharpe 0 and no skew: PSR = Phi(-(1/sqrt(252)) / sqrt(1/(n-1))) = Phi(-1) for n = 253."""
    returns = np.array([0.01, -0.01] * 126 + [0.0])
    assert ls.probabilistic_sharpe_ratio(returns, 0.0) == pytest.approx(0.15865525393145707)
    assert ls.probabilistic_sharpe_ratio(returns[:3], 0.0) == 0.0  # kurtosis needs four values: LEAN's 0


def test_mathnet_skewness_and_kurtosis_are_the_bias_corrected_sample_moments():
    values = np.random.default_rng(1).standard_t(5, 300) / 100
    assert ls.sample_skewness(values) == pytest.approx(scipy_stats.skew(values, bias=False))
    assert ls.sample_excess_kurtosis(values) == pytest.approx(scipy_stats.kurtosis(values, bias=False))
    assert ls.normal_cdf(1.0) == pytest.approx(scipy_stats.norm.cdf(1.0))


def test_compounding_annual_return_and_its_degenerate_cases():
    assert ls.compounding_annual_return(100.0, 121.0, 2.0) == pytest.approx(0.1)
    assert ls.compounding_annual_return(100.0, 121.0, 0.0) == 0.0
    assert ls.compounding_annual_return(0.0, 121.0, 2.0) == 0.0


def test_drawdown_is_rounded_like_lean_and_recovery_counts_from_the_last_equal_peak():
    index = pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05"])
    equity = pd.Series([100.0, 100.0, 99.229, 99.5, 100.5], index=index)
    drawdown, recovery = ls.drawdown_metrics(equity)
    assert drawdown == 0.008  # 0.771% stored as 0.008 (3 places), printed "0.800%"
    assert recovery == 3  # peak moved to Jan 2 by the equal value; back above it on Jan 5
    unrecovered = pd.Series([100.0, 120.0, 90.0], index=index[:3])
    assert ls.drawdown_metrics(unrecovered) == (0.25, 0)


def test_transaction_record_and_trade_statistics_by_hand():
    fills = pd.DataFrame({
        "time": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05", "2020-01-06"]),
        "symbol": ["A", "A", "A", "A", "B", "B"],
        "quantity": [10.0, 10.0, -15.0, -5.0, -10.0, 20.0],
        "price": [100.0, 110.0, 120.0, 90.0, 50.0, 40.0],
        "fee": [1.0, 1.0, 2.0, 1.0, 1.0, 1.0]})
    profits = ls.transaction_record(fills)
    # A: average 105; 15 closed at 120: 225 - 2 x 2; 5 at 90: -75 - 2 x 1. B: short 10 at 50, buy 20 at 40
    # closes the 10 (+100 - 2 x 1) and opens a long.
    assert profits.to_numpy() == pytest.approx([221.0, -77.0, 98.0])
    stats = ls.trade_statistics(profits, 1000.0)
    assert stats["Win Rate"] == pytest.approx(2 / 3) and stats["Loss Rate"] == pytest.approx(1 / 3)
    assert stats["Average Win"] == pytest.approx((221 / 1000 + 98 / (1000 + 221 - 77)) / 2)
    assert stats["Average Loss"] == pytest.approx(-77 / 1221)
    ratio = stats["Average Win"] / (77 / 1221)
    assert stats["Profit-Loss Ratio"] == pytest.approx(ratio)
    assert stats["Expectancy"] == pytest.approx(2 / 3 * ratio - 1 / 3)


def test_report_strings_are_formatted_as_lean_prints_them():
    stats = {"Sharpe Ratio": -0.0001, "Information Ratio": -18.99951, "Annual Variance": 0.0198, "Drawdown": 0.008,
             "Net Profit": 0.0448622, "Win Rate": 0.5714285714, "Start Equity": 100000.0,
             "End Equity": 104486.2183, "Portfolio Turnover": 0.00001, "Expectancy": 0.0,
             "Average Loss": -0.041590964, "Drawdown Recovery": 1931.0}
    lean = ls.lean_summary(stats, [3.485], 85)
    assert (lean["Sharpe Ratio"], lean["Information Ratio"], lean["Annual Variance"]) == ("-0", "-19", "0.02")
    assert (lean["Drawdown"], lean["Net Profit"], lean["Win Rate"]) == ("0.800%", "4.486%", "57%")
    assert (lean["Start Equity"], lean["End Equity"]) == ("100000", "104486.22")
    assert (lean["Portfolio Turnover"], lean["Expectancy"], lean["Average Loss"]) == ("0.00%", "0", "-4.16%")
    assert (lean["Total Fees"], lean["Total Orders"], lean["Drawdown Recovery"]) == ("$3.49", "85", "1931")
    assert lean["Alpha"] == "0" and lean["Average Win"] == "0%"  # absent: LEAN's zero defaults
    assert list(lean) == ls.SUMMARY_ORDER


def test_statistics_json_counts_every_order_and_states_conventions():
    daily = friday_to_tuesday()
    orders = pd.DataFrame({
        "id": [1, 2], "time": ["2013-10-11 10:00", "2013-10-11 10:00"], "symbol": ["SPY", "SPY"],
        "quantity": [1.0, 1e9], "type": ["MARKET_ON_CLOSE"] * 2, "status": ["FILLED", "INVALID"],
        "fill_time": [pd.Timestamp("2013-10-11 16:00"), None], "fill_price": [10.0, 0.0], "fee": [1.0, 0.0],
        "tag": ["", ""], "message": ["", "Insufficient buying power"]})
    out = backtest_statistics(daily, orders, 100.0, dt.date(2013, 10, 11), dt.date(2013, 10, 15))
    assert out["algorithm"]["Total Orders"] == 2.0 and out["lean"]["Total Orders"] == "2"
    assert out["algorithm"]["Total Fees"] == 1.0
    assert out["benchmark"]["Net Profit"] == pytest.approx(12 / 10 - 1)
    assert "Estimated Strategy Capacity" in out["conventions"]["not_computed"]
    assert out["conventions"]["risk_free_rate"]["average"] == pytest.approx(0.01)


# --- the QuantStats tear sheet's comparison run ------------------------------------------------------------------
def test_tear_sheet_compares_with_the_newest_baseline_run_covering_the_dates(tmp_path):
    def run(name: str, first: str, last: str, mtime: int) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        index = pd.bdate_range(first, last)
        pd.DataFrame({"date": index, "equity": 1.0, "benchmark": 1.0}).to_csv(folder / "equity.csv", index=False)
        os.utime(folder / "equity.csv", (mtime, mtime))
        (folder / "run.json").write_text("{}")  # a finished run (its completion marker)
        return folder

    old = run("2024-01-01_00-00-00", "2019-01-01", "2020-12-31", 1_000)
    run("2024-02-01_00-00-00", "2020-01-01", "2020-12-31", 2_000)  # newer but starts too late
    found = find_baseline_run(tmp_path, pd.Timestamp("2019-06-03"), pd.Timestamp("2020-06-30"))
    assert found is not None and found.folder == old
    assert found.equity.index[0] == pd.Timestamp("2019-06-03") and found.equity.index[-1] == pd.Timestamp("2020-06-30")
    newest = run("2024-03-01_00-00-00", "2019-01-01", "2020-12-31", 3_000)
    assert find_baseline_run(tmp_path, pd.Timestamp("2019-06-03"), pd.Timestamp("2020-06-30")).folder == newest
    assert find_baseline_run(tmp_path, pd.Timestamp("2018-01-02"), pd.Timestamp("2020-06-30")) is None
    assert find_baseline_run(tmp_path / "missing", pd.Timestamp("2019-06-03"), pd.Timestamp("2020-06-30")) is None
