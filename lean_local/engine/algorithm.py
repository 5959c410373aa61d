"""``QCAlgorithm``: the API surface the project's algorithms use, with LEAN's names and semantics.

The algorithm holds no engine logic: it records what ``initialize`` configures and forwards
orders, history and scheduling to the :class:`~lean_local.engine.engine.BacktestEngine` that runs it.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Iterable

import pandas as pd

from .errors import StrictAttributes, UnsupportedMemberError
from .history import history_request
from .object_store import ObjectStore
from .orders import OrderTicket, PortfolioTarget, SizingSettings
from .scheduling import DateRules, ScheduledEvent, ScheduleManager, TimeRules
from .securities import Security, SecurityManager, SecurityPortfolioManager
from .symbols import Resolution, Symbol, to_symbol
from .universe import ETFUniverse, UniverseDefinitions, UniverseSettings

log = logging.getLogger("lean_local.algorithm")


class AlgorithmSettings(StrictAttributes):
    """``self.settings`` (``Lean:Common/AlgorithmSettings.cs`` defaults)."""

    def __init__(self) -> None:
        self.free_portfolio_value_percentage = 0.0025
        self.minimum_order_margin_portfolio_percentage = 0.001
        self.seed_initial_prices = False
        self.daily_precise_end_time = True

    def sizing(self) -> SizingSettings:
        return SizingSettings(self.free_portfolio_value_percentage, self.minimum_order_margin_portfolio_percentage)


def _to_datetime(args: tuple) -> dt.datetime:
    if len(args) == 1:
        value = args[0]
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
    if len(args) == 3:
        return dt.datetime(*args)
    raise TypeError("expected (year, month, day) or a date")


def _convert_parameter(value: str, default: Any) -> Any:
    """LEAN's typed get_parameter: the default's type decides the conversion."""
    if isinstance(default, bool) or default is None or isinstance(default, str):
        return value
    if isinstance(default, int):
        return int(float(value))
    if isinstance(default, float):
        return float(value)
    return value


class QCAlgorithm(StrictAttributes):
    """Base class of every algorithm's ``main.py``."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._parameters: dict[str, str] = {}
        self.start_date = dt.datetime(1998, 1, 1)
        self.end_date = dt.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
        self._time = self.start_date
        self._warm_up: int | dt.timedelta | None = None
        self._warming_up = False
        self.benchmark_ticker = "SPY"
        self.securities = SecurityManager()
        self.portfolio = SecurityPortfolioManager(self.securities)
        self.settings = AlgorithmSettings()
        self.universe_settings = UniverseSettings()
        self.universe = UniverseDefinitions(self)
        self.schedule = ScheduleManager()
        self.date_rules = DateRules(self)
        self.time_rules = TimeRules(self)
        self.object_store = ObjectStore(".")
        self.live_mode = False
        self.project_id = 0
        self._universes: list[ETFUniverse] = []
        self._manual: list[Symbol] = []
        self._messages: list[str] = []
        self.runtime_statistics: dict[str, str] = {}

    # --- lifecycle hooks (overridden by algorithms) ---
    def initialize(self) -> None:
        pass

    def on_securities_changed(self, changes: Any) -> None:
        pass

    def on_end_of_algorithm(self) -> None:
        pass

    def on_warmup_finished(self) -> None:
        pass

    def on_order_event(self, order_event: Any) -> None:
        pass

    # --- configuration ---
    def set_start_date(self, *args: Any) -> None:
        self.start_date = _to_datetime(args)
        self._time = self.start_date

    def set_end_date(self, *args: Any) -> None:
        self.end_date = _to_datetime(args)

    def set_cash(self, cash: float) -> None:
        self.portfolio.set_cash(cash)

    def set_benchmark(self, ticker: Any) -> None:
        self.benchmark_ticker = to_symbol(ticker).value

    def set_warm_up(self, period: int | dt.timedelta, resolution: Any = None) -> None:
        if resolution not in (None, Resolution.DAILY):
            raise NotImplementedError("set_warm_up: only daily resolution is supported locally")
        self._warm_up = period

    @property
    def is_warming_up(self) -> bool:
        return self._warming_up

    @property
    def time(self) -> dt.datetime:
        return self._time

    def add_equity(self, ticker: str, resolution: Any = Resolution.DAILY, *args: Any, **kwargs: Any) -> Security:
        if resolution not in (None, Resolution.DAILY):
            raise NotImplementedError("add_equity: the local runner has daily data only; pass Resolution.DAILY")
        symbol = Symbol(ticker, self._engine.data.sid(ticker) if self._engine else None)
        security = self.securities.add(symbol)
        self._manual.append(symbol)
        if self._engine:
            self._engine.subscribe(symbol)
        return security

    def add_universe(self, universe: ETFUniverse, *args: Any) -> ETFUniverse:
        if not isinstance(universe, ETFUniverse) or args:
            raise UnsupportedMemberError("QCAlgorithm", "add_universe(<anything but self.universe.etf(...)>)")
        if universe.settings.resolution != Resolution.DAILY:
            raise NotImplementedError("the local runner has daily data only: set "
                                      "self.universe_settings.resolution = Resolution.DAILY before add_universe")
        self._universes.append(universe)
        return universe

    def get_parameter(self, name: str, default_value: Any = None) -> Any:
        if name not in self._parameters:
            return default_value
        return _convert_parameter(self._parameters[name], default_value)

    def get_parameters(self) -> dict[str, str]:
        return dict(self._parameters)

    # --- logging ---
    def _emit(self, level: int, message: Any) -> None:
        line = f"{self._time:%Y-%m-%d %H:%M:%S} {message}"
        self._messages.append(line)
        log.log(level, "%s", line)

    def debug(self, message: Any) -> None:
        self._emit(logging.DEBUG, message)

    def log(self, message: Any) -> None:
        self._emit(logging.INFO, message)

    def error(self, message: Any) -> None:
        self._emit(logging.ERROR, message)

    def set_runtime_statistic(self, name: str, value: Any) -> None:
        """Shown with the results (LEAN: runtime statistics); we also record it in run.json."""
        self.runtime_statistics[str(name)] = str(value)

    # --- scheduling and training ---
    def train(self, *args: Any) -> ScheduledEvent:
        """``train(fn)`` runs at the next time step; ``train(date_rule, time_rule, fn)`` is a scheduled event."""
        if len(args) == 1:
            return self._engine.run_soon(args[0]) if self._engine else self.schedule.on(
                self.date_rules.on(self.start_date.date()), self.time_rules.midnight, args[0])
        date_rule, time_rule, fn = args
        return self.schedule.on(date_rule, time_rule, fn, name=f"Training: {date_rule.name}: {time_rule.name}")

    # --- data ---
    def history(self, symbols: Any, *args: Any) -> pd.DataFrame:
        return history_request(self._engine.data, symbols, self._time, args)

    # --- trading ---
    def set_holdings(self, target: Any, percentage: float | None = None, liquidate_existing_holdings: bool = False,
                     asynchronous: bool = False, tag: str = "", **kwargs: Any) -> list[OrderTicket]:
        if kwargs:
            raise UnsupportedMemberError("QCAlgorithm.set_holdings", ", ".join(kwargs))
        if isinstance(target, list):
            targets = target
            if percentage is not None and isinstance(percentage, bool):
                liquidate_existing_holdings = percentage
        else:
            targets = [PortfolioTarget(target, float(percentage or 0.0))]
        return self._engine.set_holdings(targets, liquidate_existing_holdings, tag)

    def liquidate(self, symbol: Any = None, asynchronous: bool = False, tag: str = "Liquidated", **kwargs: Any) -> list[OrderTicket]:
        symbols: Iterable[Symbol] = [to_symbol(symbol)] if symbol is not None else list(self.securities.keys())
        return self._engine.liquidate(symbols, tag)

    def market_order(self, symbol: Any, quantity: float, asynchronous: bool = False, tag: str = "", **kwargs: Any) -> OrderTicket:
        return self._engine.submit(to_symbol(symbol), float(quantity), tag)

    def quit(self, message: str = "") -> None:
        self._engine.stop(message)

    def on_data(self, data: Any) -> None:
        pass


def callback_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", repr(fn))
