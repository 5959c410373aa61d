"""The backtest window against the data: refused when it holds no trading day, cut to the data otherwise.

LEAN takes the start and end dates as given (``Engine/Setup/BacktestingSetupHandler.cs`` L196-204 apply the
job's ``PeriodStart``/``PeriodFinish`` after ``Initialize``; nothing compares them with the data) and runs
through days without data: the equity stays flat and the statistics are annualised over the empty days too.
The only reaction is a post-run hint, ``FlatEquityCurveAnalysis`` ("The equity curve is flat for several days
in a row", ``Engine/Results/Analysis/Analyses/FlatEquityCurveAnalysis.cs`` L35). Locally that is silent
damage (``--end`` past the data gave a CAGR over a period that was never simulated, and a window outside the
data exited 0 with empty statistics), so the runner departs from LEAN here, and says so:

- no trading day between start and end: an error naming both windows;
- end after the data's last trading day: the run ends on that day, with a warning in ``log.txt``;
- start before the data's first trading day: the run starts on that day, likewise.

``run.json`` records the dates the run used as ``start``/``end`` and the ones asked for as
``requested_start``/``requested_end`` when they differ. Trading days are the benchmark's daily bars
(``DataFolder.calendar``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd


def fit_to_data(start: dt.date, end: dt.date, trading_days: pd.DatetimeIndex,
                data_root: Path) -> tuple[dt.date, dt.date, list[str]]:
    """``(start, end, warnings)``: the window cut to the trading days; ValueError when none is inside it."""
    first, last = trading_days[0].date(), trading_days[-1].date()
    if not ((trading_days >= pd.Timestamp(start)) & (trading_days <= pd.Timestamp(end))).any():
        raise ValueError(f"no trading day between {start} and {end}: the data folder {data_root} has trading days "
                         f"from {first} to {last} (the benchmark's daily bars); choose --start/--end (or the "
                         "algorithm's set_start_date/set_end_date) inside them")
    warnings = []
    if end > last:
        warnings.append(f"the end date {end} is after the data's last trading day {last}: the run ends on {last} "
                        "(LEAN would go on without data, flat, and annualise the statistics over the empty days)")
        end = last
    if start < first:
        warnings.append(f"the start date {start} is before the data's first trading day {first}: the run starts "
                        f"on {first}")
        start = first
    return start, end, warnings
