"""The daily time loop of a LEAN backtest, reproduced for daily US-equity data.

Order of work each calendar day (``Lean:Engine/AlgorithmManager.cs``; reference notes §8):

1. 00:00 - delisted securities are liquidated at their last price (fee 0, tag "Liquidate from
   delisting") on the first trading day after the map file's last date; universes select with the
   newest constituents file dated before today; ``on_securities_changed`` runs.
2. Scheduled events in time order; the clock reads the event's time and prices are still the
   previous close. A market order placed while the market is open (09:30-16:00) fills at today's
   close (``fill_timing="close"``: with daily data LEAN converts it to market-on-close, or runs the
   event inside the 16:00 slice) or at once at the last close (``"last-price"``: LEAN before
   2026-06 with hourly data). Orders placed while the market is closed are market-on-open.
3. 16:00 - bars of the day arrive; market-on-open orders fill at the open and market-on-close
   orders at the close; events at or after 16:00 and ``on_data`` run; the equity is sampled.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from .algorithm import QCAlgorithm
from .data_source import DataFolder, SymbolBars
from .errors import StrictAttributes
from .orders import (Order, OrderStatus, OrderTicket, OrderType, PortfolioTarget, interactive_brokers_fee,
                     target_quantity_delta)
from .scheduling import MARKET_CLOSE, MARKET_OPEN, ScheduledEvent
from .securities import Security
from .symbols import Symbol
from .universe import ETFConstituentUniverse, ETFUniverse, SecurityChanges, Universe

log = logging.getLogger(__name__)
CLOSE_TIME = dt.timedelta(hours=16)


@dataclass
class BacktestRecord:
    """Everything a run produced, for the results writer."""

    equity: list[tuple[dt.date, float, float]] = field(default_factory=list)  # date, equity, benchmark price
    orders: list[Order] = field(default_factory=list)
    holdings: list[tuple[dt.date, str, float]] = field(default_factory=list)  # date, symbol, weight
    skipped_symbols: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    start_equity: float = 0.0


class Slice(StrictAttributes):
    """The data of one 16:00 time step: ``data.bars[symbol]``, ``data.contains_key(symbol)``."""

    def __init__(self, time: dt.datetime, bars: dict[Symbol, Security]) -> None:
        self.time = time
        self.bars = bars

    def contains_key(self, symbol: Any) -> bool:
        return symbol in self.bars

    def __contains__(self, symbol: Any) -> bool:
        return symbol in self.bars

    def __getitem__(self, symbol: Any) -> Security:
        return self.bars[symbol]

    def keys(self) -> list[Symbol]:
        return list(self.bars)


class BacktestEngine:
    def __init__(self, algorithm: QCAlgorithm, data: DataFolder, fill_timing: str = "close",
                 progress: bool = True) -> None:
        if fill_timing not in ("close", "last-price"):
            raise ValueError("fill_timing must be 'close' or 'last-price'")
        self.algorithm = algorithm
        self.data = data
        self.fill_timing = fill_timing
        self.progress = progress
        self.record = BacktestRecord()
        self._subscribed: dict[Symbol, Security] = {}
        self._cursor: dict[Symbol, np.ndarray] = {}
        self._pending: list[Order] = []
        self._soon: list[Callable[[], Any]] = []
        self._order_id = 0
        self._stopped = False
        self._selected_once: set[int] = set()
        self._filled_today = False
        self.date_overrides: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
        algorithm._engine = self

    # --- subscriptions and prices ---
    def subscribe(self, symbol: Symbol) -> Security | None:
        if symbol in self._subscribed:
            return self._subscribed[symbol]
        if self.data.bars(symbol.value) is None:
            self.record.skipped_symbols.setdefault(symbol.value, "no daily price file in the data folder")
            return None
        security = self.algorithm.securities.add(symbol)
        self._subscribed[symbol] = security
        return security

    def _aligned_positions(self, symbol: Symbol) -> np.ndarray:
        """Per trading day, the position of this symbol's bar that day, or -1 (computed once per symbol)."""
        if symbol not in self._cursor:
            bars = self._bars(symbol)
            idx = np.searchsorted(bars.dates, self._trading_array)
            clipped = np.minimum(idx, len(bars.dates) - 1)
            self._cursor[symbol] = np.where(bars.dates[clipped] == self._trading_array, clipped, -1)
        return self._cursor[symbol]

    def _unsubscribe_idle(self) -> None:
        """LEAN ends a subscription once a security is in no universe, not added by hand, and not held."""
        members = set(self.algorithm._manual)
        for universe in self.algorithm._universes:
            members |= universe.members
        pending = {o.symbol for o in self._pending}
        members.add(self.benchmark.symbol)
        for symbol in [s for s, sec in self._subscribed.items()
                       if s not in members and not sec.holdings.invested and s not in pending]:
            del self._subscribed[symbol]

    def _bars(self, symbol: Symbol) -> SymbolBars:
        bars = self.data.bars(symbol.value)
        assert bars is not None
        return bars

    def _seed_price(self, security: Security, day: dt.date) -> None:
        bars = self._bars(security.symbol)
        i = bars.index_on_or_before(np.datetime64(day, "D") - np.timedelta64(1, "D"))
        if i >= 0:
            security.set_bar(bars.dates[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i])

    def _update_prices(self, day: np.datetime64) -> dict[Symbol, Security]:
        updated = {}
        k = self._trading_index[day]
        for symbol, security in self._subscribed.items():
            i = self._aligned_positions(symbol)[k]
            if i >= 0:
                bars = self._bars(symbol)
                security.set_bar(day, bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i])
                updated[symbol] = security
        return updated

    # --- clock ---
    def _set_time(self, when: dt.datetime) -> None:
        self.algorithm._time = when

    def _market_open(self) -> bool:
        now = self.algorithm.time
        return self._is_trading_day(now.date()) and MARKET_OPEN <= now.time() < MARKET_CLOSE

    def _is_trading_day(self, day: dt.date) -> bool:
        return np.datetime64(day, "D") in self._trading_set

    # --- orders ---
    def submit(self, symbol: Symbol, quantity: float, tag: str = "") -> OrderTicket:
        algo = self.algorithm
        self._order_id += 1
        now = algo.time
        if self._market_open():
            kind = OrderType.MARKET
        else:
            kind = OrderType.MARKET_ON_OPEN
        order = Order(self._order_id, symbol, quantity, kind, now, tag)
        self.record.orders.append(order)
        if algo.is_warming_up:
            order.status, order.message = OrderStatus.INVALID, "orders are ignored during warm-up"
            return OrderTicket(order)
        security = algo.securities[symbol] if symbol in algo.securities else None
        if security is None or security.price <= 0 or security.is_delisted:
            order.status = OrderStatus.INVALID
            order.message = f"{symbol}: no price yet (zero price) or delisted; order rejected"
            algo.error(order.message)
            return OrderTicket(order)
        if not self._has_buying_power(security, quantity, security.price):
            order.status, order.message = OrderStatus.INVALID, "Insufficient buying power"
            algo.error(f"Order Error: id: {order.id}, Insufficient buying power to complete order for {symbol}")
            return OrderTicket(order)
        if kind == OrderType.MARKET and self.fill_timing == "last-price":
            self._fill(order, security, security.price)
        else:
            if kind == OrderType.MARKET:
                order.type = OrderType.MARKET_ON_CLOSE
            self._pending.append(order)
        return OrderTicket(order)

    def _has_buying_power(self, security: Security, quantity: float, price: float) -> bool:
        current = security.holdings.quantity
        if current != 0 and (current > 0) != (quantity > 0) and abs(quantity) <= abs(current):
            return True  # reductions always pass (BuyingPowerModel)
        increase = abs(current + quantity) - abs(current)
        required = max(increase, 0.0) * price / security.leverage
        return required <= self.algorithm.portfolio.margin_remaining() + 1e-9

    def _fill(self, order: Order, security: Security, price: float, fee: float | None = None) -> None:
        if fee is None:
            fee = interactive_brokers_fee(order.quantity, price)
        self.algorithm.portfolio.apply_fill(security, order.quantity, price, fee)
        order.status, order.fill_price, order.fee, order.fill_time = OrderStatus.FILLED, price, fee, self.algorithm.time
        self._filled_today = True

    def _process_pending(self, updated: dict[Symbol, Security]) -> None:
        still = []
        for order in self._pending:
            security = updated.get(order.symbol)
            if security is None:  # no bar today for this symbol: the order waits
                still.append(order)
                continue
            price = security.open if order.type == OrderType.MARKET_ON_OPEN else security.close
            if not self._has_buying_power(security, order.quantity, price):
                order.status, order.message = OrderStatus.INVALID, "Insufficient buying power at fill"
                continue
            self._fill(order, security, price)
        self._pending = still

    def _open_quantity(self, symbol: Symbol) -> float:
        """Open Market and MOO quantities; LEAN's SetHoldingsImpl does not count MOC orders."""
        return sum(o.quantity for o in self._pending if o.symbol == symbol and o.type == OrderType.MARKET_ON_OPEN)

    def set_holdings(self, targets: list[PortfolioTarget], liquidate_existing: bool, tag: str) -> list[OrderTicket]:
        algo = self.algorithm
        tickets: list[OrderTicket] = []
        wanted = {t.symbol for t in targets}
        if liquidate_existing:
            held = sorted((s for s, sec in algo.securities.items() if sec.holdings.invested and s not in wanted),
                          key=lambda s: s.value)
            tickets += self.liquidate(held, tag or "Liquidated")
        tpv = algo.portfolio.total_portfolio_value
        orders = []
        for target in targets:
            if target.symbol not in algo.securities:
                algo.error(f"set_holdings: {target.symbol} is not in the algorithm's securities; target skipped")
                continue
            security = algo.securities[target.symbol]
            if security.price <= 0:
                algo.error(f"The order quantity for {target.symbol} cannot be calculated: the price is zero "
                           "(no data yet). Target skipped.")
                continue
            delta = target_quantity_delta(target.quantity, security.price, security.holdings.quantity,
                                          self._open_quantity(target.symbol), tpv, security.leverage,
                                          algo.settings.sizing())
            if abs(delta) >= 1:
                reducing = security.holdings.quantity != 0 and (delta > 0) != (security.holdings.quantity > 0)
                orders.append((not reducing, -abs(delta * security.price), target.symbol, delta))
        for _, _, symbol, delta in sorted(orders, key=lambda o: (o[0], o[1])):
            tickets.append(self.submit(symbol, delta, tag))
        return tickets

    def liquidate(self, symbols: Iterable[Symbol], tag: str) -> list[OrderTicket]:
        tickets = []
        for symbol in symbols:
            self._pending = [o for o in self._pending if not (o.symbol == symbol and o.type != OrderType.MARKET)]
            if symbol in self.algorithm.securities:
                quantity = self.algorithm.securities[symbol].holdings.quantity
                if quantity:
                    tickets.append(self.submit(symbol, -quantity, tag))
        return tickets

    def run_soon(self, fn: Callable[[], Any]) -> ScheduledEvent:
        self._soon.append(fn)
        return ScheduledEvent("Training: Now", None, None, fn)  # type: ignore[arg-type]

    def stop(self, message: str) -> None:
        self._stopped = True
        self.algorithm.log(f"quit: {message}")

    # --- universes ---
    def _select(self, universe: ETFUniverse, day: dt.date) -> tuple[list[Security], list[Security]]:
        found = self.data.constituents_file_on_or_before(universe.etf, day - dt.timedelta(days=1))
        if found is None:
            return [], []
        file_day, rows = found
        stamp = dt.datetime.combine(file_day, dt.time())
        constituents = [ETFConstituentUniverse(Symbol(r.ticker, r.sid), r.weight, r.shares_held, r.market_value,
                                               stamp) for r in rows]
        chosen = universe.selector(constituents) if universe.selector else [c.symbol for c in constituents]
        if chosen is Universe.UNCHANGED:
            return [], []
        new_members: set[Symbol] = set()
        sids = {c.symbol: c.symbol for c in constituents}
        for item in chosen:
            symbol = sids.get(item if isinstance(item, Symbol) else Symbol(str(item)), None)
            symbol = symbol or (item if isinstance(item, Symbol) else Symbol(str(item)))
            if self.subscribe(symbol) is None:
                continue
            new_members.add(symbol)
        added = [self.algorithm.securities[s] for s in sorted(new_members - universe.members, key=lambda s: s.value)]
        removed = [self.algorithm.securities[s] for s in sorted(universe.members - new_members, key=lambda s: s.value)]
        universe.members = new_members
        return added, removed

    def _selection_due(self, universe: ETFUniverse, day: dt.date) -> bool:
        if id(universe) not in self._selected_once:
            self._selected_once.add(id(universe))
            return True
        rule_days = self._universe_days.get(id(universe))
        if rule_days is None:
            return self._is_trading_day(day)
        return day in rule_days

    def _midnight(self, day: dt.date) -> None:
        algo = self.algorithm
        self._set_time(dt.datetime.combine(day, dt.time()))
        added: list[Security] = []
        removed: list[Security] = self._delist(day) if self._is_trading_day(day) else []
        for universe in algo._universes:
            if self._selection_due(universe, day):
                a, r = self._select(universe, day)
                added += a
                removed += r
        if algo.settings.seed_initial_prices:
            for security in added:
                if security.price <= 0:
                    self._seed_price(security, day)
        if added or removed:
            algo.on_securities_changed(SecurityChanges(added, removed))
        self._unsubscribe_idle()

    def _delist(self, day: dt.date) -> list[Security]:
        """Liquidate and drop securities whose map file ended before ``day``; they leave every universe."""
        removed = []
        for symbol, security in list(self._subscribed.items()):
            mf = self.data.map_file(symbol.value)
            if mf is None or not mf.delisted or security.is_delisted or day <= mf.last_date:
                continue
            security.is_delisted = True
            quantity = security.holdings.quantity
            if quantity:
                self._order_id += 1
                order = Order(self._order_id, symbol, -quantity, OrderType.MARKET, self.algorithm.time,
                              "Liquidate from delisting")
                self.record.orders.append(order)
                self._fill(order, security, security.price, fee=0.0)
            self._pending = [o for o in self._pending if o.symbol != symbol]
            for universe in self.algorithm._universes:
                if symbol in universe.members:
                    universe.members.discard(symbol)
                    removed.append(security)
            del self._subscribed[symbol]
            self.record.warnings.append(f"{day}: {symbol} delisted (map file ends {mf.last_date}); "
                                        f"liquidated {quantity:g} shares at {security.price:.4f}")
        return removed

    # --- the loop ---
    def _run_events(self, events: list[tuple[dt.datetime, int, Callable[[], Any]]]) -> None:
        for when, _, callback in events:
            if self._stopped:
                return
            self._set_time(when)
            self._run_soon_queue()
            callback()
        self._run_soon_queue()

    def _run_soon_queue(self) -> None:
        while self._soon:
            self._soon.pop(0)()

    def _resolve(self, first: dt.date, last: dt.date) -> dict[dt.date, list[tuple[dt.datetime, int, Callable[[], Any]]]]:
        """Event times between ``first`` and ``last``. Rules are resolved on whole months and weeks
        around that range, so a backtest starting mid-month gets no spurious ``month_start`` on its first day."""
        lo = pd.Timestamp(first) - pd.DateOffset(months=1)
        hi = pd.Timestamp(last) + pd.DateOffset(months=1)
        trading = self.trading_days[(self.trading_days >= lo) & (self.trading_days <= hi)]
        calendar = pd.date_range(lo, hi, freq="D")
        by_day: dict[dt.date, list[tuple[dt.datetime, int, Callable[[], Any]]]] = {}
        for event in self.algorithm.schedule.events:
            event.resolve(trading, calendar)
            for when in event.times:
                if first <= when.date() <= last:
                    by_day.setdefault(when.date(), []).append((when, event.order, event.callback))
        for items in by_day.values():
            items.sort(key=lambda x: (x[0], x[1]))
        self._universe_days = {id(u): {d for d in u.settings.schedule.rule.dates(trading, calendar) if first <= d <= last}
                               for u in self.algorithm._universes if u.settings.schedule.rule is not None}
        return by_day

    def _warm_up_start(self, start: dt.date) -> dt.date:
        period = self.algorithm._warm_up
        if period is None:
            return start
        if isinstance(period, dt.timedelta):
            return start - period
        before = self.trading_days[self.trading_days < pd.Timestamp(start)]
        return before[-int(period)].date() if len(before) >= int(period) else before[0].date()

    def run(self) -> BacktestRecord:
        algo = self.algorithm
        self.trading_days = self.data.calendar
        self._trading_array = self.trading_days.to_numpy().astype("datetime64[D]")
        self._trading_set = set(self._trading_array)
        self._trading_index = {d: i for i, d in enumerate(self._trading_array)}
        self._set_time(algo.start_date)
        algo.initialize()
        if self.date_overrides[0]:
            algo.start_date = self.date_overrides[0]
        if self.date_overrides[1]:
            algo.end_date = self.date_overrides[1]
        start, end = algo.start_date.date(), algo.end_date.date()
        if end < start:
            raise ValueError(f"end date {end} is before start date {start}")
        self.benchmark = self.subscribe(Symbol(algo.benchmark_ticker))
        if self.benchmark is None:
            raise FileNotFoundError(f"benchmark {algo.benchmark_ticker} has no daily data in {self.data.root}")
        self.record.start_equity = algo.portfolio.total_portfolio_value
        first = self._warm_up_start(start)
        events = self._resolve(first, end)
        algo._warming_up = first < start
        days = pd.date_range(first, end, freq="D")
        for ts in tqdm(days, desc="backtest", unit="day", disable=None if self.progress else True, leave=False):
            day = ts.date()
            if algo._warming_up and day >= start:
                algo._warming_up = False
                self._set_time(dt.datetime.combine(day, dt.time()))
                algo.on_warmup_finished()
            self._one_day(day, events.get(day, []))
            if self._stopped:
                break
        self._set_time(dt.datetime.combine(end, dt.time(16)))
        algo.on_end_of_algorithm()
        return self.record

    def _one_day(self, day: dt.date, events: list[tuple[dt.datetime, int, Callable[[], Any]]]) -> None:
        algo = self.algorithm
        self._midnight(day)
        close_at = dt.datetime.combine(day, MARKET_CLOSE)
        self._run_events([e for e in events if e[0] < close_at])
        if not self._is_trading_day(day):
            self._run_events([e for e in events if e[0] >= close_at])
            return
        self._set_time(close_at)
        updated = self._update_prices(np.datetime64(day, "D"))
        self._filled_today = False
        self._process_pending(updated)
        self._run_events([e for e in events if e[0] >= close_at])
        if type(algo).on_data is not QCAlgorithm.on_data:
            self._set_time(close_at)
            algo.on_data(Slice(close_at, updated))
        if algo.is_warming_up:
            return
        tpv = algo.portfolio.total_portfolio_value
        self.record.equity.append((day, tpv, self.benchmark.price))
        if self._filled_today:
            for symbol, security in algo.securities.items():
                if security.holdings.invested:
                    self.record.holdings.append((day, symbol.value, security.holdings.holdings_value / tpv))
