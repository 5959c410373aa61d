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
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from .algorithm import QCAlgorithm
from .benchmark import Benchmark, make_benchmark
from .data_source import DataFolder, SymbolBars
from .events import CorporateEvents, Delisting, DelistingType, Slice, corporate_actions, slice_events
from .orders import (MARKET_ON_CLOSE_BUFFER, Order, OrderEvent, OrderStatus, OrderTicket, OrderType, PortfolioTarget,
                     interactive_brokers_fee, pre_order_rejection,
                     target_quantity_delta)
from .scheduling import MARKET_CLOSE, MARKET_OPEN, ScheduledEvent
from .securities import Security
from .symbols import Symbol
from .time_budget import TimeBudget
from .universe import ETFConstituentUniverse, ETFUniverse, SecurityChanges, Universe
from .window import fit_to_data

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


class BacktestEngine:
    def __init__(self, algorithm: QCAlgorithm, data: DataFolder, fill_timing: str = "close",
                 progress: bool = True, clock: Callable[[], float] = time.perf_counter) -> None:
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
        self.requested_window: tuple[dt.date, dt.date] | None = None  # before fitting it to the data (window.py)
        self.time_budget = TimeBudget(clock=clock)  # LEAN's time limits, reported, never enforced
        self._manual_reported: set[Symbol] = set()
        self._actions: dict[Symbol, dict[dt.date, list[Any]]] = {}  # corporate actions by slice date
        algorithm._engine = self

    # --- subscriptions and prices ---
    def subscribe(self, symbol: Symbol) -> Security | None:
        if symbol in self._subscribed:
            return self._subscribed[symbol]
        if self.data.bars(symbol.value) is None:
            self.record.skipped_symbols.setdefault(symbol.value, self.data.skip_reason(symbol.value))
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
        for symbol in [s for s, sec in self._subscribed.items()
                       if s not in members and not sec.holdings.invested and s not in pending]:
            self._subscribed.pop(symbol).clear_cache()

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
        """One order as ``QCAlgorithm.MarketOrder`` sends it (``QCAlgorithm.Trading.cs:241-295``). A request the
        pre-order checks reject gets an INVALID ticket and never becomes an order (``SubmitOrderRequest``,
        ``OrderTicket.InvalidSubmitRequest``): no id, not in Total Orders. Orders that pass are numbered and
        recorded, then may still be invalidated (buying power) or canceled, as in LEAN."""
        algo = self.algorithm
        now = algo.time
        kind = self._order_type(now)
        security = algo.securities[symbol] if symbol in algo.securities else None
        rejection = pre_order_rejection(symbol, quantity, security, algo.is_warming_up)
        if rejection:
            algo.error(rejection)
            return OrderTicket(Order(0, symbol, quantity, kind, now, tag, OrderStatus.INVALID, message=rejection))
        assert security is not None
        self._order_id += 1
        order = Order(self._order_id, symbol, quantity, kind, now, tag)
        self.record.orders.append(order)
        if not self._has_buying_power(security, quantity, security.price):
            order.status, order.message = OrderStatus.INVALID, "Insufficient buying power"
            algo.error(f"Order Error: id: {order.id}, Insufficient buying power to complete order for {symbol}")
            self._order_event(order, OrderStatus.INVALID, message=order.message)
            return OrderTicket(order)
        self._order_event(order, OrderStatus.SUBMITTED)
        if kind == OrderType.MARKET:
            self._fill(order, security, security.price)
        else:
            self._pending.append(order)
        return OrderTicket(order)

    def _order_type(self, now: dt.datetime) -> OrderType:
        """What a market order becomes (``QCAlgorithm.Trading.cs:248-280``): market-on-open while the exchange
        is closed; with daily data and the market open, market-on-close, or market-on-open once within
        ``MarketOnCloseOrder.SubmissionTimeBuffer`` (15.5 min, strictly after 15:44:30) of the close
        (``IsWithinMarketOnCloseSubmissionBuffer``, :415-428). ``fill_timing="last-price"`` keeps the plain
        market order of LEAN before 2026-06."""
        if not self._market_open():
            return OrderType.MARKET_ON_OPEN
        if self.fill_timing == "last-price":
            return OrderType.MARKET
        close = dt.datetime.combine(now.date(), MARKET_CLOSE)
        return OrderType.MARKET_ON_OPEN if now > close - MARKET_ON_CLOSE_BUFFER else OrderType.MARKET_ON_CLOSE

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
        self._order_event(order, OrderStatus.FILLED, price, order.quantity, fee, order.tag)

    def _order_event(self, order: Order, status: OrderStatus, fill_price: float = 0.0, fill_quantity: float = 0.0,
                     fee: float = 0.0, message: str = "") -> None:
        """``on_order_event``, synchronously as in a backtest (``BrokerageTransactionHandler.cs:1364-1369``)."""
        algo = self.algorithm
        if type(algo).on_order_event is not QCAlgorithm.on_order_event:
            algo.on_order_event(OrderEvent(order, algo.time, status, fill_price, fill_quantity, fee, message))

    def _process_pending(self, updated: dict[Symbol, Security]) -> None:
        still = []
        for order in self._pending:
            security = updated.get(order.symbol)
            if security is None or not self._fillable(order):  # no bar for this order yet: it waits
                still.append(order)
                continue
            price = security.open if order.type == OrderType.MARKET_ON_OPEN else security.close
            if not self._has_buying_power(security, order.quantity, price):
                order.status, order.message = OrderStatus.INVALID, "Insufficient buying power at fill"
                self._order_event(order, OrderStatus.INVALID, message=order.message)
                continue
            self._fill(order, security, price)
        self._pending = still

    def _fillable(self, order: Order) -> bool:
        """A market-on-open order fills on the first bar that opens at or after it was placed
        (``EquityFillModel.cs:529-531``: ``tradeBar.Time < localOrderTime`` waits); so one placed at 15:50
        fills at the next session's open. Market-on-close orders fill on today's bar."""
        if order.type != OrderType.MARKET_ON_OPEN:
            return True
        return dt.datetime.combine(self.algorithm.time.date(), MARKET_OPEN) >= order.time

    def _cancel_open_orders(self, symbol: Symbol, tag: str | None = None) -> None:
        """``Transactions.CancelOpenOrders``: the symbol's pending orders become CANCELED (they stay orders)."""
        canceled = [o for o in self._pending if o.symbol == symbol]
        self._pending = [o for o in self._pending if o.symbol != symbol]
        for order in canceled:
            order.cancel(self.algorithm.time, tag)
            self._order_event(order, OrderStatus.CANCELED)

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
            # QCAlgorithm.Trading.cs:1370-1414: open orders other than plain market orders are canceled first
            # (pending orders here are market-on-open/close), then -holdings is ordered.
            self._cancel_open_orders(symbol, tag)
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
        added: list[Security] = self._manual_additions()
        removed: list[Security] = []
        events = CorporateEvents()
        if self._is_trading_day(day):
            removed = self._delist(day, events)
            events.extend(self._corporate_events(day))
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
            changes = SecurityChanges(added, removed)
            self.time_budget.time_step("on_securities_changed", algo.time, lambda: algo.on_securities_changed(changes))
        self._deliver_events(events)
        self._unsubscribe_idle()

    def _corporate_events(self, day: dt.date) -> CorporateEvents:
        """Dividends, splits and delisting warnings of the subscribed securities due in today's 00:00 slice
        (see ``events.py`` for LEAN's providers)."""
        time = dt.datetime.combine(day, dt.time())
        out = CorporateEvents()
        for symbol, security in self._subscribed.items():
            actions = self._symbol_actions(symbol).get(day)
            if actions:
                out.extend(slice_events(symbol, actions, time, security.price))
        return out

    def _symbol_actions(self, symbol: Symbol) -> dict[dt.date, list[Any]]:
        """The symbol's corporate actions by slice date, computed once from its factor and map files."""
        if symbol not in self._actions:
            bars = self._bars(symbol)
            mf = self.data.map_file(symbol.value)
            self._actions[symbol] = corporate_actions(self.data.factor_rows(symbol.value), self._trading_array,
                                                      bars.dates, bars.close,
                                                      mf.last_date if mf is not None and mf.delisted else None)
        return self._actions[symbol]

    def _deliver_events(self, events: CorporateEvents) -> None:
        """A slice with only auxiliary data: ``on_splits``, ``on_dividends``, ``on_delistings`` (when there are
        any), then ``on_data``, since the slice has data (``AlgorithmManager.cs:509-582``)."""
        if not events:
            return
        algo = self.algorithm
        data = Slice(algo.time, {}, events)
        for hook, items in ((algo.on_splits, data.splits), (algo.on_dividends, data.dividends),
                            (algo.on_delistings, data.delistings)):
            if len(items):
                hook(items)
        if type(algo).on_data is not QCAlgorithm.on_data:
            self.time_budget.time_step("on_data", algo.time, lambda: algo.on_data(data))

    def _manual_additions(self) -> list[Security]:
        """add_equity securities not yet reported: LEAN's user-defined universe puts them in the next
        time step's SecurityChanges (once)."""
        new: list[Security] = []
        for symbol in self.algorithm._manual:
            if symbol in self._subscribed and symbol not in self._manual_reported:
                self._manual_reported.add(symbol)
                new.append(self._subscribed[symbol])
        return new

    def _delist(self, day: dt.date, events: CorporateEvents) -> list[Security]:
        """Liquidate and drop securities whose map file ended before ``day``; they leave every universe, their
        open orders are canceled and the slice carries a DELISTED event (``BacktestingBrokerage.ProcessDelistings``)."""
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
            self._cancel_open_orders(symbol)
            events.delistings.append(Delisting(symbol, dt.datetime.combine(mf.last_date + dt.timedelta(days=1), dt.time()),
                                               security.price, DelistingType.DELISTED))
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
            now = self.algorithm.time  # train(fn) is ScheduleManager.TrainingNow: an event named like LEAN's
            self.time_budget.scheduled_event(f"Training: Now: {now:%Y-%m-%dT%H:%M:%S}", now, self._soon.pop(0))

    def _timed_event(self, event: ScheduledEvent) -> Callable[[], None]:
        """The event's callback, timed against LEAN's leaky bucket (see time_budget.py)."""
        return lambda: self.time_budget.scheduled_event(event.name, self.algorithm.time, event.callback)

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
                    by_day.setdefault(when.date(), []).append((when, event.order, self._timed_event(event)))
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
        if len(before) == 0 or int(period) <= 0:  # nothing to warm up on, or no warm-up asked for
            return start
        return before[-int(period)].date() if len(before) >= int(period) else before[0].date()

    def run(self) -> BacktestRecord:
        algo = self.algorithm
        self.trading_days = self.data.calendar
        self._trading_array = self.trading_days.to_numpy().astype("datetime64[D]")
        self._trading_set = set(self._trading_array)
        self._trading_index = {d: i for i, d in enumerate(self._trading_array)}
        self._set_time(algo.start_date)
        self.time_budget.initialize(algo.initialize, algo.time)
        if self.date_overrides[0]:
            algo.start_date = self.date_overrides[0]
        if self.date_overrides[1]:
            algo.end_date = self.date_overrides[1]
        start, end = algo.start_date.date(), algo.end_date.date()
        if end < start:
            raise ValueError(f"end date {end} is before start date {start}")
        self.requested_window = (start, end)
        start, end, notes = fit_to_data(start, end, self.trading_days, self.data.root)  # window.py: LEAN differs
        algo.start_date = dt.datetime.combine(start, algo.start_date.time())
        algo.end_date = dt.datetime.combine(end, algo.end_date.time())
        for note in notes:
            log.warning("%s", note)
            self.record.warnings.append(note)
        self.benchmark: Benchmark = make_benchmark(algo, self.data)
        if self.benchmark.warning:
            log.warning("%s", self.benchmark.warning)
            self.record.warnings.append(self.benchmark.warning)
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
        self.record.warnings += self.time_budget.warnings
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
            data = Slice(close_at, updated)
            self.time_budget.time_step("on_data", close_at, lambda: algo.on_data(data))
        if algo.is_warming_up:
            return
        tpv = algo.portfolio.total_portfolio_value
        self.record.equity.append((day, tpv, self.benchmark.value(close_at)))
        if self._filled_today:
            for symbol, security in algo.securities.items():
                if security.holdings.invested:
                    self.record.holdings.append((day, symbol.value, security.holdings.holdings_value / tpv))
