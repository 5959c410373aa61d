"""LEAN's backtest statistics, computed by LEAN's own formulas (QuantConnect/Lean 2486390).

Every function cites the C# it follows; paths are relative to the LEAN repository. The numbers come out
as LEAN's ``PortfolioStatistics`` holds them (fractions, before the report's rounding), and
:func:`lean_summary` formats them the way ``StatisticsBuilder.GetSummary`` prints them, so a run can be
compared with a LEAN report line by line.

What LEAN feeds these formulas (``Engine/AlgorithmManager.cs:162-167, 602, 625, 657``;
``Engine/Results/BaseResultsHandler.cs:708-738``; ``Engine/Results/BacktestingResultHandler.cs:531-533,
617-651, 804-830``), rebuilt by :func:`lean_charts` from the runner's one equity row per trading day:

* a daily sample at 00:00 (exchange time) of **every calendar day**, weekends included, from the start
  date on; its value is the equity after the last trading day before that day (LEAN: the portfolio
  value when the midnight event fires, before that day's bars arrive);
* equity candles also at the time slices (16:00 for daily data; every hour 10:00-16:00 when LEAN feeds a
  security benchmark from hourly data), thinned to one per ``max(4 min, backtest length / 4000)``
  (``ProcessSynchronousEvents``); they matter for Drawdown Recovery, the risk-free average and CAR;
* a final sample at the last slice (16:00 of the last trading day);
* the return series skips its first two points and the benchmark differences their first one
  (``StatisticsBuilder.cs:358-363, 382-387``), so the first day's return never counts.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

TRADING_DAYS_PER_YEAR = 252  # Engine/Setup/BaseSetupHandler.cs:188-197: every non-crypto brokerage model
DEFAULT_RISK_FREE_RATE = 0.01  # Common/Data/InterestRateProvider.cs:39
FIRST_INTEREST_RATE_DATE = dt.date(1998, 1, 1)  # Common/Data/InterestRateProvider.cs:32
INTEREST_RATE_FILE = Path("alternative") / "interest-rate" / "usa" / "interest-rate.csv"  # ibid. :85-86
SAMPLES, MINIMUM_SAMPLE_MINUTES = 4000, 4.0  # Engine/Results/BacktestingResultHandler.cs:41-42
EXCHANGE_TIME_ZONE = "America/New_York"
MARKET_CLOSE = pd.Timedelta(hours=16)


# --------------------------------------------------------------------------------------------------
# Risk-free rate: Common/Data/InterestRateProvider.cs, Common/Data/IRiskFreeInterestRateModel.cs
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InterestRateModel:
    """The Fed primary credit rate as LEAN's ``InterestRateProvider`` reads it (rates as fractions)."""

    dates: np.ndarray  # datetime64[D], sorted: the file's change dates
    rates: np.ndarray
    first_rate: float  # the first parsed line's rate: LEAN fills 1998-01-01.. up to the first change with it
    source: str

    @classmethod
    def default(cls, why: str) -> "InterestRateModel":
        """No usable file: LEAN's 1% everywhere (``FromCsvFile`` keeps ``DefaultRiskFreeRate``, :112-142)."""
        return cls(np.array([], dtype="datetime64[D]"), np.array([]), DEFAULT_RISK_FREE_RATE,
                   f"LEAN's default {DEFAULT_RISK_FREE_RATE:.0%} ({why})")

    @classmethod
    def from_csv(cls, path: Path) -> "InterestRateModel":
        """Parse ``DATE,RATE%`` lines like ``InterestRateProvider.TryParse`` (:150-170); bad lines are skipped."""
        if not path.is_file():
            return cls.default(f"{path} is missing")
        parsed: dict[np.datetime64, float] = {}
        first: float | None = None
        for number, line in enumerate(path.read_text().splitlines()[1:], start=2):
            if not line.strip():
                continue
            cells = line.split(",")
            try:
                day = np.datetime64(dt.datetime.strptime(cells[0].strip(), "%Y-%m-%d").date(), "D")
                rate = float(cells[1]) / 100.0
            except (ValueError, IndexError):
                log.error("%s:%d: cannot parse %r as DATE,RATE (e.g. 2010-02-19,0.75); line skipped, as LEAN does",
                          path, number, line)
                continue
            first = rate if first is None else first
            parsed[day] = rate
        if not parsed or first is None:
            return cls.default(f"no rates could be read from {path}")
        days = np.array(sorted(parsed), dtype="datetime64[D]")
        return cls(days, np.array([parsed[d] for d in days]), float(first), str(path))

    def rates_on(self, days: np.ndarray, today: dt.date | None = None) -> np.ndarray:
        """``GetInterestRate`` (:68-78) over the table ``GetInterestRateProvider`` builds (:83-104): the file's own
        dates keep their rate; every other day from 1998-01-01 to today carries the last change on or before it
        (the first line's rate before the first change); earlier days take 1998-01-01's rate, later ones today's."""
        days = np.asarray(days, dtype="datetime64[D]")
        first_day = np.datetime64(FIRST_INTEREST_RATE_DATE, "D")
        last_day = np.datetime64(today or dt.datetime.now(dt.timezone.utc).date(), "D")
        window = self.dates >= first_day
        changes, rates = self.dates[window], self.rates[window]
        before = np.searchsorted(changes, np.clip(days, first_day, last_day), side="right") - 1
        filled = np.where(before >= 0, rates[np.maximum(before, 0)] if len(rates) else 0.0, self.first_rate)
        if not len(self.dates):
            return filled
        at = np.minimum(np.searchsorted(self.dates, days), len(self.dates) - 1)
        return np.where(self.dates[at] == days, self.rates[at], filled)

    def average(self, times: pd.DatetimeIndex, today: dt.date | None = None) -> float:
        """``GetAverageRiskFreeRate`` (IRiskFreeInterestRateModel.cs:58-62): the mean rate over the sample times'
        dates; PortfolioStatistics.cs:293 passes every equity sample, so each sample weighs once."""
        if len(times) == 0:
            return 0.0
        return float(np.mean(self.rates_on(times.normalize().to_numpy().astype("datetime64[D]"), today)))


