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
from .history import keyword_history_request
from .object_store import ObjectStore
from .orders import OrderTicket, PortfolioTarget, SizingSettings
from .parameters import typed_parameter
from .scheduling import DateRules, ScheduledEvent, ScheduleManager, TimeRules
from .securities import Security, SecurityManager, SecurityPortfolioManager
from .symbols import Resolution, SecurityType, Symbol, to_symbol
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


def _to_datetime(year: Any, month: Any, day: Any, when: Any) -> dt.datetime:
    """LEAN's two overloads: ``(year, month, day)`` or one date/datetime (positionally in ``year``)."""
    value = when if when is not None else year
    if month is None and day is None and isinstance(value, dt.date):
        return value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
    if None not in (year, month, day):
        return dt.datetime(int(year), int(month), int(day))
    raise TypeError("expected (year, month, day) or a date")


def _unsupported_arguments(method: str, **given: Any) -> None:
    """LEAN arguments the runner accepts by name but cannot honour: stop unless left at LEAN's default (None)."""
    used = [f"{name}={value!r}" for name, value in given.items() if value is not None]
    if used:
        raise UnsupportedMemberError(f"QCAlgorithm.{method}", ", ".join(used))


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
        self.benchmark_ticker = "SPY"  # DefaultBrokerageModel.GetBenchmark when set_benchmark is not called
        self._benchmark_function: Callable[[dt.datetime], Any] | None = None
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

    def on_splits(self, splits: Any) -> None:
        """Split warnings and splits of the 00:00 slice (``QCAlgorithm.OnSplits``)."""

    def on_dividends(self, dividends: Any) -> None:
        """Dividends of the 00:00 slice on their ex-dates (``QCAlgorithm.OnDividends``)."""

    def on_delistings(self, delistings: Any) -> None:
        """Delisting warnings and delistings of the 00:00 slice (``QCAlgorithm.OnDelistings``)."""

    # --- configuration ---
    # Parameter names are LEAN's Python names (quantconnect-stubs), so keyword calls work as in LEAN;
    # tests/test_engine_fidelity.py holds every method here to the stubs' overloads.
    def set_start_date(self, year: Any = None, month: int | None = None, day: int | None = None,
                       start: dt.date | None = None) -> None:
        self.start_date = _to_datetime(year, month, day, start)
        self._time = self.start_date

    def set_end_date(self, year: Any = None, month: int | None = None, day: int | None = None,
                     end: dt.date | None = None) -> None:
        self.end_date = _to_datetime(year, month, day, end)

    def set_cash(self, starting_cash: Any = None, conversion_rate: float = 0, symbol: str | None = None) -> None:
        if isinstance(starting_cash, str) or symbol is not None:
            raise UnsupportedMemberError("QCAlgorithm.set_cash", "a cash currency (the runner has a USD account)")
        self.portfolio.set_cash(starting_cash)

    def set_benchmark(self, benchmark: Any = None, symbol: Any = None, ticker: Any = None,
                      security_type: Any = None) -> None:
        """A ticker, Symbol or Security: a SecurityBenchmark, which LEAN feeds from an internal HOUR subscription of
        its own (``UniverseSelection.cs`` L328-398; see ``benchmark.py``). A callable taking the time: a
        FuncBenchmark evaluated at each daily sample (``QCAlgorithm.Python.cs`` L1368)."""
        if isinstance(benchmark, SecurityType):  # the (security_type, symbol) overload, positionally
            benchmark, security_type = None, benchmark
        if security_type not in (None, SecurityType.EQUITY):
            raise UnsupportedMemberError("QCAlgorithm.set_benchmark", f"security_type={security_type!r}")
        benchmark = next((x for x in (benchmark, symbol, ticker) if x is not None), None)
        if callable(benchmark) and not isinstance(benchmark, (str, Symbol)):
            self._benchmark_function = benchmark
        else:
            self.benchmark_ticker, self._benchmark_function = to_symbol(benchmark).value, None

    def set_warm_up(self, time_span: int | dt.timedelta | None = None, resolution: Any = None,
                    bar_count: int | None = None) -> None:
        """``set_warm_up(time_span | bar_count[, resolution])``; a bare number positionally is a bar count."""
        if resolution not in (None, Resolution.DAILY):
            raise NotImplementedError("set_warm_up: only daily resolution is supported locally")
        self._warm_up = bar_count if bar_count is not None else time_span

    @property
    def is_warming_up(self) -> bool:
        return self._warming_up

    @property
    def time(self) -> dt.datetime:
        return self._time

    def add_equity(self, ticker: str, resolution: Any = None, market: str | None = None, fill_forward: bool = True,
                   leverage: float | None = None, extended_market_hours: bool = False,
                   data_normalization_mode: Any = None) -> Security:
        if resolution not in (None, Resolution.DAILY):
            raise NotImplementedError("add_equity: the local runner has daily data only; pass Resolution.DAILY")
        if resolution is None and self.universe_settings.resolution != Resolution.DAILY:
            # DataManager.cs:635-660: no resolution means UniverseSettings.Resolution, MINUTE by default
            self._warn(f"add_equity({ticker!r}) without a resolution subscribes "
                       f"{Resolution(self.universe_settings.resolution).name} data in LEAN (UniverseSettings.Resolution);"
                       " the local runner has daily bars only and uses them. Pass Resolution.DAILY for the same data "
                       "in both.")
        # what the runner has: US equities, fill-forward, regular hours, margin leverage 2, ADJUSTED prices
        _unsupported_arguments(
            "add_equity", market=None if market in (None, "usa") else market,
            fill_forward=None if fill_forward else fill_forward, leverage=None if leverage in (None, 2) else leverage,
            extended_market_hours=extended_market_hours or None,
            data_normalization_mode=None if data_normalization_mode in (None, 1) else data_normalization_mode)
        symbol = Symbol(ticker, self._engine.data.sid(ticker) if self._engine else None)
        security = self.securities.add(symbol)
        self._manual.append(symbol)
        if self._engine:
            self._engine.subscribe(symbol)
        return security

    def add_universe(self, universe: Any = None, selector: Any = None, name: Any = None, resolution: Any = None,
                     market: Any = None, universe_settings: Any = None, security_type: Any = None,
                     py_object: Any = None, pyfine: Any = None, py_selector: Any = None, t: Any = None,
                     data_type: Any = None, date_rule: Any = None, coarse_selector: Any = None,
                     fine_selector: Any = None) -> ETFUniverse:
        """Only ``add_universe(self.universe.etf(...))``; LEAN's other overloads raise UnsupportedMemberError."""
        _unsupported_arguments("add_universe", selector=selector, name=name, resolution=resolution, market=market,
                               universe_settings=universe_settings, security_type=security_type, py_object=py_object,
                               pyfine=pyfine, py_selector=py_selector, t=t, data_type=data_type, date_rule=date_rule,
                               coarse_selector=coarse_selector, fine_selector=fine_selector)
        if not isinstance(universe, ETFUniverse):
            raise UnsupportedMemberError("QCAlgorithm", "add_universe(<anything but self.universe.etf(...)>)")
        if universe.settings.resolution != Resolution.DAILY:
            raise NotImplementedError("the local runner has daily data only: set "
                                      "self.universe_settings.resolution = Resolution.DAILY before add_universe")
        self._universes.append(universe)
        return universe

    def get_parameter(self, name: str, default_value: Any = None) -> Any:
        """LEAN's overloads (QCAlgorithm.cs L865-909): an int or float default is returned when the text
        does not parse the .NET way ("6.0" for an int); see ``parameters.py``."""
        return typed_parameter(self._parameters.get(name), default_value)

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

    def error(self, message: Any = None, error: BaseException | None = None) -> None:
        self._emit(logging.ERROR, message if error is None else error)

    def _warn(self, message: str) -> None:
        """A difference from LEAN the run's outputs must state (run.json and log.txt ``warnings``)."""
        log.warning("%s", message)
        if self._engine is not None:
            self._engine.record.warnings.append(message)

    def set_runtime_statistic(self, name: str, value: Any) -> None:
        """Shown with the results (LEAN: runtime statistics); we also record it in run.json."""
        self.runtime_statistics[str(name)] = str(value)

    # --- scheduling and training ---
    def train(self, date_rule: Any = None, time_rule: Any = None, training_code: Any = None) -> ScheduledEvent:
        """``train(training_code)`` runs at the next time step; ``train(date_rule, time_rule, training_code)`` is
        a scheduled event."""
        if time_rule is None:
            fn = training_code if training_code is not None else date_rule
            return self._engine.run_soon(fn) if self._engine else self.schedule.on(
                self.date_rules.on(self.start_date.date()), self.time_rules.midnight, fn)
        return self.schedule.on(date_rule, time_rule, training_code,
                                name=f"Training: {date_rule.name}: {time_rule.name}")

    # --- data ---
    def history(self, *args: Any, tickers: Any = None, symbol: Any = None, symbols: Any = None, periods: Any = None,
                span: dt.timedelta | None = None, start: Any = None, end: Any = None, resolution: Any = None,
                fill_forward: bool | None = None, extended_market_hours: bool | None = None,
                data_mapping_mode: Any = None, data_normalization_mode: Any = None,
                contract_depth_offset: int | None = None, flatten: bool | None = None, type: Any = None,
                universe: Any = None, request: Any = None, requests: Any = None) -> pd.DataFrame:
        """LEAN's history: fill-forwarded, bar counts on the exchange calendar (see ``history.py``). Positional
        forms go to ``history_request`` as they are; LEAN's keyword names (``tickers``/``symbol``/``symbols``,
        ``periods``/``span``/``start``+``end``, options) are put in the same order."""
        _unsupported_arguments("history", type=type, universe=universe, request=request, requests=requests)
        return keyword_history_request(
            self._engine.data, self._time, args,
            {"tickers": tickers, "symbol": symbol, "symbols": symbols, "periods": periods, "span": span,
             "start": start, "end": end, "resolution": resolution, "fill_forward": fill_forward,
             "extended_market_hours": extended_market_hours, "data_mapping_mode": data_mapping_mode,
             "data_normalization_mode": data_normalization_mode, "contract_depth_offset": contract_depth_offset,
             "flatten": flatten}, "QCAlgorithm")

    # --- trading ---
    def set_holdings(self, symbol: Any = None, percentage: float | None = None, liquidate_existing_holdings: bool = False,
                     asynchronous: bool = False, tag: str | None = None, order_properties: Any = None,
                     targets: list[PortfolioTarget] | None = None) -> list[OrderTicket]:
        """``set_holdings(symbol, percentage, ...)`` or ``set_holdings(targets, liquidate_existing_holdings, ...)``."""
        _unsupported_arguments("set_holdings", order_properties=order_properties)
        if targets is None and isinstance(symbol, list):
            targets = symbol
            if isinstance(percentage, bool):  # set_holdings(targets, True): the second positional is the flag
                liquidate_existing_holdings = percentage
        if targets is None:
            targets = [PortfolioTarget(symbol, float(percentage or 0.0))]
        return self._engine.set_holdings(targets, liquidate_existing_holdings, tag or "")

    def liquidate(self, symbol: Any = None, asynchronous: bool = False, tag: str | None = None,
                  order_properties: Any = None, symbols: Any = None, symbol_to_liquidate: Any = None) -> list[OrderTicket]:
        """Everything (by ticker, ``QCAlgorithm.Trading.cs:1329-1337``), one symbol, or a list; tag "Liquidated"."""
        _unsupported_arguments("liquidate", order_properties=order_properties)
        chosen = next((x for x in (symbol_to_liquidate, symbols, symbol) if x is not None), None)
        if chosen is None:
            targets: Iterable[Symbol] = sorted(self.securities.keys(), key=lambda s: s.value)
        elif isinstance(chosen, (list, tuple, set)):
            targets = [to_symbol(x) for x in chosen]
        else:
            targets = [to_symbol(chosen)]
        return self._engine.liquidate(targets, "Liquidated" if tag is None else tag)

    def market_order(self, symbol: Any, quantity: float, asynchronous: bool = False, tag: str = "",
                     order_properties: Any = None) -> OrderTicket:
        _unsupported_arguments("market_order", order_properties=order_properties)
        return self._engine.submit(to_symbol(symbol), float(quantity), tag)

    def quit(self, message: str = "") -> None:
        self._engine.stop(message)

    def on_data(self, slice: Any) -> None:
        pass


def callback_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", repr(fn))
