"""The indicator panel: LEAN-shaped daily history -> (symbols, times, features) float32, look-ahead free.

Choices, and why:

* Each symbol's indicators are computed on its own bars with TA-Lib's batch API (the same functions
  in LEAN and locally), so a gap in one symbol never shifts another's; times where a symbol has no
  bar are masked.
* Scale-dependent outputs are made relative to the close (``catalog.py``), so no price level reaches
  the model.
* Every feature is then a trailing z-score over ``ZSCORE_WINDOW`` bars of its own past (population
  standard deviation, computed with centred cumulative sums over all symbols at once). A z-score
  also removes the arbitrary origin of cumulative indicators (AD, OBV). A window with zero variance
  (constant prices) gives 0; values are clipped to +-``Z_CLIP``.
* ``WARMUP_BARS`` = the longest TA-Lib lookback + ``ZSCORE_WINDOW`` - 1: a symbol's first valid value
  is its ``WARMUP_BARS + 1``-th bar. Before it the mask is False and the value 0.
* A symbol whose input has NaN or non-positive prices is masked entirely and reported in
  ``problems``; so is one with fewer bars than the warm-up. No NaN or infinity is ever returned.
* LEAN's history is fill-forwarded: a session without a trade repeats the previous bar with volume 0
  (``Lean:Common/Data/Market/TradeBar.cs:834-845``), unmarked in the DataFrame. Such a row (volume 0 and
  the previous row's OHLC) is treated as the missing day it stands for: left out of the indicators and
  masked, so the panel is the same with or without fill-forward, and a stock whose data stopped is not
  valid at the decision time. A real bar with volume 0 whose prices moved is kept.

Every value at time t depends only on bars up to t (TA-Lib indicators are causal, the z-score is
trailing), so appending future bars never changes the past.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import talib
from talib import abstract

from .catalog import CANDIDATES, IndicatorSpec

ZSCORE_WINDOW = 63
Z_CLIP = 10.0
# A Python module, not a data file: `lean cloud push` drops every file that is not .py/.cs/.ipynb/.css/.html
# (lean-cli components/util/project_manager.py get_source_files), so a JSON list never reaches the cloud.
SELECTED_PATH = Path(__file__).with_name("selected_42.py")


@lru_cache(maxsize=None)
def _input_names(function: str) -> tuple[str, ...]:
    names: list[str] = []
    for value in abstract.Function(function).input_names.values():
        names.extend([value] if isinstance(value, str) else value)
    return tuple(names)


_LOOKBACKS: dict[str, int] = {}


def lookback(spec: IndicatorSpec) -> int:
    """Bars TA-Lib needs before the first value of this indicator (with our parameters)."""
    if spec.function not in _LOOKBACKS:
        fn = abstract.Function(spec.function)
        if spec.params:
            fn.set_parameters(spec.params)
        _LOOKBACKS[spec.function] = int(fn.lookback)
    return _LOOKBACKS[spec.function]


def specs_for(names: Sequence[str]) -> list[tuple[IndicatorSpec, list[int]]]:
    """The TA-Lib calls needed for ``names`` and, per call, which of its outputs to keep (in ``names`` order)."""
    by_name = {n: (spec, i) for spec in CANDIDATES for i, n in enumerate(spec.names())}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown indicator names {unknown}; see models.features.catalog.candidate_names()")
    calls: dict[str, tuple[IndicatorSpec, list[int]]] = {}
    for n in names:
        spec, i = by_name[n]
        calls.setdefault(spec.function, (spec, []))[1].append(i)
    return list(calls.values())


def warmup_bars(names: Sequence[str]) -> int:
    return max(lookback(spec) for spec, _ in specs_for(names)) + ZSCORE_WINDOW - 1


def selected_features() -> list[str]:
    """The committed 42-feature list (``scripts/select_features.py`` regenerates it)."""
    from .selected_42 import FEATURES

    return list(FEATURES)


def _scale(values: np.ndarray, scale: str, close: np.ndarray) -> np.ndarray:
    if scale == "level":
        return np.abs(values) / close - 1.0  # abs: SAREXT reports short-side SAR as negative
    if scale == "diff":
        return values / close
    if scale == "variance":
        return np.sqrt(np.maximum(values, 0.0)) / close
    return values


def raw_indicators(bars: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """(T, F) scale-free indicator values of one symbol, NaN during each indicator's lookback."""
    columns: dict[str, np.ndarray] = {}
    close = bars["close"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for spec, keep in specs_for(names):
            out = getattr(talib, spec.function)(*(bars[k] for k in _input_names(spec.function)), **spec.params)
            outs = out if isinstance(out, tuple) else (out,)
            spec_names = spec.names()
            for i in keep:
                columns[spec_names[i]] = _scale(np.asarray(outs[i], dtype=np.float64), spec.scale, close)
    matrix = np.column_stack([columns[n] for n in names])
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix


def trailing_zscore(x: np.ndarray, window: int = ZSCORE_WINDOW) -> np.ndarray:
    """Z-score of each series along axis 1 against its own trailing ``window`` values (current one included).

    ``x`` is (series, time, features) with NaN where undefined; a window holding any NaN gives NaN.
    Rolling sums via cumulative sums, after subtracting each column's first defined value (a constant,
    so the z-score is unchanged, but the sums stay small: OBV and AD reach 1e10).
    """
    valid = np.isfinite(x)
    first = np.argmax(valid, axis=1)  # (series, features)
    offset = np.take_along_axis(np.where(valid, x, 0.0), first[:, None, :], axis=1)
    centred = np.where(valid, x - offset, 0.0)
    zeros = np.zeros((x.shape[0], 1, x.shape[2]))
    c1 = np.concatenate([zeros, np.cumsum(centred, axis=1)], axis=1)
    c2 = np.concatenate([zeros, np.cumsum(centred * centred, axis=1)], axis=1)
    cn = np.concatenate([zeros, np.cumsum(valid, axis=1, dtype=np.float64)], axis=1)
    s1 = c1[:, window:] - c1[:, :-window]
    s2 = c2[:, window:] - c2[:, :-window]
    count = cn[:, window:] - cn[:, :-window]
    mean = s1 / window
    var = np.maximum(s2 / window - mean * mean, 0.0)
    std = np.sqrt(var)
    current = centred[:, window - 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 1e-9 * (np.abs(mean) + np.abs(offset) + 1e-12), (current - mean) / std, 0.0)
    z = np.where(count == window, np.clip(z, -Z_CLIP, Z_CLIP), np.nan)
    head = np.full((x.shape[0], window - 1, x.shape[2]), np.nan)
    return np.concatenate([head, z], axis=1)


@dataclass
class FeaturePanel:
    values: np.ndarray  # (symbols, times, features) float32, 0 where masked
    mask: np.ndarray  # (symbols, times) bool: a real, warmed-up value
    symbols: list
    times: pd.DatetimeIndex
    names: list[str]
    problems: list[str]

    def window(self, length: int) -> "FeaturePanel":
        """The last ``length`` times (the model's lookback)."""
        return FeaturePanel(self.values[:, -length:], self.mask[:, -length:], self.symbols, self.times[-length:],
                            self.names, self.problems)


def _fill_forward_rows(ohlcv: np.ndarray) -> np.ndarray:
    """Rows that LEAN's fill-forward made: volume 0 and the same open/high/low/close as the row before."""
    rows = np.zeros(len(ohlcv), dtype=bool)
    if len(ohlcv) > 1:
        rows[1:] = (ohlcv[1:, 4] == 0) & (ohlcv[1:, :4] == ohlcv[:-1, :4]).all(axis=1)
    return rows


def _symbol_problem(symbol: object, ohlcv: np.ndarray, times: np.ndarray, warmup: int) -> str | None:
    bad = ~np.isfinite(ohlcv).all(axis=1)
    if bad.any():
        return f"{symbol}: NaN in the input at {pd.Timestamp(times[np.argmax(bad)])}; symbol masked"
    if (ohlcv[:, :4] <= 0).any():
        return f"{symbol}: non-positive price; symbol masked"
    if len(ohlcv) <= warmup:
        return f"{symbol}: {len(ohlcv)} bars, fewer than the warm-up of {warmup + 1}; symbol masked"
    return None


def indicator_panel(history: pd.DataFrame, features: Sequence[str] | str = "selected") -> FeaturePanel:
    """Indicators of every symbol in a LEAN ``history`` frame (index ``symbol, time``; adjusted OHLCV).

    ``features``: ``"selected"`` (the committed 42), ``"all"`` (every candidate) or a list of names.
    """
    if features == "selected":
        names = selected_features()
    elif features == "all":
        names = [n for spec in CANDIDATES for n in spec.names()]
    else:
        names = list(features)
    missing = {"open", "high", "low", "close", "volume"} - set(history.columns)
    if missing or list(history.index.names) != ["symbol", "time"]:
        raise ValueError(f"expected LEAN's history shape: index (symbol, time), columns open/high/low/close/volume; "
                         f"missing columns {sorted(missing)}, index {history.index.names}")
    warmup = warmup_bars(names)
    history = history.sort_index()
    times = pd.DatetimeIndex(history.index.get_level_values("time").unique()).sort_values()
    symbols = list(dict.fromkeys(history.index.get_level_values("symbol")))
    values = np.zeros((len(symbols), len(times), len(names)), dtype=np.float32)
    mask = np.zeros((len(symbols), len(times)), dtype=bool)
    problems: list[str] = []
    raw_blocks, positions, owners = [], [], []
    codes = history.index.codes[0]
    level = history.index.levels[0]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [len(codes)]])
    block_of = {level[codes[a]]: (a, b) for a, b in zip(starts, ends)}
    ohlcv_all = history[["open", "high", "low", "close", "volume"]].to_numpy(dtype=np.float64)
    time_all = history.index.get_level_values("time").to_numpy()
    grid = times.to_numpy()
    for n, symbol in enumerate(symbols):
        a, b = block_of[symbol]
        real = ~_fill_forward_rows(ohlcv_all[a:b])
        ohlcv, symbol_times = ohlcv_all[a:b][real], time_all[a:b][real]
        problem = _symbol_problem(symbol, ohlcv, symbol_times, warmup)
        if problem:
            problems.append(problem)
            continue
        bars = {k: np.ascontiguousarray(ohlcv[:, i]) for i, k in enumerate(("open", "high", "low", "close", "volume"))}
        raw_blocks.append(raw_indicators(bars, names))
        positions.append(np.searchsorted(grid, symbol_times))
        owners.append(n)
    if raw_blocks:
        longest = max(len(r) for r in raw_blocks)
        padded = np.full((len(raw_blocks), longest, len(names)), np.nan)
        for k, raw in enumerate(raw_blocks):  # aligned at the end: the padding only precedes real bars
            padded[k, longest - len(raw):] = raw
        zscores = trailing_zscore(padded)
    for k, (n, raw, pos) in enumerate(zip(owners, raw_blocks, positions)):
        z = zscores[k, longest - len(raw):]
        valid = np.arange(len(raw)) >= warmup
        leftover = ~np.isfinite(z[valid])
        if leftover.any():
            problems.append(f"{symbols[n]}: {int(leftover.sum())} undefined values after the warm-up set to 0")
        z = np.where(np.isfinite(z) & valid[:, None], z, 0.0)
        values[n, pos] = z.astype(np.float32)
        mask[n, pos] = valid
    return FeaturePanel(values, mask, symbols, times, names, problems)
