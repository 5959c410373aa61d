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


# A split whose day's price move contradicts it is ignored (and reported): see split_contradicted.
SPLIT_TOLERANCE = 1.5


def split_contradicted(prev_close: float, close: float, ratio: float, dividend: float = 0.0) -> bool:
    """True when the raw closes around an ex-date say the split of ``ratio`` (7 for 7:1) did not happen.

    A k:1 split moves the raw close by about 1/k, so the day's move as the split reads it,
    ``close / (prev_close / k - dividend)`` (a same-day dividend in post-split terms, as LEAN's factor reads it),
    is near 1. The split is contradicted when that move is off by more than ``SPLIT_TOLERANCE`` (x1.5) either
    way AND the move without the split, ``close / (prev_close - dividend)``, is possible and closer to 1. The
    second condition keeps real splits that coincide with a large move: MSI's 1:7 reverse split on the day it
    spun off Motorola Mobility (2011-01-04, $9.11 -> $39.77: x0.62 with the split, x4.37 without). In the dev
    data (452 splits) it rejects three vendor rows: ANTM 2002-03-18 2:1 and GNRC 2010-02-12 0.3036, on days the
    price barely moved, and SO 2001-04-03 1.5 booked next to a $13.80 dividend for the same Mirant spin-off
    (x1.03 with the dividend alone, x2.27 with both; applying both made a +127% jump). It keeps Tyco's 1:4 reverse
    split with its spin-offs booked as a $88.53 dividend (JCI 2007-07-02: x1.14 with both). Applying a
    contradicted split would rescale every earlier price by the bogus ratio (a 1e12 split on a flat day makes
    all earlier adjusted prices 1e-12 of the raw ones).
    """
    def move(reference: float) -> float:
        return abs(np.log(close / reference)) if reference > 0 else np.inf

    after_split = prev_close / ratio
    implied = move(after_split - dividend) if dividend < after_split else move(after_split)
    without = move(prev_close - dividend)
    return bool(implied > np.log(SPLIT_TOLERANCE) and without < implied)


def _ignored(problem: Problem, skipped: list[Problem] | None) -> None:
    if skipped is None:
        raise DataError(problem)
    skipped.append(problem)


def factors_from_events(
    ticker: str, dates: np.ndarray, close: np.ndarray, dividend: np.ndarray, split: np.ndarray,
    skipped: list[Problem] | None = None, lines: np.ndarray | None = None, source: str | None = None,
) -> list[FactorRow]:
    """Factor rows from raw closes and ex-date events (dividend cash, split ratio such as 7 for 7:1).

    The dividend ratio is LEAN's ``(C - D) / C`` with C the previous raw close expressed in the
    ex-date's share terms (divided by that day's split ratio when both fall on one day). A
    dividend at or above that close cannot be a cash dividend (vendors book spin-offs this way),
    and a split the prices contradict (:func:`split_contradicted`) is a vendor error: either is
    left out and reported in ``skipped`` (located by ``source`` and ``lines`` when given), or
    raises when ``skipped`` is None.
    """
    rows: list[FactorRow] = []
    pf, sf = 1.0, 1.0
    events = np.flatnonzero((dividend > 0) | (split != 1.0))
    events = events[events > 0]  # an event on the first bar adjusts nothing before it

    def where(i: int) -> dict:
        return {"file": source, "line": int(lines[i]) if lines is not None else None, "symbol": ticker,
                "date": str(dates[i])[:10]}

    for i in events[::-1]:
        ratio_split = float(split[i])
        if ratio_split != 1.0 and split_contradicted(close[i - 1], close[i], ratio_split, dividend[i]):
            _ignored(Problem(f"split coefficient {ratio_split:g} ignored: the raw close went from {close[i - 1]:g} to "
                             f"{close[i]:g} (x{close[i] / close[i - 1]:.3g}) where that split implies about "
                             f"x{1 / ratio_split:.3g}; applying it would rescale every earlier price", **where(i)),
                     skipped)
            ratio_split = 1.0
        prev_close = close[i - 1] / ratio_split
        ratio = 1.0 - dividend[i] / prev_close
        if ratio <= 0:
            _ignored(Problem(f"dividend {dividend[i]} is not below the previous close {prev_close:.4f}; "
                             "event ignored (a spin-off booked as a dividend?)", **where(i)), skipped)
            ratio = 1.0
        pf *= ratio
        sf /= ratio_split
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
