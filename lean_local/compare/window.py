"""The common window of a set of runs and LEAN's statistics of each run over it.

The window is the trading dates every compared run has an equity row for (the intersection, so runs over different
date ranges or calendars are compared on the same days). Each run's LEAN statistics are recomputed over it with
:func:`lean_local.engine.lean_statistics.window_statistics`: LEAN's sampling and formulas, as if the backtest had
started at the window's first date holding what the run held, with the close before the window as its starting
capital (the run's own starting capital when the window starts on its first day). Turnover, fees and order counts
are the window's; Win Rate etc. use the run's transaction-record entries inside the window.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..engine import lean_statistics as ls
from ..engine.orders import LEAN_ORDER_COLUMNS
from ..engine.statistics import sale_volume
from .loading import Run, fills, order_times


def common_dates(runs: list[Run]) -> pd.DatetimeIndex:
    """Trading dates present in every run's equity; an error naming the runs when there are fewer than three."""
    dates: pd.DatetimeIndex | None = None
    for run in runs:
        own = pd.DatetimeIndex(run.loaded.index).normalize()
        dates = own if dates is None else dates.intersection(own)
    if dates is None or len(dates) < 3:
        spans = "; ".join(f"{r.label}: {r.loaded.index[0].date()}..{r.loaded.index[-1].date()}" for r in runs)
        raise ValueError(f"the runs share {0 if dates is None else len(dates)} trading dates, too few to compare "
                         f"({spans}); compare runs whose dates overlap")
    return dates.sort_values()


@lru_cache(maxsize=16)
def _rates(data_folder: str | None) -> ls.InterestRateModel:
    if data_folder is None:
        return ls.InterestRateModel.default("the run names no data folder")
    return ls.InterestRateModel.from_csv(Path(data_folder) / ls.INTEREST_RATE_FILE)


def window_equity(run: Run, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """The run's rows on the common dates (the window's dates it lacks cannot occur: the window is an intersection)."""
    equity = run.loaded.copy()
    equity.index = pd.DatetimeIndex(equity.index).normalize()
    return equity.loc[dates]


def run_window_statistics(run: Run, dates: pd.DatetimeIndex) -> dict[str, float | None]:
    """LEAN's statistics of ``run`` over ``dates`` (first..last), plus the window's Total Fees and Total Orders."""
    start, end = dates[0].date(), dates[-1].date()
    equity = run.loaded.copy()
    equity.index = pd.DatetimeIndex(equity.index).normalize()
    own_start = equity.index[0].date() == start
    orders = run.orders if run.orders is not None else pd.DataFrame(columns=LEAN_ORDER_COLUMNS)
    fill_frame = fills(orders)
    sales = sale_volume(fill_frame)
    profits = ls.transaction_record(fill_frame)
    # Rows of the run inside the window but not common to all runs are dropped: every run is sampled on the same days.
    daily = pd.concat([equity[equity.index < dates[0]], equity.loc[dates]])
    folder = str(run.data_folder) if run.data_folder is not None else None
    stats = ls.window_statistics(daily, start, end, _rates(folder), run.start_equity if own_start else None,
                                 sales, profits)
    first, last = pd.Timestamp(start), pd.Timestamp(end) + ls.MARKET_CLOSE
    in_window = (fill_frame["time"] >= first) & (fill_frame["time"] <= last)
    stats["Total Fees"] = float(fill_frame.loc[in_window, "fee"].sum())
    submitted = order_times(orders)
    stats["Total Orders"] = float(((submitted >= first) & (submitted <= last)).sum())
    return {k: (float(v) if math.isfinite(v) else None) for k, v in stats.items()}


def daily_returns(runs: list[Run], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Close-to-close returns on the common dates (one column per run label; the first date has none)."""
    closes = pd.DataFrame({r.label: window_equity(r, dates)["equity"] for r in runs})
    return closes.pct_change().iloc[1:]


def monthly_returns(runs: list[Run], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Month-end to month-end returns of the window's closes (the first, partial month from the window's first
    close; the last month up to the window's last close)."""
    closes = pd.DataFrame({r.label: window_equity(r, dates)["equity"] for r in runs})
    month_ends = closes.groupby(closes.index.to_period("M")).tail(1)
    anchored = pd.concat([closes.iloc[:1], month_ends]).groupby(level=0).last().sort_index()
    return anchored.pct_change().iloc[1:]