# --------------------------------------------------------------------------------------------------
# The charts LEAN samples (see the module docstring)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeanCharts:
    """LEAN's statistics inputs; indexes are UTC times (tz-naive), like LEAN's chart points."""

    equity: pd.Series  # "Strategy Equity" candles' closes
    performance: pd.Series  # "Strategy Equity"/"Return" as fractions
    benchmark: pd.Series  # "Benchmark"
    turnover: pd.Series  # "Portfolio Turnover"


def _utc(local: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return local.tz_localize(EXCHANGE_TIME_ZONE).tz_convert("UTC").tz_localize(None)


def smart_rounding(values: np.ndarray) -> np.ndarray:
    """``Extensions.SmartRounding`` (Common/Extensions.cs:1476-1488, 1365-1370): 4 places above 1000, otherwise
    7 significant digits; the benchmark is sampled through it (BaseResultsHandler.cs:1291). In binary floating
    point, which moves nothing at the precision the statistics are printed with."""
    values = np.asarray(values, dtype=float)
    magnitude = np.where(values != 0, np.abs(values), 1.0)
    scale = 10.0 ** (np.floor(np.log10(magnitude)) + 1)
    return np.where(values > 1000, np.round(values, 4), np.round(values / scale, 7) * scale)


def resample_minutes(start: dt.date, end: dt.date) -> float:
    """``BacktestingResultHandler.SetAlgorithm`` (:531-533) over LEAN's dates: end is the end date's last tick
    (Algorithm/QCAlgorithm.cs:1723)."""
    total = (pd.Timestamp(end) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=0.1)
             - pd.Timestamp(start)) / pd.Timedelta(minutes=1)
    return MINIMUM_SAMPLE_MINUTES if total < MINIMUM_SAMPLE_MINUTES * SAMPLES else total / SAMPLES


def _thinned(times_utc: pd.DatetimeIndex, period_minutes: float) -> np.ndarray:
    """Which slices ``ProcessSynchronousEvents`` samples: ``time > _nextSample`` then ``_nextSample = time +
    period`` (BacktestingResultHandler.cs:821-824); the last one is always sampled (the forced call after the
    loop, AlgorithmManager.cs:625)."""
    keep = np.zeros(len(times_utc), dtype=bool)
    period = int(round(period_minutes * 60e9))
    next_sample = None
    for i, t in enumerate(times_utc.asi8.tolist()):  # sequential by nature; plain ints keep it fast
        if next_sample is None or t > next_sample:
            keep[i] = True
            next_sample = t + period
    if len(keep):
        keep[-1] = True
    return keep


