"""``history(...)`` as LEAN serves it, in LEAN's DataFrame shape (``Lean:Common/Python/PandasData.cs``).

Rows are indexed by ``(symbol, time)`` with ``time`` the bar's end (16:00 New York on the bar date,
``Settings.DailyPreciseEndTime``); columns ``close, high, low, open, volume``; adjusted prices.
References are to QuantConnect/Lean 24863901.

* **The window.** A request covers bars whose end time is in ``(start, end]``
  (``Engine/HistoricalData/SubscriptionDataReaderHistoryProvider.cs:235-245``, ``TimeBasedFilter``), with
  ``end`` cut at the algorithm's clock (``Algorithm/QCAlgorithm.History.cs:1038-1066``). So at 10:00 on day D
  the newest bar is D-1's.
* **Bar counts** become a start time by walking back over exchange *sessions*, not over the bars that exist
  (``Algorithm/QCAlgorithm.History.cs:1141-1166`` -> ``Common/Data/HistoryRequestFactory.cs:159-199`` ->
  ``Common/Time.cs:661-701``): before the day's close (or on a closed day) the clock is rounded down to
  midnight and the N sessions before today are counted; at or after the close today counts too.
* **Fill-forward** is on unless the call passes ``fill_forward=False``: every subscription LEAN creates for
  these requests has ``FillDataForward`` True (``add_equity(fill_forward=True)``, ``UniverseSettings.FillForward``;
  ``HistoryRequestFactory.cs:78-82``). ``Engine/DataFeeds/Enumerators/FillForwardEnumerator.cs``: nothing before a
  symbol's first bar in the window; each session without a bar repeats the previous bar
  (``TradeBar.Clone(true)``, ``Common/Data/Market/TradeBar.cs:834-845``: same OHLC, volume 0); after the last
  bar, sessions are filled up to the request's end unless the map file delisted the symbol (then up to its
  delisting date, ``DelistingEventProvider.cs``). A bar ending exactly at ``start`` is not returned but is
  what the first filled session copies (``StrictDailyEndTimesEnumerator`` keeps ``EndTime >= start``).
  LEAN's DataFrame does not mark fill-forward rows (``BaseData`` is ``[PandasIgnoreMembers]``): a row with
  volume 0 and the previous row's OHLC is the only trace.
* **Sessions** are the data folder's exchange calendar: the benchmark's bar dates inside its range, every
  weekday outside it. That is what LEAN reads from the folder's ``market-hours-database.json``, whose holidays
  the importer derives from the same benchmark calendar (``lean_local/data/market_files.py``).
* **An empty result** is ``pandas.DataFrame()`` with no columns, as LEAN returns
  (``Common/Python/PandasConverter.cs:194``).
"""
from __future__ import annotations

import datetime as dt
import numbers
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .data_source import DataFolder, SymbolBars
from .errors import UnsupportedMemberError
from .symbols import Symbol

COLUMNS = ["close", "high", "low", "open", "volume"]
BAR_END = dt.timedelta(hours=16)
MARKET_CLOSE = dt.time(16, 0)
# LEAN's optional history arguments after the window, in the order of its Python overloads
# (quantconnect-stubs 18211 QuantConnect/Algorithm/__init__.pyi L2142: tickers, periods, resolution, fill_forward,
# extended_market_hours, data_mapping_mode, data_normalization_mode, contract_depth_offset, flatten).
OPTIONS = ("resolution", "fill_forward", "extended_market_hours", "data_mapping_mode", "data_normalization_mode",
           "contract_depth_offset", "flatten")


@dataclass(frozen=True)
class Window:
    """Bars whose end time lies in ``(start, end]`` (algorithm time, New York)."""

    start: dt.datetime
    end: dt.datetime


def bar_end(days: np.ndarray) -> np.ndarray:
    """End time (16:00) of daily bars dated ``days``."""
    return days.astype("datetime64[ns]") + np.timedelta64(16, "h")


def _to_ns(when: dt.datetime) -> np.datetime64:
    return np.datetime64(pd.Timestamp(when).to_datetime64(), "ns")


def sessions(data: DataFolder, first: dt.date, last: dt.date) -> np.ndarray:
    """Exchange sessions from ``first`` to ``last`` (datetime64[D]): see the module docstring."""
    if last < first:
        return np.array([], dtype="datetime64[D]")
    known = data.calendar.to_numpy().astype("datetime64[D]")
    lo, hi = np.datetime64(first, "D"), np.datetime64(last, "D")
    weekdays = np.arange(lo, hi + 1)
    weekdays = weekdays[np.is_busday(weekdays)]
    if len(known):
        weekdays = weekdays[(weekdays < known[0]) | (weekdays > known[-1])]
        known = known[(known >= lo) & (known <= hi)]
    return np.union1d(known, weekdays)


