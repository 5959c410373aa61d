"""Realised returns over a holding period, from LEAN-shaped close prices, with no look-ahead.

A position opened at the close of ``entry`` earns the move from that close to the last close at
or before ``exit``. A stock delisted (or removed from the data) inside the period counts with its
return up to its last close, as LEAN liquidates it there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def holding_period_returns(closes: pd.DataFrame, entry: pd.Timestamp, exit: pd.Timestamp | None = None) -> pd.Series:
    """``closes``: times x symbols (e.g. ``history(...)["close"].unstack(0)``). NaN where no entry price exists.

    Times are compared by calendar date, so LEAN's 16:00 bar stamps and plain dates both work.
    """
    dates = pd.DatetimeIndex(closes.index).normalize()
    entry_day = pd.Timestamp(entry).normalize()
    exit_day = pd.Timestamp(exit).normalize() if exit is not None else dates.max()
    at_entry = closes[dates <= entry_day].ffill().iloc[-1:] if (dates <= entry_day).any() else None
    held = closes[(dates > entry_day) & (dates <= exit_day)]
    if at_entry is None:
        return pd.Series(np.nan, index=closes.columns)
    start = at_entry.iloc[0]
    end = held.ffill().iloc[-1] if len(held) else start
    end = end.where(end.notna(), start)
    return end / start - 1.0
