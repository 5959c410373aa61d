"""Time slices and corporate events as LEAN hands them to an algorithm.

References are to QuantConnect/Lean 24863901.

* **Slice** (``Common/Data/Slice.cs``): the data of one time step. ``bars`` holds the day's bars;
  ``dividends``, ``splits`` and ``delistings`` the auxiliary events. ``contains_key``/``[]`` look only at the
  default data type (bars): an auxiliary event alone does not make ``data.contains_key(symbol)`` true
  (``Slice.CreateDynamicDataDictionary``, ``SubscriptionManager.IsDefaultDataType``), but it does make
  ``has_data`` true, so ``on_data`` runs for it (``Engine/DataFeeds/TimeSliceFactory.cs:389``,
  ``Engine/AlgorithmManager.cs:579``).
* **When the events arrive**, each in the 00:00 slice of a trading day (``Engine/DataFeeds/Enumerators/``):
  a dividend on its ex-date (``DividendEventProvider.cs``: the factor-file row dated the previous trading
  day announces it; distribution = round(ref - ref x ratio, 2), ``Common/Data/Market/Dividend.cs:95-98``);
  a split as a ``WARNING`` on the trading day before the ex-date and as ``SPLIT_OCCURRED`` on the ex-date
  (``SplitEventProvider.cs``); a delisting as a ``WARNING`` on the map file's last date and as ``DELISTED``
  on the next trading day (``DelistingEventProvider.cs``).
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..data.factors import FactorRow, adjustment_for_dates
from .errors import StrictAttributes
from .securities import SymbolKeyed
from .symbols import Symbol, to_symbol

T = TypeVar("T")


class SplitType(enum.IntEnum):
    """``Common/Global.cs`` SplitType."""

    WARNING = 0
    SPLIT_OCCURRED = 1


class DelistingType(enum.IntEnum):
    """``Common/Global.cs`` DelistingType."""

    WARNING = 0
    DELISTED = 1


class _InstantEvent(StrictAttributes):
    """Auxiliary data that happens at an instant: LEAN's ``EndTime`` equals its ``Time``."""

    time: dt.datetime

    @property
    def end_time(self) -> dt.datetime:
        return self.time


@dataclass
class Dividend(_InstantEvent):
    """``Common/Data/Market/Dividend.cs``: ``distribution`` per share, ``reference_price`` = previous raw close."""

    symbol: Symbol
    time: dt.datetime
    distribution: float
    reference_price: float

    @property
    def value(self) -> float:
        return self.distribution


@dataclass
class Split(_InstantEvent):
    """``Common/Data/Market/Split.cs``: ``split_factor`` < 1 for a forward split (0.5 for 2:1)."""

    symbol: Symbol
    time: dt.datetime
    reference_price: float
    split_factor: float
    type: SplitType

    @property
    def value(self) -> float:
        return self.split_factor


@dataclass
class Delisting(_InstantEvent):
    """``Common/Data/Market/Delisting.cs``: ``price`` is the last known price."""

    symbol: Symbol
    time: dt.datetime
    price: float
    type: DelistingType

    @property
    def value(self) -> float:
        return self.price


class DataDictionary(SymbolKeyed[T]):
    """``Common/Data/Market/DataDictionary.cs``: a dict keyed by Symbol (or ticker), stamped with a time."""

    def __init__(self, time: dt.datetime | None = None, items: dict[Symbol, T] | None = None) -> None:
        super().__init__(items)
        self.time = time

    def __setitem__(self, key: Any, value: T) -> None:
        self._items[to_symbol(key)] = value

    def get(self, key: Any, default: T | None = None) -> T | None:
        return self._items.get(to_symbol(key), default)

    @property
    def count(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class Dividends(DataDictionary[Dividend]):
    pass


class Splits(DataDictionary[Split]):
    pass


class Delistings(DataDictionary[Delisting]):
    pass


@dataclass
class CorporateEvents:
    """The auxiliary events of one 00:00 slice."""

    dividends: list[Dividend] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    delistings: list[Delisting] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.dividends or self.splits or self.delistings)

    def extend(self, other: "CorporateEvents") -> None:
        self.dividends += other.dividends
        self.splits += other.splits
        self.delistings += other.delistings