def bar_count_start(data: DataFolder, now: dt.datetime, count: int) -> dt.datetime:
    """Start of a ``count``-bar daily request made at ``now`` (``Common/Time.cs:661-701`` with daily precise
    end times): walk back day by day from ``now``, counting the days whose session overlaps each step."""
    if count <= 0:
        return now
    today = now.date()
    span = 2 * count + 30
    lookback = sessions(data, today - dt.timedelta(days=span), today)
    while len(lookback) <= count:  # a calendar with long closures: look further back
        span *= 2
        lookback = sessions(data, today - dt.timedelta(days=span), today)
    is_open_today = len(lookback) > 0 and lookback[-1] == np.datetime64(today, "D")
    if not is_open_today or now.time() < MARKET_CLOSE:
        # Time.cs:672-680: rounded down to midnight, so the steps are (X 00:00, X+1 00:00]: session X counts.
        before = lookback[lookback < np.datetime64(today, "D")]
        return dt.datetime.combine(before[-count].astype(dt.date), dt.time())
    # At or after the close the steps are (X t, X+1 t] with t >= 16:00: session X+1 counts, today included.
    nth = lookback[-count].astype(dt.date)
    return dt.datetime.combine(nth - dt.timedelta(days=1), now.time())


def _delisting_day(data: DataFolder, ticker: str) -> np.datetime64 | None:
    mf = data.map_file(ticker)
    return np.datetime64(mf.last_date, "D") if mf is not None and mf.delisted else None


def symbol_rows(bars: SymbolBars, window: Window, calendar: np.ndarray, fill_forward: bool,
                delisted: np.datetime64 | None) -> tuple[np.ndarray, np.ndarray]:
    """(dates, ``COLUMNS`` values) of one symbol in ``window``: its bars, and with ``fill_forward`` a copy of
    the previous bar (volume 0) on each session without one, from its first bar to the window's end."""
    start, end = _to_ns(window.start), _to_ns(window.end)
    ends = bar_end(bars.dates)
    lo = int(np.searchsorted(ends, start, side="left"))  # a bar ending exactly at start may seed the fill
    hi = int(np.searchsorted(ends, end, side="right"))
    dates = bars.dates[lo:hi]
    if fill_forward and len(dates):
        last = calendar[-1] if len(calendar) else dates[-1]
        if delisted is not None:
            last = min(last, delisted)
        filled = calendar[(calendar > dates[0]) & (calendar <= last)]
        dates = np.union1d(dates, filled)
    dates = dates[bar_end(dates) > start]
    if not len(dates):
        return dates, np.empty((0, len(COLUMNS)))
    source = lo + np.searchsorted(bars.dates[lo:hi], dates, side="right") - 1
    real = bars.dates[source] == dates
    values = np.column_stack([bars.close[source], bars.high[source], bars.low[source], bars.open[source],
                              np.where(real, bars.volume[source], 0.0)])
    return dates, values


def window_history(data: DataFolder, symbols: Iterable[Symbol], window: Window,
                   fill_forward: bool = True) -> pd.DataFrame:
    """Every symbol's rows in ``window`` as LEAN's history DataFrame (``pandas.DataFrame()`` when none)."""
    window_sessions = np.array([], dtype="datetime64[D]")
    if window.end > window.start:
        window_sessions = sessions(data, window.start.date(), window.end.date())
        window_sessions = window_sessions[bar_end(window_sessions) <= _to_ns(window.end)]
    parts, keys, times = [], [], []
    for symbol in symbols:
        bars = data.bars(symbol.value)
        if bars is None or window.end <= window.start:
            continue
        dates, values = symbol_rows(bars, window, window_sessions, fill_forward, _delisting_day(data, symbol.value))
        if len(dates):
            parts.append(values)
            keys.append(np.full(len(dates), symbol, dtype=object))
            times.append(bar_end(dates))
    if not parts:
        return pd.DataFrame()
    index = pd.MultiIndex.from_arrays([np.concatenate(keys), pd.DatetimeIndex(np.concatenate(times))],
                                      names=["symbol", "time"])
    return pd.DataFrame(np.vstack(parts), index=index, columns=COLUMNS)