def _turnover(midnights: pd.DatetimeIndex, final: pd.Timestamp, values: np.ndarray, sales: pd.Series,
              start: pd.Timestamp) -> pd.Series:
    """``SamplePortfolioTurnover`` (BaseResultsHandler.cs:814-843): sale volume since the previous sample over the
    portfolio value, at every daily sample but the start's and at the final one; a fill belongs to the first
    sample after it (the midnight event fires before that slice's fills, RealTime/BacktestingRealTimeHandler.cs
    SetTime/ScanPastEvents), the final sample takes everything up to the last slice."""
    times = midnights.append(pd.DatetimeIndex([final]))
    slot = np.searchsorted(midnights.to_numpy(), sales.index.to_numpy(), side="right")
    per_sample = np.bincount(slot, weights=sales.to_numpy(dtype=float), minlength=len(times))[:len(times)]
    cumulative = np.cumsum(per_sample)
    taken = (times != start) & (values != 0)
    previous = np.concatenate([[0.0], cumulative[taken][:-1]])
    return pd.Series((cumulative[taken] - previous) / values[taken], index=_utc(times[taken]))


def _slice_values(days: pd.DatetimeIndex, closes: np.ndarray, opens: np.ndarray,
                  slice_hours: tuple[int, ...]) -> pd.Series:
    """Equity at each trading day's slices: the 16:00 value after the close, earlier slices the value the day
    started with (daily bars only arrive at 16:00), in time order."""
    parts = [pd.Series(closes if hour == 16 else opens, index=days + pd.Timedelta(hours=hour))
             for hour in sorted(set(slice_hours))]
    return pd.concat(parts).sort_index()


