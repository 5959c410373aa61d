"""``history(...)`` in LEAN's DataFrame shape (``Lean:Common/Python/PandasData.cs``).

Rows are indexed by ``(symbol, time)`` with ``time`` the bar's end (16:00 New York on the bar
date, ``Settings.DailyPreciseEndTime``); columns ``close, high, low, open, volume``; adjusted
prices. Only bars whose end time is at or before the algorithm's clock are returned
(``SubscriptionDataReaderHistoryProvider``), so at 10:00 on day D the newest bar is D-1's.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .data_source import DataFolder
from .symbols import Symbol

COLUMNS = ["close", "high", "low", "open", "volume"]
BAR_END = dt.timedelta(hours=16)


def last_complete_bar_date(now: dt.datetime) -> np.datetime64:
    """Newest bar date whose end (16:00) is <= now."""
    day = np.datetime64(now.date(), "D")
    return day if now.time() >= dt.time(16, 0) else day - np.timedelta64(1, "D")


def empty_history() -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays([pd.Index([], dtype=object), pd.DatetimeIndex([])], names=["symbol", "time"])
    return pd.DataFrame({c: pd.Series(dtype=float) for c in COLUMNS}, index=index)


def daily_history(data: DataFolder, symbols: Iterable[Symbol], now: dt.datetime, count: int | None = None,
                  start: dt.datetime | None = None, end: dt.datetime | None = None) -> pd.DataFrame:
    """Bars of each symbol ending at or before ``min(now, end)``: the last ``count``, or those ending after ``start``."""
    limit = last_complete_bar_date(min(now, end) if end else now)
    parts, keys, times = [], [], []
    for symbol in symbols:
        bars = data.bars(symbol.value)
        if bars is None:
            continue
        hi = int(np.searchsorted(bars.dates, limit, side="right"))
        if count is not None:
            lo = max(0, hi - int(count))
        else:
            first = np.datetime64((start - BAR_END).date(), "D") if start else bars.dates[0]
            lo = int(np.searchsorted(bars.dates, first, side="right")) if start else 0
        if hi <= lo:
            continue
        sl = slice(lo, hi)
        parts.append(np.column_stack([bars.close[sl], bars.high[sl], bars.low[sl], bars.open[sl], bars.volume[sl]]))
        keys.append(np.full(hi - lo, symbol, dtype=object))
        times.append(bars.dates[sl].astype("datetime64[ns]") + np.timedelta64(16, "h"))
    if not parts:
        return empty_history()
    index = pd.MultiIndex.from_arrays([np.concatenate(keys), pd.DatetimeIndex(np.concatenate(times))],
                                      names=["symbol", "time"])
    return pd.DataFrame(np.vstack(parts), index=index, columns=COLUMNS)


def history_request(data: DataFolder, symbols: Any, now: dt.datetime, args: tuple) -> pd.DataFrame:
    """The argument forms of LEAN's ``history`` shared by QCAlgorithm and QuantBook:
    ``(symbols, bar_count | timedelta | start, end[, Resolution.DAILY])``."""
    from .securities import Security
    from .symbols import Resolution, to_symbol

    items = [symbols] if isinstance(symbols, (Symbol, str, Security)) else list(symbols)
    syms = [to_symbol(s) for s in items]
    rest = list(args)
    if rest and isinstance(rest[-1], Resolution):
        if rest.pop() != Resolution.DAILY:
            raise NotImplementedError("history: only Resolution.DAILY is available locally")
    if len(rest) == 1 and isinstance(rest[0], int):
        return daily_history(data, syms, now, count=rest[0])
    if len(rest) == 1 and isinstance(rest[0], dt.timedelta):
        return daily_history(data, syms, now, start=now - rest[0])
    if len(rest) == 2:
        start, end = (pd.Timestamp(x).to_pydatetime() for x in rest)
        return daily_history(data, syms, now, start=start, end=end)
    raise TypeError("history(symbols, bar_count | timedelta | start, end[, Resolution.DAILY])")