def daily_history(data: DataFolder, symbols: Iterable[Symbol], now: dt.datetime, count: int | None = None,
                  start: dt.datetime | None = None, end: dt.datetime | None = None,
                  fill_forward: bool = True) -> pd.DataFrame:
    """A history request made at ``now``: ``count`` bars (sessions back from now), or ``start``..``end``
    (``end`` defaults to now and is cut at now)."""
    symbols = list(symbols)
    if count is not None:
        window = Window(bar_count_start(data, now, int(count)), now)
    else:
        first = pd.Timestamp(start).to_pydatetime() if start is not None else dt.datetime(1900, 1, 1)
        last = min(now, pd.Timestamp(end).to_pydatetime()) if end is not None else now
        window = Window(first, last)
    return window_history(data, symbols, window, fill_forward)


def _options(tail: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """LEAN's optional arguments, positional or by keyword; only what daily local data can honour."""
    if len(tail) > len(OPTIONS):
        raise TypeError(f"history: too many arguments {tail}")
    options = dict(zip(OPTIONS, tail))
    for name, value in kwargs.items():
        if name not in OPTIONS:
            raise TypeError(f"history() got an unexpected keyword argument {name!r}")
        options[name] = value
    from .symbols import DataNormalizationMode, Resolution

    resolution = options.get("resolution")
    if resolution not in (None, Resolution.DAILY):
        raise NotImplementedError("history: only Resolution.DAILY is available locally")
    mode = options.get("data_normalization_mode")
    if mode is not None and mode != DataNormalizationMode.ADJUSTED:
        raise UnsupportedMemberError("QCAlgorithm.history", f"data_normalization_mode={mode!r}")
    for name in ("data_mapping_mode", "contract_depth_offset"):
        if options.get(name) is not None:
            raise UnsupportedMemberError("QCAlgorithm.history", f"{name}={options[name]!r}")
    if options.get("flatten"):
        raise UnsupportedMemberError("QCAlgorithm.history", "flatten=True")
    # Daily bars have no extended hours (HistoryRequestFactory.cs:170-171), so that flag changes nothing.
    fill_forward = options.get("fill_forward")
    return {"fill_forward": True if fill_forward is None else bool(fill_forward)}


def _is_count(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


SYMBOL_KEYWORDS = ("tickers", "symbol", "symbols")
WINDOW_KEYWORDS = ("periods", "span", "start", "end")


def keyword_history_request(data: DataFolder, now: dt.datetime, args: tuple, kwargs: dict[str, Any],
                            owner: str) -> pd.DataFrame:
    """LEAN's history called with its keyword names (``tickers``/``symbol``/``symbols``, ``periods``/``span``/
    ``start``+``end``, the options), as QCAlgorithm and QuantBook both take them: put back in positional order
    for :func:`history_request`. A keyword left at ``None`` counts as not given (LEAN's defaults)."""
    unknown = sorted(set(kwargs) - set(SYMBOL_KEYWORDS) - set(WINDOW_KEYWORDS) - set(OPTIONS))
    if unknown:
        raise TypeError(f"{owner}.history() got an unexpected keyword argument {unknown[0]!r}")
    given = {name: value for name, value in kwargs.items() if value is not None}
    keyed = [given.pop(name) for name in SYMBOL_KEYWORDS if name in given]
    if keyed:
        head, rest = keyed[0], list(args)
    elif args:
        head, rest = args[0], list(args[1:])
    else:
        raise UnsupportedMemberError(f"{owner}.history", "a request without symbols (every security)")
    window = [given.pop(name) for name in WINDOW_KEYWORDS if name in given]
    return history_request(data, head, now, tuple(window + rest), given)


def history_request(data: DataFolder, symbols: Any, now: dt.datetime, args: tuple,
                    kwargs: dict[str, Any] | None = None) -> pd.DataFrame:
    """The argument forms of LEAN's ``history`` shared by QCAlgorithm and QuantBook:
    ``(symbols, bar_count | timedelta | start, end, [resolution, fill_forward, ...])``."""
    from .securities import Security
    from .symbols import to_symbol

    items = [symbols] if isinstance(symbols, (Symbol, str, Security)) else list(symbols)
    syms = [to_symbol(s) for s in items]
    rest = list(args)
    if rest and (_is_count(rest[0]) or isinstance(rest[0], dt.timedelta)):
        head, tail = rest[0], rest[1:]
        options = _options(tail, kwargs or {})
        if isinstance(head, dt.timedelta):
            return daily_history(data, syms, now, start=now - head, end=now, **options)
        return daily_history(data, syms, now, count=int(head), **options)
    if len(rest) >= 2:
        start, end = (pd.Timestamp(x).to_pydatetime() for x in rest[:2])
        return daily_history(data, syms, now, start=start, end=end, **_options(rest[2:], kwargs or {}))
    raise TypeError("history(symbols, bar_count | timedelta | start, end[, Resolution.DAILY, fill_forward])")
