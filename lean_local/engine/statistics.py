"""``statistics.json``: LEAN's statistics computed by LEAN's formulas, for the algorithm and its benchmark.

The formulas live in :mod:`lean_local.engine.lean_statistics` (each cites the LEAN source). This module turns the
runner's outputs (one equity row per trading day, the orders) into LEAN's inputs and writes
``{"algorithm", "benchmark", "lean", "conventions"}``: numbers as fractions under LEAN's names, the strings
LEAN's report prints for the same run, and how they were computed. QuantStats is not used here: its
tear sheet (``tearsheet.html``) carries its own conventions under its own name.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from . import lean_statistics as ls

BENCHMARK_KEYS = ["Start Equity", "End Equity", "Net Profit", "Compounding Annual Return", "Drawdown",
                  "Drawdown Recovery", "Sharpe Ratio", "Sortino Ratio", "Probabilistic Sharpe Ratio",
                  "Annual Standard Deviation", "Annual Variance"]
CONVENTIONS: dict[str, Any] = {
    "formulas": "QuantConnect/Lean 2486390: Common/Statistics/PortfolioStatistics.cs, Statistics.cs, "
                "StatisticsBuilder.cs (lean_local/engine/lean_statistics.py cites file and line for each)",
    "values": "fractions (0.05 = 5%) under LEAN's names; 'lean' holds the strings LEAN's report prints",
    "sampling": "LEAN's charts rebuilt from the runner's 16:00 equity rows: a sample at 00:00 of every calendar day "
                "(weekends too) from the start date, equity candles at the time slices ('slice_hours') thinned to "
                "one per max(4 min, backtest length / 4000), a final sample at 16:00 of the last trading day; the "
                "first two returns and the first benchmark difference are dropped, as LEAN does",
    "annualisation": "(mean daily return + 1)^252 - 1; variance x 252 (sample variance); 252 trading days",
    "compounding_annual_return": "(end / start)^(365 / calendar days from the first to the last sample) - 1",
    "drawdown": "maximum peak-to-trough of the equity samples, rounded to 3 places as LEAN stores it",
    "portfolio_turnover": "mean over the daily samples (not the start's) and the final one of the sale volume since "
                          "the previous sample divided by the portfolio value",
    "trade_statistics": "Win Rate, Average Win etc. over LEAN's transaction record: one entry per fill that reduces "
                        "a position, profit = closed quantity x (fill - average price) - 2 x its fee, relative to "
                        "the running capital",
    "total_orders": "every order submitted, invalid and canceled ones included (LEAN's OrdersCount)",
    "not_computed": "Estimated Strategy Capacity and Lowest Capacity Asset: LEAN's CapacityEstimate "
                    "(Common/CapacityEstimate.cs, SymbolCapacity.cs) is a stateful model of the market dollar volume "
                    "around each fill, snapshotted weekly, not a formula over a backtest's outputs; it is left out "
                    "rather than approximated",
    "benchmark": "SPY held from the first trading day's close through the same formulas; statistics relative to "
                 "a benchmark (Alpha, Beta, Information Ratio, ...) are omitted for it",
    "differences_from_lean": "binary floating point where LEAN uses decimal (last-digit effects only); End Equity "
                             "printed without trailing zeros (LEAN keeps the decimal's scale, e.g. 99827.80); the "
                             "equity candles assume LEAN steps only at 'slice_hours' on trading days (a LEAN universe "
                             "also steps at 00:00, which on backtests of more than ~7 years can change which candles "
                             "exist: Drawdown Recovery and the weights of the risk-free average only); a warm-up "
                             "does not re-capture Start Equity as LEAN's OnWarmupFinished does",
}


def fills(orders: pd.DataFrame) -> pd.DataFrame:
    """The filled orders in fill order (stable by fill time) as ``time, symbol, quantity, price, fee``."""
    filled = orders[orders["status"] == "FILLED"] if len(orders) else orders
    frame = pd.DataFrame({"time": pd.to_datetime(filled["fill_time"]) if len(filled) else pd.Series(dtype="M8[ns]"),
                          "symbol": filled["symbol"], "quantity": filled["quantity"].astype(float),
                          "price": filled["fill_price"].astype(float), "fee": filled["fee"].astype(float)})
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def sale_volume(fill_frame: pd.DataFrame) -> pd.Series:
    """|quantity| x fill price per fill, indexed by fill time (``SecurityHolding.AddNewSale``)."""
    return pd.Series((fill_frame["quantity"].abs() * fill_frame["price"]).to_numpy(),
                     index=pd.DatetimeIndex(fill_frame["time"]), dtype=float)


def interest_rates(data_root: str | Path | None) -> ls.InterestRateModel:
    """The data folder's Fed primary credit rate file, or LEAN's default 1% when there is none."""
    if data_root is None:
        return ls.InterestRateModel.default("no data folder given")
    return ls.InterestRateModel.from_csv(Path(data_root) / ls.INTEREST_RATE_FILE)


def benchmark_statistics(equity: pd.DataFrame, start: dt.date, end: dt.date | None, start_equity: float,
                         rates: ls.InterestRateModel, today: dt.date | None = None,
                         slice_hours: tuple[int, ...] = (16,)) -> dict[str, float]:
    """The benchmark held from the first trading day's close, through the same formulas (empty when the benchmark
    is flat at 0, e.g. a security benchmark without LEAN's hourly feed)."""
    bench = equity["benchmark"].astype(float)
    if bench.iloc[0] == 0 or not (bench > 0).all():
        return {}
    curve = pd.DataFrame({"equity": start_equity * bench / bench.iloc[0], "benchmark": bench})
    charts = ls.lean_charts(curve, start, end, start_equity, slice_hours=slice_hours)
    stats = ls.portfolio_statistics(charts, start_equity, rates, today=today)
    return {k: stats[k] for k in BENCHMARK_KEYS if k in stats}


def backtest_statistics(equity: pd.DataFrame, orders: pd.DataFrame, start_equity: float,
                        start: dt.date | None = None, end: dt.date | None = None,
                        data_root: str | Path | None = None, today: dt.date | None = None,
                        slice_hours: tuple[int, ...] = (16,)) -> dict[str, Any]:
    """``statistics.json`` for one run. ``equity``: the runner's rows (index: trading dates; ``equity``,
    ``benchmark`` after the 16:00 slice); ``orders``: every order (results.frames); ``start``/``end``: the
    algorithm's dates (default: the first/last row); ``slice_hours``: the hours at which LEAN has time slices on a
    trading day (16 for daily data; 10..16 when LEAN feeds a security benchmark from hourly data)."""
    start = start or pd.Timestamp(equity.index[0]).date()
    rates = interest_rates(data_root)
    fill_frame = fills(orders)
    charts = ls.lean_charts(equity, start, end, start_equity, sale_volume(fill_frame), slice_hours)
    algo = ls.portfolio_statistics(charts, start_equity, rates, ls.transaction_record(fill_frame), today=today)
    fees = fill_frame["fee"].to_numpy()
    algo["Total Fees"] = float(fees.sum())
    algo["Total Orders"] = float(len(orders))
    conventions = dict(CONVENTIONS, slice_hours=list(slice_hours),
                       risk_free_rate={"source": rates.source, "average": rates.average(charts.equity.index, today)})
    return {"algorithm": _finite(algo),
            "benchmark": _finite(benchmark_statistics(equity, start, end, start_equity, rates, today, slice_hours)),
            "lean": ls.lean_summary(algo, fees, len(orders)),
            "conventions": conventions}


def _finite(stats: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN or infinity: such a value (a degenerate curve) is written as null."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in stats.items()}
