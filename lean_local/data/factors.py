"""Corporate-action factors in LEAN's factor-file convention.

A factor-file row ``date, price_factor, split_factor, reference_price`` applies to every bar
dated on or before ``date`` and after the previous row (LEAN takes "the first row dated >= the
bar", ``Lean:Common/Data/Auxiliary/CorporateFactorProvider.cs``). An event on ex-date E therefore
produces a row dated the previous trading day, and the adjusted price is
``raw * price_factor * split_factor``. The file ends with the sentinel ``20501231,1,1,0``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .errors import DataError, Problem

SENTINEL_DATE = dt.date(2050, 12, 31)


@dataclass(frozen=True)
class FactorRow:
    date: dt.date
    price_factor: float
    split_factor: float
    reference_price: float


def _as_date(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def factors_from_events(
    ticker: str, dates: np.ndarray, close: np.ndarray, dividend: np.ndarray, split: np.ndarray,
    skipped: list[Problem] | None = None,
) -> list[FactorRow]:
    """Factor rows from raw closes and ex-date events (dividend cash, split ratio such as 7 for 7:1).

    The dividend ratio is LEAN's ``(C - D) / C`` with C the previous raw close expressed in the
    ex-date's share terms (divided by that day's split ratio when both fall on one day). A
    dividend at or above that close cannot be a cash dividend (vendors book spin-offs this way):
    it is left out and reported in ``skipped``, or raises when ``skipped`` is None.
    """
    rows: list[FactorRow] = []
    pf, sf = 1.0, 1.0
    events = np.flatnonzero((dividend > 0) | (split != 1.0))
    events = events[events > 0]  # an event on the first bar adjusts nothing before it
    for i in events[::-1]:
        prev_close = close[i - 1] / split[i]
        ratio = 1.0 - dividend[i] / prev_close
        if ratio <= 0:
            problem = Problem(f"dividend {dividend[i]} is not below the previous close {prev_close:.4f}; "
                              "event ignored (a spin-off booked as a dividend?)", symbol=ticker, date=str(dates[i])[:10])
            if skipped is None:
                raise DataError(problem)
            skipped.append(problem)
            ratio = 1.0
        pf *= ratio
        sf /= split[i]
        rows.append(FactorRow(_as_date(dates[i - 1]), pf, sf, float(close[i - 1])))
    rows.reverse()
    first = _as_date(dates[0])
    if not rows or rows[0].date != first:
        rows.insert(0, FactorRow(first, pf, sf, 0.0))
    rows.append(FactorRow(SENTINEL_DATE, 1.0, 1.0, 0.0))
    return rows


def factors_from_adjusted_close(
    dates: np.ndarray, close: np.ndarray, adj_close: np.ndarray, min_change: float = 1e-5
) -> list[FactorRow]:
    """Dividend factors recovered from a split-adjusted close and a fully adjusted close.

    Vendors round ``adj_close`` (Yahoo to 6 decimals), so the ratio is noisy day to day; a new
    factor starts only where it moves by more than ``min_change`` relative (any real dividend
    does), and each piece takes the mean ratio of its days.
    """
    ratio = adj_close / close
    ratio = ratio / ratio[-1]
    breaks = np.flatnonzero(np.abs(np.diff(ratio)) > min_change * np.abs(ratio[1:])) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(ratio)]])
    rows: list[FactorRow] = []
    for start, end in zip(starts, ends):
        if end == len(ratio):
            break  # the last piece is the reference scale: factor 1
        rows.append(FactorRow(_as_date(dates[end - 1]), float(ratio[start:end].mean()), 1.0, float(close[end - 1])))
    first = _as_date(dates[0])
    if not rows or rows[0].date != first:
        rows.insert(0, FactorRow(first, rows[0].price_factor if rows else 1.0, 1.0, 0.0))
    rows.append(FactorRow(SENTINEL_DATE, 1.0, 1.0, 0.0))
    return rows


def raw_from_total_return(adj_close: np.ndarray, dividend: np.ndarray) -> np.ndarray:
    """Per-day divisor F so that raw = adjusted / F, for a total-return series with cash dividends.

    Walks backward from the last day (taken as unadjusted, F = 1): on an ex-date j the previous
    raw close is ``adj[j-1] / F + D`` and the new factor is ``adj[j-1] / raw[j-1]``. The constant
    scale of the result is whatever the vendor's last close was; returns are unaffected.
    """
    n = len(adj_close)
    factor = np.ones(n)
    f = 1.0
    for j in range(n - 1, -1, -1):
        factor[j] = f
        if j > 0 and dividend[j] > 0:
            raw_prev = adj_close[j - 1] / f + dividend[j]
            f = adj_close[j - 1] / raw_prev
    return factor


def adjustment_for_dates(rows: list[FactorRow], dates: np.ndarray) -> np.ndarray:
    """Multiplier ``price_factor * split_factor`` for each bar date (datetime64[D] array)."""
    row_dates = np.array([np.datetime64(r.date, "D") for r in rows])
    scale = np.array([r.price_factor * r.split_factor for r in rows])
    idx = np.searchsorted(row_dates, dates.astype("datetime64[D]"), side="left")
    idx = np.minimum(idx, len(rows) - 1)
    return scale[idx]
