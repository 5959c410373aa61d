"""Reads a LEAN data folder the way LEAN's daily US-equity feed does, with caching.

Prices are ADJUSTED (LEAN's default normalisation): raw x price_factor x split_factor from the
first factor-file row dated on or after the bar; volume is divided by the same factor
(``Lean:Common/Extensions.cs`` ``Normalize``/``Scale``). Dividends are thus folded into prices and
splits leave quantities unchanged, as in a LEAN backtest in ADJUSTED mode.

Tickers resolve through the folder's map files as LEAN resolves them (``symbols.MapFileResolver``): a
ticker names the entity trading under it today (``SecurityIdentifier.GenerateEquity`` maps at
``DateTime.Today``), a permtick such as ``AAA.1`` names that map file's entity. An entity's bars are read
from ``daily/<ticker>.zip`` of the ticker it traded under on each date, only between its map file's first
and last dates (``MapFile.HasData``), and scaled by ``factor_files/<permtick>.csv``. A folder without map
files reads ``daily/<ticker>.zip`` whole.
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
from ..data.factors import FactorRow, adjustment_for_dates
from ..data.transaction import MARKER, is_complete, leftovers
from .symbols import MapFile, MapFileResolver, read_map_file

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


def _require_complete_import(root: Path) -> None:
    """Refuse a folder an import did not finish (no marker), in one line that says what to do; when the folder
    is missing because an import was killed while swapping folders, say where the previous one is."""
    if root.is_dir() and not is_complete(root):
        raise FileNotFoundError(f"{root} is not a complete import (no {MARKER}): rerun "
                                "`python -m lean_local data import ...` (for a LEAN data folder no import wrote: "
                                f"`python -m lean_local data adopt {root}`)")
    saved = [p for p in leftovers(root, "old") if is_complete(p)] if not root.exists() else []
    if saved:
        raise FileNotFoundError(f"{root} is missing: an import was interrupted while replacing it; the previous "
                                f"complete import is in {saved[-1]}. Rerun `python -m lean_local data import ...` "
                                "(it restores or replaces it first)")


def _marker_stamp(root: Path) -> tuple[int, int] | None:
    """Identifies one import: each import writes its own marker file (a new inode)."""
    try:
        stat = (root / MARKER).stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


class DataFolder:
    """Daily US-equity data, map files and ETF-constituent files under one LEAN data folder.

    A ticker whose price, factor or map file cannot be read is skipped like one without a price file, with
    the file and the reason in :meth:`skip_reason` (LEAN logs an unreadable source and the subscription gets
    no data: ``Lean:Engine/DataFeeds/BaseSubscriptionDataSourceReader.cs:101-111``, a map file that fails to
    parse is read as empty: ``Lean:Common/Data/Auxiliary/MapFile.cs:237-252``)."""

    def __init__(self, root: str | Path, benchmark: str = "SPY") -> None:
        self.root = Path(root)
        _require_complete_import(self.root)
        self._import_stamp = _marker_stamp(self.root)
        if not (self.root / "equity" / "usa").is_dir():
            raise FileNotFoundError(
                f"{self.root} is not a LEAN data folder (no equity/usa inside). Build one with "
                "`python -m lean_local data import ...` or `python -m lean_local data synthetic --out DIR`.")
        self.benchmark = benchmark
        self._bars: dict[str, SymbolBars | None] = {}
        self._mapping: MapFileResolver | None = None
        self.missing: set[str] = set()
        self.unreadable: dict[str, str] = {}  # ticker -> "file[:line]: reason"
        self.bad_map_files: dict[str, str] = {}  # permtick -> "file[:line]: reason"

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Trading days: the benchmark's bar dates (the market-hours holidays agree by construction)."""
        bars = self.bars(self.benchmark)
        if bars is None and self.benchmark.upper() in self.unreadable:
            raise ValueError(f"{self.unreadable[self.benchmark.upper()]}; the runner takes the trading calendar from "
                             "the benchmark's daily bars")
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

    def skip_reason(self, ticker: str) -> str:
        """Why ``ticker`` has no bars: the unreadable file and its problem, or no price file."""
        return self.unreadable.get(ticker.upper(), "no daily price file in the data folder")

    def _check_same_import(self) -> None:
        """Files are read lazily: once a re-import has swapped the folder under this reader, stop rather than
        mix two imports in one run."""
        if _marker_stamp(self.root) != self._import_stamp:
            raise FileNotFoundError(f"{self.root} was replaced by another import while this run was reading it: "
                                    "rerun (do not import into a folder a backtest is reading)")

    def _load(self, ticker: str) -> SymbolBars | None:
        self._check_same_import()
        mf = self.map_file(ticker)
        unreadable = self.bad_map_files.get(ticker)  # without its map file, its bars are not guessed
        try:
            if unreadable is None:
                raw = self._raw_bars(ticker, mf)
                rows = self.factor_rows(ticker) if raw is not None else []
        except lf.UnreadableFile as exc:
            unreadable = str(exc)
        if unreadable is not None:
            log.warning("%s; the symbol %s is skipped", unreadable, ticker)
            self.unreadable[ticker] = unreadable
            return None
        if raw is None:
            if ticker not in self.missing:
                log.warning("no daily price file for %s (%s); the symbol is skipped", ticker,
                            lf.daily_path(self.root, mf.ticker if mf else ticker))
            self.missing.add(ticker)
            return None
        dates = raw.index.to_numpy().astype("datetime64[D]")
        scale = adjustment_for_dates(rows, dates) if rows else np.ones(len(dates))
        return SymbolBars(ticker, dates, raw["open"].to_numpy() * scale, raw["high"].to_numpy() * scale,
                          raw["low"].to_numpy() * scale, raw["close"].to_numpy() * scale,
                          np.round(raw["volume"].to_numpy() / scale))

    def _raw_bars(self, ticker: str, mf: MapFile | None) -> pd.DataFrame | None:
        """Raw bars of the entity: each map-file segment from the daily file of its ticker then."""
        if mf is None:
            path = lf.daily_path(self.root, ticker)
            return lf.read_daily_zip(path) if path.exists() else None
        parts = []
        for after, through, segment_ticker in mf.segments():
            path = lf.daily_path(self.root, segment_ticker)
            if not path.exists():
                continue
            raw = lf.read_daily_zip(path)
            days = raw.index.date
            keep = (days <= through) & (days >= mf.first_date) & (days <= mf.last_date)
            if after is not None:
                keep &= days > after
            parts.append(raw[keep])
        return pd.concat(parts) if parts else None

    @lru_cache(maxsize=None)
    def factor_rows(self, ticker: str) -> list[FactorRow]:
        """The factor-file rows of the entity ``ticker`` denotes (``factor_files/<permtick>.csv``; none when
        the folder has no factor file: no adjustment, no events)."""
        mf = self.map_file(ticker)
        path = lf.factor_path(self.root, mf.permtick if mf else ticker)
        return lf.read_factor_file(path) if path.exists() else []

    @property
    def mapping(self) -> MapFileResolver:
        """All map files of the folder, read once (``LocalDiskMapFileProvider``)."""
        if self._mapping is None:
            self._mapping = MapFileResolver(self._readable_map_files(lf.equity_dir(self.root) / "map_files"))
        return self._mapping

    def _readable_map_files(self, folder: Path) -> list[MapFile]:
        """Every map file that parses; the others are logged and their tickers skipped (``MapFile.cs:237-252``)."""
        good = []
        for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
            try:
                good.append(read_map_file(path))
            except (ValueError, IndexError, OSError) as exc:
                reason = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
                log.error("%s; the symbol %s is skipped", reason, path.stem.upper())
                self.bad_map_files[path.stem.upper()] = reason
        return good

    @lru_cache(maxsize=None)
    def map_file(self, ticker: str) -> MapFile | None:
        """The map file of the entity ``ticker`` denotes (today's holder of the ticker, or a permtick), or None."""
        return self.mapping.resolve(ticker, dt.date.today())

    def sid(self, ticker: str) -> str | None:
        from ..data.sid import equity_sid

        mf = self.map_file(ticker)
        return equity_sid(mf.first_ticker, mf.first_date) if mf else None

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
        self._check_same_import()
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