def lean_charts(daily: pd.DataFrame, start: dt.date, end: dt.date | None, start_equity: float,
                sales: pd.Series | None = None, slice_hours: tuple[int, ...] = (16,)) -> LeanCharts:
    """Rebuild LEAN's samples from ``daily`` (index: trading dates; ``equity`` and ``benchmark`` after the 16:00
    slice). ``sales``: |quantity| x fill price indexed by local fill time (``Holdings.AddNewSale``,
    Common/Securities/SecurityPortfolioModel.cs:50-52). Before the first bar the benchmark is 0 (LEAN's unseeded
    ``Security.Price``, Common/Benchmarks/SecurityBenchmark.cs:47-50)."""
    daily = daily[daily.index >= pd.Timestamp(start)]
    if daily.empty:
        raise ValueError(f"no equity sample on or after the start date {start}")
    days = pd.DatetimeIndex(daily.index).normalize()
    equity, bench = daily["equity"].to_numpy(float), daily["benchmark"].to_numpy(float)
    midnights = pd.date_range(pd.Timestamp(start), days[-1], freq="D")
    pos = days.searchsorted(midnights, side="left") - 1
    v_mid = np.where(pos >= 0, equity[np.maximum(pos, 0)], start_equity)
    b_mid = np.where(pos >= 0, bench[np.maximum(pos, 0)], 0.0)
    final = days[-1] + MARKET_CLOSE
    values = np.append(v_mid, equity[-1])
    # GetPortfolioPerformance (BaseResultsHandler.cs:735-738): percent rounded to 10 places, against the previous
    # daily sample; DailyPortfolioValue starts at the starting capital (:533).
    previous = np.concatenate([[start_equity], values[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        performance = np.where(previous == 0, 0.0, np.round((values - previous) * 100.0 / previous, 10) / 100.0)
    sample_times = _utc(midnights.append(pd.DatetimeIndex([final])))
    slices = _slice_values(days, equity, v_mid[(days - pd.Timestamp(start)).days], slice_hours)
    keep = _thinned(_utc(slices.index), resample_minutes(start, end or days[-1].date()))
    candles = pd.concat([pd.Series(v_mid, index=_utc(midnights)),
                         pd.Series(slices.to_numpy()[keep], index=_utc(slices.index[keep]))])
    candles = candles.sort_index().round(4)  # UpdateAlgorithmEquity rounds to 4 places (BaseResultsHandler.cs:1270)
    bench_values = smart_rounding(np.append(b_mid, bench[-1]))
    sales = sales if sales is not None else pd.Series(dtype=float, index=pd.DatetimeIndex([]))
    return LeanCharts(equity=candles, performance=pd.Series(performance, index=sample_times),
                      benchmark=pd.Series(bench_values, index=sample_times),
                      turnover=_turnover(midnights, final, values, sales, pd.Timestamp(start)))


def performance_lists(charts: LeanCharts) -> tuple[np.ndarray, np.ndarray]:
    """``PreprocessPerformanceValues`` (StatisticsBuilder.cs:380-388) drops the first two returns;
    ``CreateBenchmarkDifferences`` (:337-373) the first difference (0 where the previous value is 0)."""
    bench = charts.benchmark.to_numpy(float)
    prev, cur = bench[:-1], bench[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        differences = np.where(prev != 0, (cur - prev) / np.where(prev != 0, prev, 1.0), 0.0)
    return charts.performance.to_numpy(float)[2:], differences[1:]


# --------------------------------------------------------------------------------------------------
# Formulas: Common/Statistics/Statistics.cs and PortfolioStatistics.cs
# --------------------------------------------------------------------------------------------------
def _variance(values: np.ndarray) -> float:
    """MathNet ``Variance``: the sample variance (N - 1), NaN below two values."""
    return float(np.var(values, ddof=1)) if len(values) >= 2 else math.nan


def annual_performance(returns: np.ndarray, days: int = TRADING_DAYS_PER_YEAR) -> float:
    """Geometric annualisation of the mean return: ``(mean + 1)^days - 1`` (Statistics.cs:57-60)."""
    return (float(np.mean(returns)) + 1.0) ** days - 1.0


def annual_variance(returns: np.ndarray, days: int = TRADING_DAYS_PER_YEAR) -> float:
    """Sample variance x days, 0 when NaN or zero (Statistics.cs:69-73)."""
    variance = _variance(returns)
    return 0.0 if math.isnan(variance) or variance == 0 else variance * days


def annual_standard_deviation(returns: np.ndarray, days: int = TRADING_DAYS_PER_YEAR) -> float:
    """``sqrt(AnnualVariance)`` (Statistics.cs:85-88; PortfolioStatistics.cs:287-288)."""
    return math.sqrt(annual_variance(returns, days))


def annual_downside_standard_deviation(returns: np.ndarray, days: int = TRADING_DAYS_PER_YEAR) -> float:
    """The annual standard deviation of the negative returns only, around their own mean
    (Statistics.cs:98-113, minimum acceptable return 0)."""
    return annual_standard_deviation(returns[returns < 0], days)


def sharpe_ratio(annual_return: float, deviation: float, risk_free_rate: float) -> float:
    """``(annual return - risk-free) / deviation``, 0 for zero deviation (Statistics.cs:148-151;
    PortfolioStatistics.cs:294 and, with the downside deviation, :296-297 for Sortino)."""
    return 0.0 if deviation == 0 else (annual_return - risk_free_rate) / deviation


def beta(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """Sample covariance over the benchmark's sample variance, 0 when that is NaN or 0 (PortfolioStatistics.cs:299-300)."""
    variance = _variance(benchmark)
    if math.isnan(variance) or variance == 0:
        return 0.0
    return float(np.cov(returns, benchmark, ddof=1)[0, 1] / variance)


def alpha(annual_return: float, benchmark_annual_return: float, beta_value: float, risk_free_rate: float) -> float:
    """Jensen's alpha on annualised returns, 0 when beta is 0 (PortfolioStatistics.cs:302)."""
    if beta_value == 0:
        return 0.0
    return annual_return - (risk_free_rate + beta_value * (benchmark_annual_return - risk_free_rate))


def tracking_error(returns: np.ndarray, benchmark: np.ndarray, days: int = TRADING_DAYS_PER_YEAR) -> float:
    """Annual standard deviation of the return differences, 0 for unequal lengths (Statistics.cs:123-138)."""
    if len(returns) != len(benchmark):
        return 0.0
    return annual_standard_deviation(returns - benchmark, days)


def information_ratio(annual_return: float, benchmark_annual_return: float, tracking: float) -> float:
    """``(annual return - benchmark annual return) / tracking error``, 0 when it is 0 (PortfolioStatistics.cs:306)."""
    return 0.0 if tracking == 0 else (annual_return - benchmark_annual_return) / tracking


def treynor_ratio(annual_return: float, risk_free_rate: float, beta_value: float) -> float:
    """``(annual return - risk-free) / beta``, 0 when beta is 0 (PortfolioStatistics.cs:308)."""
    return 0.0 if beta_value == 0 else (annual_return - risk_free_rate) / beta_value


def sample_skewness(values: np.ndarray) -> float:
    """MathNet ``Statistics.Skewness``: the bias-corrected sample skewness G1 (MathNet RunningStatistics
    ``Skewness``; scipy's ``skew(bias=False)``), NaN below three values."""
    n = len(values)
    if n < 3:
        return math.nan
    centred = values - values.mean()
    m2, m3 = float(np.sum(centred ** 2)), float(np.sum(centred ** 3))
    return n * m3 * math.sqrt(m2 / (n - 1)) / (m2 * m2 * (n - 2)) * (n - 1) if m2 else math.nan


def sample_excess_kurtosis(values: np.ndarray) -> float:
    """MathNet ``Statistics.Kurtosis``: the bias-corrected sample *excess* kurtosis G2 (MathNet RunningStatistics
    ``Kurtosis``; scipy's ``kurtosis(fisher=True, bias=False)``), NaN below four values."""
    n = len(values)
    if n < 4:
        return math.nan
    centred = values - values.mean()
    m2, m4 = float(np.sum(centred ** 2)), float(np.sum(centred ** 4))
    if not m2:
        return math.nan
    return (n * n - 1.0) / ((n - 2) * (n - 3)) * (n * m4 / (m2 * m2) - 3 + 6.0 / (n + 1))


def normal_cdf(x: float) -> float:
    """The standard normal CDF (MathNet ``Normal().CumulativeDistribution``)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def probabilistic_sharpe_ratio(returns: np.ndarray, risk_free_rate: float,
                               days: int = TRADING_DAYS_PER_YEAR) -> float:
    """PSR against a Sharpe of 1 de-annualised (PortfolioStatistics.cs:310-312; Statistics.cs:200-237).

    Per-period Sharpe with the daily risk-free rate, MathNet's skewness and excess kurtosis, used as LEAN writes
    the formula: ``sd = sqrt((1 - skew*SR + (kurt - 1)/4 * SR^2) / (n - 1))``; NaN gives 0.
    """
    n = len(returns)
    deviation = float(np.std(returns, ddof=1)) if n >= 2 else math.nan
    observed = 0.0 if math.isnan(deviation) or deviation == 0 else \
        (float(np.mean(returns)) - risk_free_rate / days) / deviation
    radicand = (1 - sample_skewness(returns) * observed
                + (sample_excess_kurtosis(returns) - 1) / 4 * observed ** 2) / (n - 1)
    if math.isnan(radicand) or radicand < 0:  # Math.Pow(negative, 0.5) is NaN in .NET
        return 0.0
    estimate = math.sqrt(radicand)
    value = 0.0 if estimate == 0 else (observed - 1.0 / math.sqrt(days)) / estimate
    return normal_cdf(value)


def compounding_annual_return(start_equity: float, end_equity: float, years: float) -> float:
    """``(end / start)^(1 / years) - 1``; 0 for zero years or capital or a non-finite result (Statistics.cs:38-48)."""
    if years == 0 or start_equity == 0:
        return 0.0
    try:
        result = (end_equity / start_equity) ** (1.0 / years) - 1.0
    except (OverflowError, ZeroDivisionError):
        return 0.0
    return result if isinstance(result, float) and math.isfinite(result) else 0.0


def drawdown_metrics(equity: pd.Series, rounding: int = 3) -> tuple[float, int]:
    """Maximum drawdown (a fraction, rounded to ``rounding`` places as LEAN stores it) and the longest recovery in
    whole days from the peak's time to the first sample back at or above it (Statistics.cs:264-317;
    PortfolioStatistics.cs:317-319 rounds to 3 places, so 0.771% is reported as 0.800%). A sample equal to the
    peak moves the peak's time (``>=``, :282); a drawdown not recovered by the end does not count."""
    if len(equity) < 2:
        return 0.0, 0
    values = equity.to_numpy(float)
    nanos = equity.index.asi8
    peak = np.maximum.accumulate(values)
    worst = float(np.min(values / peak - 1.0))
    at_peak = values >= peak
    last_peak = np.maximum.accumulate(np.where(at_peak, np.arange(len(values)), 0))
    recovered = np.flatnonzero(at_peak[1:] & ~at_peak[:-1]) + 1
    days = (nanos[recovered] - nanos[last_peak[recovered - 1]]) / 86_400e9 if len(recovered) else np.array([0.0])
    return float(round(Decimal(repr(abs(worst))), rounding)), int(np.max(days))


def portfolio_turnover(turnover: pd.Series) -> float:
    """The plain mean of the turnover samples (PortfolioStatistics.cs:226-229)."""
    return float(turnover.mean()) if len(turnover) else 0.0


# --------------------------------------------------------------------------------------------------
# Trade statistics: the transaction record (SecurityPortfolioModel.cs), not TradeBuilder's trades
# --------------------------------------------------------------------------------------------------
def transaction_record(fills: pd.DataFrame) -> pd.Series:
    """LEAN's ``Transactions.TransactionRecord``: one entry per fill that reduces a position, profit =
    closed quantity x (fill - average price) - 2 x that fill's fee (Common/Securities/SecurityPortfolioModel.cs:85-100,
    177-198), keyed by fill time (SecurityTransactionManager.cs:596-607). Average prices follow
    SecurityPortfolioModel.cs:103-165. ``fills``: columns time, symbol, quantity, price, fee, in fill order.
    This is what ``StatisticsBuilder`` hands to Win Rate, Average Win etc. (BaseResultsHandler.cs:1159;
    StatisticsBuilder.cs:122-124); TradeBuilder's round trips only feed TradeStatistics, not the report."""
    held: dict[str, tuple[float, float]] = {}
    times, profits = [], []
    for time, symbol, quantity, price, fee in fills[["time", "symbol", "quantity", "price", "fee"]].itertuples(
            index=False):
        amount, average = held.get(symbol, (0.0, 0.0))
        if amount != 0 and (amount > 0) != (quantity > 0):
            closed = math.copysign(min(abs(quantity), abs(amount)), -quantity)
            times.append(time)
            profits.append(closed * price - closed * average - 2.0 * fee)
        held[symbol] = _new_holding(amount, average, quantity, price)
    return pd.Series(profits, index=pd.DatetimeIndex(times), dtype=float)


def _new_holding(amount: float, average: float, quantity: float, price: float) -> tuple[float, float]:
    """Quantity and average price after a fill (SecurityPortfolioModel.cs:103-165)."""
    after = amount + quantity
    if amount == 0:
        return quantity, price
    if (amount > 0) == (quantity > 0):  # adding to the position
        return after, (average * amount + quantity * price) / after
    if after == 0:
        return 0.0, 0.0
    if (after > 0) != (amount > 0):  # through zero: the new position's price
        return after, price
    return after, average


def trade_statistics(profits: pd.Series, start_equity: float) -> dict[str, float]:
    """Win/loss statistics over the transaction record in time order (PortfolioStatistics.cs:239-277): each
    profit is taken relative to the running capital (start + earlier profits); zero counts as a loss."""
    running, won, lost, wins, losses = start_equity, 0.0, 0.0, 0, 0
    for profit in profits.sort_index(kind="stable").to_numpy(float):
        if profit > 0:
            won += profit / running
            wins += 1
        else:
            lost += profit / running
            losses += 1
        running += profit
    average_win = won / wins if wins else 0.0
    average_loss = lost / losses if losses else 0.0
    ratio = 0.0 if average_loss == 0 else average_win / abs(average_loss)
    total = wins + losses
    win_rate = wins / total if total else 0.0
    loss_rate = losses / total if total else 0.0
    return {"Win Rate": win_rate, "Loss Rate": loss_rate, "Average Win": average_win, "Average Loss": average_loss,
            "Profit-Loss Ratio": ratio, "Expectancy": win_rate * ratio - loss_rate}


# --------------------------------------------------------------------------------------------------
# PortfolioStatistics as a whole
# --------------------------------------------------------------------------------------------------
def portfolio_statistics(charts: LeanCharts, start_equity: float, rates: InterestRateModel,
                         profits: pd.Series | None = None, days: int = TRADING_DAYS_PER_YEAR,
                         today: dt.date | None = None) -> dict[str, float]:
    """The ``PortfolioStatistics`` constructor (PortfolioStatistics.cs:211-320) over LEAN's charts."""
    equity = charts.equity
    stats: dict[str, float] = {"Start Equity": float(start_equity), "End Equity": float(equity.iloc[-1]),
                               "Portfolio Turnover": portfolio_turnover(charts.turnover)}
    returns, bench = performance_lists(charts)
    if start_equity == 0 or len(returns) < 2 or len(bench) < 2:
        return stats
    stats.update(trade_statistics(profits if profits is not None else pd.Series(dtype=float), start_equity))
    stats["Net Profit"] = float(equity.iloc[-1]) / start_equity - 1.0
    years = (equity.index[-1] - equity.index[0]) / pd.Timedelta(days=1) / 365.0
    stats["Compounding Annual Return"] = compounding_annual_return(start_equity, float(equity.iloc[-1]), years)
    stats["Annual Variance"] = annual_variance(returns, days)
    stats["Annual Standard Deviation"] = math.sqrt(stats["Annual Variance"])
    yearly, bench_yearly = annual_performance(returns, days), annual_performance(bench, days)
    risk_free = rates.average(equity.index, today)
    stats["Sharpe Ratio"] = sharpe_ratio(yearly, stats["Annual Standard Deviation"], risk_free)
    stats["Sortino Ratio"] = sharpe_ratio(yearly, annual_downside_standard_deviation(returns, days), risk_free)
    stats["Beta"] = beta(returns, bench)
    stats["Alpha"] = alpha(yearly, bench_yearly, stats["Beta"], risk_free)
    stats["Tracking Error"] = tracking_error(returns, bench, days)
    stats["Information Ratio"] = information_ratio(yearly, bench_yearly, stats["Tracking Error"])
    stats["Treynor Ratio"] = treynor_ratio(yearly, risk_free, stats["Beta"])
    stats["Probabilistic Sharpe Ratio"] = probabilistic_sharpe_ratio(returns, risk_free, days)
    stats["Drawdown"], recovery = drawdown_metrics(equity, 3)
    stats["Drawdown Recovery"] = float(recovery)
    return stats


def window_statistics(daily: pd.DataFrame, start: dt.date, end: dt.date, rates: InterestRateModel,
                      start_equity: float | None = None, sales: pd.Series | None = None,
                      profits: pd.Series | None = None, slice_hours: tuple[int, ...] = (16,),
                      today: dt.date | None = None) -> dict[str, float]:
    """``PortfolioStatistics`` of an equity series over the trading days ``start..end`` (both included), as if a
    LEAN backtest had run over exactly those dates holding what the series held (comparing runs on common dates).

    ``daily`` as for :func:`lean_charts` (may extend beyond the window). ``start_equity``: LEAN's starting capital,
    i.e. the value at the window's first 00:00 sample; None takes the last close before ``start`` (an error when
    ``daily`` has none). ``sales``/``profits`` (local fill times) are cut to the window, so turnover counts the
    window's sales only and Win Rate etc. its transaction-record entries (computed by the caller over the whole
    run, so that average prices carry over positions opened before the window)."""
    index = pd.DatetimeIndex(daily.index)
    if start_equity is None:
        before = daily["equity"][index < pd.Timestamp(start)]
        if before.empty:
            raise ValueError(f"no close before {start}: give the window's starting equity")
        start_equity = float(before.iloc[-1])
    first, last = pd.Timestamp(start), pd.Timestamp(end) + MARKET_CLOSE
    window = daily[(index >= first) & (index <= pd.Timestamp(end))]

    def cut(series: pd.Series | None) -> pd.Series | None:
        return None if series is None else series[(series.index >= first) & (series.index <= last)]

    charts = lean_charts(window, start, end, start_equity, cut(sales), slice_hours)
    return portfolio_statistics(charts, start_equity, rates, cut(profits), today=today)


# --------------------------------------------------------------------------------------------------
# The report's strings: StatisticsBuilder.GetSummary (StatisticsBuilder.cs:216-245)
# --------------------------------------------------------------------------------------------------
def _net_double(value: float, places: int) -> str:
    """``Math.Round((double)x, places).ToStringInvariant()``: scale, round half to even, unscale (.NET's
    Math.Round(double, int)), then the shortest round-trip text ("17.304", "-19", "0.02", "-0")."""
    scaled = value * 10.0 ** places
    rounded = float(np.rint(scaled)) / 10.0 ** places if abs(scaled) < 1e16 else value  # rint keeps -0.0
    text = repr(float(rounded))
    return text[:-2] if text.endswith(".0") else text


def _net_decimal(value: float, places: int, percent: bool = False, strip: bool = False) -> str:
    """``Math.Round(decimal, places)`` (half to even) of a C# decimal: an exact 0 prints "0", other values keep
    ``places`` decimals (LEAN's decimals carry that many; ``strip`` drops trailing zeros where the scale is the
    data's, e.g. Start/End Equity)."""
    number = Decimal(repr(float(value))) * (100 if percent else 1)
    if number == 0:
        return "0"
    text = str(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


PERCENT_DECIMALS = {"Average Win": 2, "Average Loss": 2, "Compounding Annual Return": 3, "Drawdown": 3,
                    "Net Profit": 3, "Probabilistic Sharpe Ratio": 3, "Loss Rate": 0, "Win Rate": 0,
                    "Portfolio Turnover": 2}
DECIMALS = {"Expectancy": 3, "Profit-Loss Ratio": 2}
SUMMARY_ORDER = ["Total Orders", "Average Win", "Average Loss", "Compounding Annual Return", "Drawdown", "Expectancy",
                 "Start Equity", "End Equity", "Net Profit", "Sharpe Ratio", "Sortino Ratio",
                 "Probabilistic Sharpe Ratio", "Loss Rate", "Win Rate", "Profit-Loss Ratio", "Alpha", "Beta",
                 "Annual Standard Deviation", "Annual Variance", "Information Ratio", "Tracking Error",
                 "Treynor Ratio", "Total Fees", "Portfolio Turnover", "Drawdown Recovery"]


def format_total_fees(fees: list[float] | np.ndarray) -> str:
    """``"$" + TotalFees.ToStringInvariant("0.00")``: a decimal sum, rounded half away from zero (.NET custom
    formats), so 697 shares x $0.005 = $3.485 prints $3.49."""
    total = sum((Decimal(repr(float(f))) for f in fees), Decimal(0))
    return "$" + str(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def lean_summary(stats: dict[str, float], fees: list[float] | np.ndarray, total_orders: int) -> dict[str, str]:
    """The statistics as LEAN's report prints them (StatisticsBuilder.cs:216-245), in LEAN's order. Statistics
    missing from ``stats`` (too few samples) print as LEAN's defaults: "0" / "0%"."""
    out: dict[str, str] = {}
    for name in SUMMARY_ORDER:
        value = stats.get(name, 0.0)
        if name == "Total Orders":
            out[name] = str(int(total_orders))
        elif name == "Total Fees":
            out[name] = format_total_fees(fees)
        elif name in PERCENT_DECIMALS:
            out[name] = _net_decimal(value, PERCENT_DECIMALS[name], percent=True) + "%"
        elif name in DECIMALS:
            out[name] = _net_decimal(value, DECIMALS[name])
        elif name in ("Start Equity", "End Equity"):
            out[name] = _net_decimal(value, 2, strip=True)
        elif name == "Drawdown Recovery":
            out[name] = str(int(value))
        else:  # the ratios: Math.Round((double)x, 3)
            out[name] = _net_double(value, 3)
    return out
