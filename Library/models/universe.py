"""Point-in-time universe rules shared by every algorithm, free of LEAN types.

The selection itself runs inside LEAN (``Library/skeleton``); these functions hold the rules so
they can be tested without an engine.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence, TypeVar

import pandas as pd

T = TypeVar("T")
SELECTION_MONTHS = (1, 4, 7, 10)


def is_selection_month(month: int, months: Sequence[int] = SELECTION_MONTHS) -> bool:
    """Quarterly reselection in January, April, July and October (the paper's schedule)."""
    return month in months


def decision_days(trading_days: Sequence[pd.Timestamp], start: str, end: str) -> list[pd.Timestamp]:
    """First trading day of each month in [start, end] (``date_rules.month_start``): every algorithm's
    rebalance day, and the research loops' decision days."""
    days = pd.DatetimeIndex(trading_days).normalize()
    days = days[(days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))]
    return list(pd.Series(days, index=days).groupby(days.to_period("M")).min())


def top_by_weight(items: Iterable[tuple[T, float | None]], count: int) -> list[T]:
    """The ``count`` items with the largest weight; missing weights never qualify; ties keep input order."""
    ranked = sorted(((key, w) for key, w in items if w is not None and w > 0), key=lambda kw: kw[1], reverse=True)
    return [key for key, _ in ranked[:count]]


def equal_weights(keys: Sequence[T]) -> dict[T, float]:
    """1/N for each key; an empty universe gets no weights."""
    return {k: 1.0 / len(keys) for k in keys} if keys else {}


def read_constituents(path: str | Path) -> list[tuple[str, float | None]]:
    """``(ticker, weight)`` rows of one LEAN ETF-constituents file (``ticker,sid,date,weight,shares,value``)."""
    rows = []
    for line_no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 4:
            raise ValueError(f"{path}:{line_no}: expected ticker,sid,date,weight,...; got {line!r}")
        rows.append((parts[0], float(parts[3]) if parts[3] else None))
    return rows


def point_in_time_universes(data_folder: str | Path, decision_days: Sequence[pd.Timestamp], size: int = 100,
                            etf: str = "spy") -> dict[pd.Timestamp, list[str]]:
    """The skeleton's universe for research: at each decision day the top ``size`` by weight from the
    newest constituents file *before* that day, re-selected only in selection months."""
    folder = Path(data_folder) / "equity" / "usa" / "universes" / "etf" / etf.lower()
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no ETF constituents files in {folder}")
    dates = pd.DatetimeIndex([pd.Timestamp(p.stem) for p in files])
    out: dict[pd.Timestamp, list[str]] = {}
    current: list[str] = []
    for day in decision_days:
        day = pd.Timestamp(day).normalize()
        before = int(dates.searchsorted(day, side="left"))
        if before == 0:
            continue
        if not current or is_selection_month(day.month):
            current = top_by_weight(read_constituents(files[before - 1]), size)
        out[day] = list(current)
    return out