class Slice(StrictAttributes):
    """The data of one time step (``data.bars[symbol]``, ``data.contains_key(symbol)``, ``data.dividends``...)."""

    def __init__(self, time: dt.datetime, bars: dict[Symbol, Any], events: CorporateEvents | None = None) -> None:
        events = events or CorporateEvents()
        self.time = time
        self.bars = bars
        self.dividends = Dividends(time, {d.symbol: d for d in events.dividends})
        self.splits = Splits(time, {s.symbol: s for s in events.splits})
        self.delistings = Delistings(time, {d.symbol: d for d in events.delistings})

    @property
    def has_data(self) -> bool:
        """True when the step carries bars or events (``TimeSliceFactory.cs:389``: ``allDataForAlgorithm``)."""
        return bool(self.bars) or bool(len(self.dividends) or len(self.splits) or len(self.delistings))

    def contains_key(self, symbol: Any) -> bool:
        return symbol in self.bars

    def __contains__(self, symbol: Any) -> bool:
        return symbol in self.bars

    def __getitem__(self, symbol: Any) -> Any:
        return self.bars[symbol]

    def get(self, symbol: Any, default: Any = None) -> Any:
        return self.bars.get(symbol, default)

    def keys(self) -> list[Symbol]:
        return list(self.bars)

    def values(self) -> list[Any]:
        return list(self.bars.values())

    def items(self) -> list[tuple[Symbol, Any]]:
        return list(self.bars.items())

    def __len__(self) -> int:
        return len(self.bars)


@dataclass(frozen=True)
class CorporateAction:
    """A dividend, split or delisting warning of one security, due in the 00:00 slice of ``day``."""

    day: dt.date
    kind: str  # "dividend", "split_warning", "split" or "delisting_warning"
    value: float  # the distribution, or the split factor
    reference_price: float
    stamp: dt.date | None = None  # a delisting warning's time: the map file's last date


def corporate_actions(rows: list[FactorRow], calendar: np.ndarray, bar_dates: np.ndarray,
                      adjusted_close: np.ndarray, delisting: dt.date | None = None) -> dict[dt.date, list[CorporateAction]]:
    """The dividends, splits and delisting warning LEAN's event providers emit for one security, by slice date.

    A change of price factor (split factor) between factor-file rows X and X+1 is a dividend (split) on
    the first trading day after X (``CorporateFactorProvider.HasDividendEventOnNextTradingDay`` /
    ``HasSplitEventOnNextTradingDay``); X must itself be a trading day, as LEAN looks the row up by the
    date of a tradable-day event. Split warnings come on X with the last raw close before X
    (``eventArgs.LastRawPrice``); the rest carry the reference price of row X. A ``delisting`` date (the map
    file's last date) gives a warning on the first trading day on or after it (``DelistingEventProvider.cs:85-95``).
    """
    out: dict[dt.date, list[CorporateAction]] = {}
    days = calendar.astype("datetime64[D]")
    if delisting is not None:
        k = int(np.searchsorted(days, np.datetime64(delisting, "D")))
        if k < len(days):
            warn = days[k].astype(dt.date)
            out.setdefault(warn, []).append(CorporateAction(warn, "delisting_warning", 0.0, 0.0, delisting))
    if len(rows) < 2:
        return out
    scale = adjustment_for_dates(rows, bar_dates) if len(bar_dates) else np.array([])
    for this, nxt in zip(rows[:-1], rows[1:]):
        x = np.datetime64(this.date, "D")
        i = int(np.searchsorted(days, x))
        if i >= len(days) - 1 or days[i] != x:
            continue
        ex_date = days[i + 1].astype(dt.date)
        if this.price_factor != nxt.price_factor:
            ratio = this.price_factor / nxt.price_factor
            distribution = round(this.reference_price - this.reference_price * ratio, 2)
            out.setdefault(ex_date, []).append(CorporateAction(ex_date, "dividend", distribution, this.reference_price))
        if this.split_factor != nxt.split_factor:
            factor = this.split_factor / nxt.split_factor
            j = int(np.searchsorted(bar_dates, x)) - 1  # last bar before X
            last_raw = float(adjusted_close[j] / scale[j]) if j >= 0 else 0.0
            out.setdefault(this.date, []).append(CorporateAction(this.date, "split_warning", factor, last_raw))
            out.setdefault(ex_date, []).append(CorporateAction(ex_date, "split", factor, this.reference_price))
    return out


def slice_events(symbol: Symbol, actions: list[CorporateAction], time: dt.datetime, price: float) -> CorporateEvents:
    """``actions`` of ``symbol`` as the event objects of the slice at ``time``; ``price`` is the security's last."""
    events = CorporateEvents()
    for action in actions:
        if action.kind == "delisting_warning":
            stamp = dt.datetime.combine(action.stamp or action.day, dt.time())
            events.delistings.append(Delisting(symbol, stamp, price, DelistingType.WARNING))
        elif action.kind == "dividend":
            events.dividends.append(Dividend(symbol, time, action.value, action.reference_price))
        else:
            kind = SplitType.WARNING if action.kind == "split_warning" else SplitType.SPLIT_OCCURRED
            events.splits.append(Split(symbol, time, action.reference_price, action.value, kind))
    return events
