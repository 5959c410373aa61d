"""Date rules, time rules and scheduled events (``Lean:Common/Scheduling/DateRules.cs``, ``TimeRules.cs``).

Rules are resolved against the trading calendar when the backtest starts. A date rule given a
symbol counts that symbol's trading days (``month_start("SPY")`` = first trading day); without a
symbol it counts calendar days (``month_start()`` = the 1st), as in LEAN.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from .errors import StrictAttributes

MARKET_OPEN = dt.time(9, 30)
MARKET_CLOSE = dt.time(16, 0)


@dataclass(frozen=True)
class DateRule:
    name: str
    pick: Callable[[pd.DatetimeIndex, pd.DatetimeIndex], list[dt.date]]  # (trading days, calendar days) -> dates

    def dates(self, trading: pd.DatetimeIndex, calendar: pd.DatetimeIndex) -> list[dt.date]:
        return self.pick(trading, calendar)


@dataclass(frozen=True)
class TimeRule:
    name: str
    time_of: Callable[[dt.date], dt.time]


def _first_in_group(days: pd.DatetimeIndex, key: Any, offset: int, last: bool = False) -> list[dt.date]:
    out = []
    for _, group in pd.Series(days, index=days).groupby(key):
        values = list(group.index)
        if last:
            values = values[::-1]
        if offset < len(values):
            out.append(values[offset].date())
    return sorted(out)


class DateRules(StrictAttributes):
    """``self.date_rules``."""

    def __init__(self, algorithm: Any) -> None:
        self._algorithm = algorithm

    def _days(self, symbol: Any) -> str:
        return "trading" if symbol is not None else "calendar"

    def every_day(self, symbol: Any = None) -> DateRule:
        kind = self._days(symbol)
        return DateRule(f"EveryDay({symbol or ''})",
                        lambda t, c: [d.date() for d in (t if kind == "trading" else c)])

    def month_start(self, symbol: Any = None, days_offset: int = 0) -> DateRule:
        kind = self._days(symbol)
        return DateRule(f"MonthStart({symbol or ''},{days_offset})", lambda t, c: _first_in_group(
            t if kind == "trading" else c, lambda d: (d.year, d.month), days_offset))

    def month_end(self, symbol: Any = None, days_offset: int = 0) -> DateRule:
        kind = self._days(symbol)
        return DateRule(f"MonthEnd({symbol or ''},{days_offset})", lambda t, c: _first_in_group(
            t if kind == "trading" else c, lambda d: (d.year, d.month), days_offset, last=True))

    def week_start(self, symbol: Any = None, days_offset: int = 0) -> DateRule:
        kind = self._days(symbol)
        return DateRule(f"WeekStart({symbol or ''},{days_offset})", lambda t, c: _first_in_group(
            t if kind == "trading" else c[c.dayofweek == 0].union(c[:1]), lambda d: d.isocalendar()[:2], days_offset))

    def week_end(self, symbol: Any = None, days_offset: int = 0) -> DateRule:
        kind = self._days(symbol)
        return DateRule(f"WeekEnd({symbol or ''},{days_offset})", lambda t, c: _first_in_group(
            t if kind == "trading" else c[c.dayofweek == 4], lambda d: d.isocalendar()[:2], days_offset, last=True))

    def on(self, *args: Any) -> DateRule:
        if len(args) == 3 and all(isinstance(a, int) for a in args):
            wanted = [dt.date(*args)]
        else:
            wanted = [a.date() if isinstance(a, dt.datetime) else a for a in args]
        return DateRule("On", lambda t, c: sorted(wanted))

    @property
    def today(self) -> DateRule:
        day = self._algorithm.time.date()
        return DateRule("Today", lambda t, c: [day])

    @property
    def tomorrow(self) -> DateRule:
        day = self._algorithm.time.date() + dt.timedelta(days=1)
        return DateRule("Tomorrow", lambda t, c: [day])


class TimeRules(StrictAttributes):
    """``self.time_rules`` for US equities (09:30-16:00 New York; no early closes in daily data)."""

    def __init__(self, algorithm: Any) -> None:
        self._algorithm = algorithm

    def after_market_open(self, symbol: Any, minutes_after_open: float = 0, extended_market_open: bool = False) -> TimeRule:
        if extended_market_open:
            raise NotImplementedError("after_market_open(..., extended_market_open=True) is not supported locally")
        at = (dt.datetime.combine(dt.date(2000, 1, 1), MARKET_OPEN) + dt.timedelta(minutes=minutes_after_open)).time()
        return TimeRule(f"AfterMarketOpen({symbol},{minutes_after_open})", lambda d: at)

    def before_market_close(self, symbol: Any, minutes_before_close: float = 0, extended_market_close: bool = False) -> TimeRule:
        if extended_market_close:
            raise NotImplementedError("before_market_close(..., extended_market_close=True) is not supported locally")
        at = (dt.datetime.combine(dt.date(2000, 1, 1), MARKET_CLOSE) - dt.timedelta(minutes=minutes_before_close)).time()
        return TimeRule(f"BeforeMarketClose({symbol},{minutes_before_close})", lambda d: at)

    def at(self, hour: int, minute: int = 0, second: int = 0) -> TimeRule:
        at = dt.time(hour, minute, second)
        return TimeRule(f"At({at})", lambda d: at)

    @property
    def midnight(self) -> TimeRule:
        return TimeRule("Midnight", lambda d: dt.time(0, 0))

    @property
    def noon(self) -> TimeRule:
        return TimeRule("Noon", lambda d: dt.time(12, 0))

    @property
    def now(self) -> TimeRule:
        at = self._algorithm.time.time()
        return TimeRule("Now", lambda d: at)


_sequence = itertools.count()


@dataclass
class ScheduledEvent:
    """A callback at resolved times; ``order`` keeps LEAN's creation order among same-time events."""

    name: str
    date_rule: DateRule
    time_rule: TimeRule
    callback: Callable[[], Any]
    order: int = field(default_factory=lambda: next(_sequence))
    times: list[dt.datetime] = field(default_factory=list)

    def resolve(self, trading: pd.DatetimeIndex, calendar: pd.DatetimeIndex) -> None:
        self.times = [dt.datetime.combine(d, self.time_rule.time_of(d)) for d in self.date_rule.dates(trading, calendar)]


class ScheduleManager(StrictAttributes):
    """``self.schedule``: ``on(date_rule, time_rule, callback)``."""

    def __init__(self) -> None:
        self.events: list[ScheduledEvent] = []

    def on(self, date_rule: DateRule, time_rule: TimeRule, callback: Callable[[], Any], name: str | None = None) -> ScheduledEvent:
        if not isinstance(date_rule, DateRule) or not isinstance(time_rule, TimeRule):
            raise TypeError("schedule.on(date_rule, time_rule, callback): use self.date_rules and self.time_rules")
        event = ScheduledEvent(name or f"{date_rule.name}: {time_rule.name}", date_rule, time_rule, callback)
        self.events.append(event)
        return event


class UniverseSchedule:
    """``universe_settings.schedule``: when a scheduled universe selects (``ScheduledEnumerator``)."""

    def __init__(self) -> None:
        self.rule: DateRule | None = None

    def on(self, date_rule: DateRule) -> None:
        self.rule = date_rule
