"""Model inputs from daily bars: normalised windows, patch plans and forward-return labels.

Everything for a decision at row ``end`` reads rows ``<= end`` only; labels for training read
``end + horizon``, and callers only train on rows whose label date has passed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

FIELDS = ("close", "open", "high", "low", "volume")


@dataclass
class PricePanel:
    """Daily bars as one (dates x symbols) frame per field, on a shared date index."""

    frames: dict[str, pd.DataFrame]

    @classmethod
    def from_history(cls, history: pd.DataFrame) -> "PricePanel":
        """LEAN ``self.history(...)`` (index: symbol, time) -> panel."""
        missing = [f for f in FIELDS if f not in history.columns]
        if missing:
            raise ValueError(f"history lacks the columns {missing}; request daily TradeBars")
        frames = {f: history[f].unstack(0).sort_index() for f in FIELDS}
        return cls(frames)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.frames["close"].index)

    @property
    def symbols(self) -> list:
        return list(self.frames["close"].columns)

    def position(self, when: pd.Timestamp) -> int:
        """Row of the last bar at or before ``when`` (-1 when none)."""
        return int(self.dates.searchsorted(pd.Timestamp(when), side="right")) - 1


@dataclass
class Windows:
    """(stocks, channels, length) inputs, the symbols they belong to, and the symbols left out with why."""

    values: np.ndarray
    symbols: list
    problems: list[str] = field(default_factory=list)


def window_features(panel: PricePanel, end: int, length: int, symbols: list | None = None,
                    normalise_over: int | None = None) -> Windows:
    """Channels close/open/high/low as log(price / last close) and log volume, each standardised over
    its own window's first ``normalise_over`` points (default: all; stage 1 keeps the target part out)."""
    symbols = panel.symbols if symbols is None else symbols
    if end - length + 1 < 0:
        return Windows(np.zeros((0, len(FIELDS), length), np.float32), [],
                       [f"fewer than {length} bars before row {end}"])
    rows = PricePanel({f: panel.frames[f].iloc[end - length + 1:end + 1] for f in FIELDS})
    return WindowBank.build(rows, symbols).windows(length - 1, length, normalise_over)


@dataclass
class WindowBank:
    """The panel's fields for a fixed list of symbols as (dates x symbols) arrays, read once: windows at
    many end rows are then array slices (stage 2 reads every trading day; reindexing the pandas frames
    per row and field cost more than the slicing). Row ``end``'s window reads rows ``<= end`` only."""

    arrays: dict[str, np.ndarray]
    symbols: list
    dates: pd.DatetimeIndex

    @classmethod
    def build(cls, panel: PricePanel, symbols: list | None = None) -> "WindowBank":
        symbols = panel.symbols if symbols is None else list(symbols)
        arrays = {f: panel.frames[f].reindex(columns=symbols).to_numpy(np.float64) for f in FIELDS}
        return cls(arrays, symbols, panel.dates)

    def windows(self, end: int, length: int, normalise_over: int | None = None) -> Windows:
        """:func:`window_features` at row ``end``."""
        start = end - length + 1
        if start < 0 or end >= len(self.dates):
            return Windows(np.zeros((0, len(FIELDS), length), np.float32), [],
                           [f"no {length}-bar window ending at row {end}"])
        block = {f: self.arrays[f][start:end + 1].T for f in FIELDS}
        return _normalised(block, self.symbols, length, (normalise_over or length) - 1, self.dates[end])

    def forward_returns(self, end: int, horizon: int) -> np.ndarray:
        """close[end + horizon] / close[end] - 1 per symbol (NaN where unknown or past the data)."""
        closes = self.arrays["close"]
        if end + horizon >= len(closes):
            return np.full(len(self.symbols), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            return closes[end + horizon] / closes[end] - 1.0


def _normalised(block: dict[str, np.ndarray], symbols: list, length: int, reference: int,
                when: pd.Timestamp) -> Windows:
    """(symbols, length) price blocks -> standardised channels; symbols with a bad close are left out."""
    closes = block["close"]
    ok = np.isfinite(closes).all(axis=1) & (closes > 0).all(axis=1)
    problems = [f"{s}: missing or non-positive close in the {length} bars to {when:%Y-%m-%d}; left out"
                for s, good in zip(symbols, ok) if not good]
    last = closes[:, reference:reference + 1]
    channels = []
    for f in ("close", "open", "high", "low"):
        prices = np.where(np.isfinite(block[f]) & (block[f] > 0), block[f], closes)
        channels.append(np.log(np.where(ok[:, None], prices, 1.0) / np.where(ok[:, None], last, 1.0)))
    channels.append(np.log1p(np.nan_to_num(block["volume"], nan=0.0).clip(min=0.0)))
    values = np.stack(channels, axis=1)[ok]
    head = values[..., : reference + 1]
    values = (values - head.mean(-1, keepdims=True)) / np.maximum(head.std(-1, keepdims=True), 1e-6)
    return Windows(values.astype(np.float32), [s for s, good in zip(symbols, ok) if good], problems)


def standardise_across_stocks(values: np.ndarray) -> np.ndarray:
    """(stocks, channels, L) -> each channel and time point standardised across the stocks of the date
    (``input_standardise=cross_section``); fewer than two stocks are returned unchanged."""
    if values.shape[0] < 2:
        return values
    centred = values - values.mean(axis=0, keepdims=True)
    return (centred / np.maximum(values.std(axis=0, keepdims=True), 1e-6)).astype(np.float32)


def rank_normal(returns: np.ndarray) -> np.ndarray:
    """Returns ranked across the stocks with a known return (ties share their mean rank) and mapped to
    normal scores ``norm.ppf((rank - 0.5) / n)``; NaN stays NaN. The paper's label: the next day's
    cross-sectional order, on a scale that does not change with the market's volatility."""
    out = np.full(len(returns), np.nan)
    known = np.isfinite(returns)
    n = int(known.sum())
    if n:
        out[known] = stats.norm.ppf((stats.rankdata(returns[known]) - 0.5) / n)
    return out


def forward_returns(closes: pd.DataFrame, end: int, horizon: int, symbols: list) -> np.ndarray:
    """close[end + horizon] / close[end] - 1 per symbol (NaN where unknown)."""
    if end + horizon >= len(closes):
        return np.full(len(symbols), np.nan)
    rows = closes.iloc[[end, end + horizon]].reindex(columns=symbols).to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return rows[1] / rows[0] - 1.0


def index_window(index_close: pd.Series, dates: pd.DatetimeIndex, end: int, length: int) -> np.ndarray:
    """The index's closes on the ``length`` dates ending at row ``end`` (forward-filled, never back)."""
    window = index_close.reindex(dates[max(end - length + 1, 0):end + 1]).ffill()
    return window.to_numpy(np.float64)
