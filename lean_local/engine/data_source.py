"""Reads a LEAN data folder the way LEAN's daily US-equity feed does, with caching.

Prices are ADJUSTED (LEAN's default normalisation): raw x price_factor x split_factor from the
first factor-file row dated on or after the bar; volume is divided by the same factor
(``Lean:Common/Extensions.cs`` ``Normalize``/``Scale``). Dividends are thus folded into prices and
splits leave quantities unchanged, as in a LEAN backtest in ADJUSTED mode.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import lean_format as lf
from ..data.factors import adjustment_for_dates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SymbolBars:
    """One ticker's adjusted daily bars as arrays; ``dates`` are bar dates (datetime64[D])."""

    ticker: str
    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def index_on_or_before(self, day: np.datetime64) -> int:
        """Position of the last bar dated <= day, or -1."""
        return int(np.searchsorted(self.dates, day, side="right")) - 1

    def index_of(self, day: np.datetime64) -> int:
        """Position of the bar dated exactly ``day``, or -1."""
        i = int(np.searchsorted(self.dates, day, side="left"))
        return i if i < len(self.dates) and self.dates[i] == day else -1


class DataFolder:
    """Daily US-equity data, map files and ETF-constituent files under one LEAN data folder."""

    def __init__(self, root: str | Path, benchmark: str = "SPY") -> None:
        self.root = Path(root)
        if not (self.root / "equity" / "usa").is_dir():
            raise FileNotFoundError(
                f"{self.root} is not a LEAN data folder (no equity/usa inside). Build one with "
                "`python -m lean_local data import ...` or `python -m lean_local data synthetic --out DIR`.")
        self.benchmark = benchmark
        self._bars: dict[str, SymbolBars | None] = {}
        self.missing: set[str] = set()

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Trading days: the benchmark's bar dates (the market-hours holidays agree by construction)."""
        bars = self.bars(self.benchmark)
        if bars is None:
            raise FileNotFoundError(f"{lf.daily_path(self.root, self.benchmark)} is missing: the runner takes the "
                                    "trading calendar from the benchmark's daily bars")
        return pd.DatetimeIndex(bars.dates)

    def has_daily(self, ticker: str) -> bool:
        return lf.daily_path(self.root, ticker).exists()

    def bars(self, ticker: str) -> SymbolBars | None:
        """Adjusted bars of ``ticker``, or None (reported once) when the folder has no price file."""
        key = ticker.upper()
        if key not in self._bars:
            self._bars[key] = self._load(key)
        return self._bars[key]

    def _load(self, ticker: str) -> SymbolBars | None:
        path = lf.daily_path(self.root, ticker)
        if not path.exists():
            if ticker not in self.missing:
                log.warning("no daily price file for %s (%s); the symbol is skipped", ticker, path)
            self.missing.add(ticker)
            return None
        raw = lf.read_daily_zip(path)
        dates = raw.index.to_numpy().astype("datetime64[D]")
        fpath = lf.factor_path(self.root, ticker)
        scale = adjustment_for_dates(lf.read_factor_file(fpath), dates) if fpath.exists() else np.ones(len(dates))
        return SymbolBars(ticker, dates, raw["open"].to_numpy() * scale, raw["high"].to_numpy() * scale,
                          raw["low"].to_numpy() * scale, raw["close"].to_numpy() * scale,
                          np.round(raw["volume"].to_numpy() / scale))

    @lru_cache(maxsize=None)
    def map_file(self, ticker: str) -> lf.MapFile | None:
        path = lf.map_path(self.root, ticker)
        return lf.read_map_file(path) if path.exists() else None

    def sid(self, ticker: str) -> str | None:
        from ..data.sid import equity_sid

        mf = self.map_file(ticker)
        return equity_sid(ticker, mf.first_date) if mf else None

    def constituents_file_on_or_before(self, etf: str, day: dt.date) -> tuple[dt.date, list[lf.Constituent]] | None:
        """The newest ETF-constituents file dated <= ``day`` (LEAN uses the last one with EndTime <= now)."""
        folder = lf.universe_dir(self.root, etf)
        dates = self._universe_dates(etf)
        if not dates:
            raise FileNotFoundError(f"no ETF constituent files in {folder}")
        i = int(np.searchsorted(self._universe_date_array(etf), np.datetime64(day, "D"), side="right")) - 1
        if i < 0:
            return None
        file_day = dates[i]
        return file_day, lf.read_universe_file(folder / f"{file_day:%Y%m%d}.csv")

    @lru_cache(maxsize=None)
    def _universe_date_array(self, etf: str) -> np.ndarray:
        return np.array(self._universe_dates(etf), dtype="datetime64[D]")

    @lru_cache(maxsize=None)
    def _universe_dates(self, etf: str) -> list[dt.date]:
        folder = lf.universe_dir(self.root, etf)
        if not folder.is_dir():
            return []
        return sorted(dt.datetime.strptime(p.stem, "%Y%m%d").date() for p in folder.glob("*.csv"))
