"""ETF-constituents universes (``Lean:Common/Data/UniverseSelection/ETFConstituentUniverse.cs``).

Selection runs at 00:00 with the newest constituents file dated before that day (a file for day
X-1 has EndTime X 00:00). With ``universe_settings.schedule.on(rule)`` it runs only on the rule's
dates, plus once at the start. The selector returns symbols or ``Universe.UNCHANGED``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import StrictAttributes
from .scheduling import UniverseSchedule
from .symbols import Resolution, Symbol


class _Unchanged:
    def __repr__(self) -> str:
        return "Universe.UNCHANGED"


class Universe:
    UNCHANGED: Any = _Unchanged()


class UniverseSettings(StrictAttributes):
    def __init__(self, other: "UniverseSettings | None" = None) -> None:
        self.resolution = other.resolution if other else Resolution.MINUTE
        self.leverage = other.leverage if other else 2.0
        self.minimum_time_in_universe = other.minimum_time_in_universe if other else dt.timedelta(days=1)
        self.schedule = UniverseSchedule()
        if other and other.schedule.rule is not None:
            self.schedule.on(other.schedule.rule)


@dataclass(frozen=True)
class ETFConstituentUniverse:
    """One constituent row as the selector sees it."""

    symbol: Symbol
    weight: float | None
    shares_held: float | None
    market_value: float | None
    last_update: dt.datetime | None


@dataclass
class ETFUniverse:
    etf: str
    settings: UniverseSettings
    selector: Callable[[list[ETFConstituentUniverse]], Any] | None
    members: set[Symbol] = field(default_factory=set)
    added_at: dict[Symbol, dt.datetime] = field(default_factory=dict)


class UniverseDefinitions(StrictAttributes):
    """``self.universe``: ``self.universe.etf("SPY", self.universe_settings, selector)``."""

    def __init__(self, algorithm: Any) -> None:
        self._algorithm = algorithm

    def etf(self, ticker: str, *args: Any) -> ETFUniverse:
        settings: UniverseSettings = self._algorithm.universe_settings
        selector = None
        for arg in args:
            if isinstance(arg, UniverseSettings):
                settings = arg
            elif callable(arg):
                selector = arg
            elif isinstance(arg, str):
                if arg.lower() != "usa":
                    raise NotImplementedError(f"universe.etf market {arg!r}: only 'usa' is supported locally")
            elif arg is not None:
                raise TypeError(f"universe.etf: unexpected argument {arg!r}")
        return ETFUniverse(ticker.upper(), settings, selector)


class SecurityChanges(StrictAttributes):
    def __init__(self, added: list[Any], removed: list[Any]) -> None:
        self.added_securities = added
        self.removed_securities = removed

    def __repr__(self) -> str:
        return f"SecurityChanges(added={len(self.added_securities)}, removed={len(self.removed_securities)})"
