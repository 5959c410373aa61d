"""The runner against LEAN's order accounting, event timing and Python API (QuantConnect/Lean 24863901).

Each test names the LEAN source it is worked out from; markets are hand-built (tests/markets.py) so every
expected number can be checked on paper. Days are indices into ``markets.DAYS`` (weekdays from 2020-01-01).
"""
from __future__ import annotations

import datetime as dt
import inspect
import textwrap
import typing

import pandas as pd
import pytest

from lean_local.data import lean_format as lf
from lean_local.data.sid import equity_sid
from lean_local.engine.algorithm import QCAlgorithm
from lean_local.engine.data_source import DataFolder
from lean_local.engine.errors import UnsupportedMemberError, unsupported_type
from lean_local.engine.events import DelistingType, SplitType
from lean_local.engine.lean_api import algorithm_imports_namespace, stub_overloads
from lean_local.engine.orders import LEAN_ORDER_COLUMNS, OrderStatus, OrderType, lean_orders_frame
from lean_local.engine.runner import run_backtest

from markets import DAYS, bars, write_market, write_project

HEADER = """
    from AlgorithmImports import *

"""


def _d(i: int) -> dt.date:
    return DAYS[i].date()


def _at(i: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(_d(i), dt.time(hour, minute, second))


def _run(tmp_path, frames, body: str, start: int = 1, end: int = 8, **kw):
    """Backtest ``body`` (the class, indented under HEADER) from DAYS[start] to DAYS[end] on ``frames``."""
    data = write_market(tmp_path / "m", frames)
    project = write_project(tmp_path / "root", "algo", HEADER + textwrap.indent(textwrap.dedent(body), "    "))
    return run_backtest(project, data_dir=data, start=str(_d(start)), end=str(_d(end)), progress=False,
                        write=False, **kw)


# the test calendar inside a main.py: ``self.days[i]`` is DAYS[i]
DAYS_CODE = "[date.fromisoformat(d) for d in %r]" % [str(d.date()) for d in DAYS]


# --- 1. order accounting -------------------------------------------------------------------------------------

DIVIDEND_LIQUIDATION = """
class Algo(QCAlgorithm):
    def initialize(self):
        self.set_cash(100000)
        self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
        self.days = DAYS_CODE
        self.seen = []
        self.dividends = []
        self.order_events = []

    def on_order_event(self, order_event):
        self.order_events.append((order_event.order_id, order_event.status, order_event.utc_time,
                                  order_event.fill_quantity, order_event.order_fee.value.amount))

    def on_dividends(self, dividends):
        self.dividends.append((self.time, dividends[self.sym].distribution, dividends[self.sym].reference_price))

    def on_data(self, data):
        self.seen.append((self.time, data.contains_key(self.sym), len(data.dividends)))
        day = self.time.date()
        if day == self.days[2] and self.time.hour == 16:
            self.set_holdings(self.sym, 0.5)
        elif day == self.days[4] and self.time.hour == 16:
            self.liquidate(self.sym)
        elif day == self.days[5] and self.time.hour == 0:
            self.liquidate(self.sym)  # MACDTrendAlgorithm's pattern: the signal is re-read in the dividend slice
"""


def _dividend_run(tmp_path):
    # AAA: raw close 100, a 2.00 dividend with ex-date DAYS[5]; opens 1 below the close from day 3 on.
    closes = [100.0] * 10
    opens = [100.0, 100.0, 100.0] + [99.0] * 7
    body = DIVIDEND_LIQUIDATION.replace("DAYS_CODE", DAYS_CODE)
    return _run(tmp_path, [bars("AAA", closes, opens=opens, dividends={5: 2.0})], body, start=1, end=7)


def test_liquidate_in_the_dividend_slice_cancels_the_open_order_and_counts_it(tmp_path):
    """MACDTrendAlgorithm counts 85 orders in LEAN, 84 in the runner before this fix: on an ex-dividend date LEAN
    runs ``on_data`` at 00:00 for the slice holding only the dividend (``TimeSliceFactory.cs:389``,
    ``AlgorithmManager.cs:579-582``); ``liquidate`` there finds the market-on-open sell of the previous 16:00 still
    open, cancels it (not a plain market order, ``QCAlgorithm.Trading.cs:1388-1406``) and orders again. The
    canceled order stays an order: Total Orders counts it (``BrokerageTransactionHandler.cs:348-350``)."""
    result = _dividend_run(tmp_path)
    buy, first_sell, second_sell = result.record.orders
    assert [o.id for o in result.record.orders] == [1, 2, 3]
    assert (buy.type, buy.status, buy.fill_time) == (OrderType.MARKET_ON_OPEN, OrderStatus.FILLED, _at(3, 16))
    assert first_sell.status == OrderStatus.CANCELED and first_sell.canceled_time == _at(5)
    assert first_sell.tag == "Liquidated" and first_sell.fill_price == 0
    assert second_sell.time == _at(5) and second_sell.quantity == -buy.quantity
    assert second_sell.status == OrderStatus.FILLED and second_sell.fill_time == _at(5, 16)
    assert result.algorithm.portfolio["AAA"].quantity == 0


def test_dividend_arrives_in_its_own_midnight_slice(tmp_path):
    """``DividendEventProvider.cs``: the factor-file row of DAYS[4] announces a dividend for the next trading day,
    emitted at 00:00 of DAYS[5] with distribution round(ref - ref x ratio, 2) (``Dividend.cs:95-98``); the slice
    has data but no bar, so ``contains_key`` is False (``Slice.cs:616-628``)."""
    result = _dividend_run(tmp_path)
    algo = result.algorithm
    assert algo.dividends == [(_at(5), pytest.approx(2.0), pytest.approx(100.0))]
    midnight = [s for s in algo.seen if s[0].hour == 0]
    assert midnight == [(_at(5), False, 1)]
    assert (_at(5, 16), True, 0) in algo.seen


def test_order_events_follow_each_order(tmp_path):
    """``on_order_event`` gets SUBMITTED when an order is placed (``BacktestingBrokerage.cs:135-141``), then FILLED
    or CANCELED, stamped in UTC (``OrderEvent.UtcTime``; 00:00 New York in January is 05:00 UTC)."""
    result = _dividend_run(tmp_path)
    events = result.algorithm.order_events
    buy = result.record.orders[0]
    assert [(e[0], e[1]) for e in events] == [(1, OrderStatus.SUBMITTED), (1, OrderStatus.FILLED),
                                              (2, OrderStatus.SUBMITTED), (2, OrderStatus.CANCELED),
                                              (3, OrderStatus.SUBMITTED), (3, OrderStatus.FILLED)]
    assert events[1][2:] == (dt.datetime(2020, 1, 6, 21, 0), buy.quantity, pytest.approx(buy.fee))
    assert events[3][2] == dt.datetime(2020, 1, 8, 5, 0)


def test_requests_refused_before_submission_are_not_orders(tmp_path):
    """``QCAlgorithm.SubmitOrderRequest``: a request failing ``PreOrderChecksImpl`` (warming up, zero price,
    zero quantity) returns ``OrderTicket.InvalidSubmitRequest`` and never reaches the transaction handler, so it
    has no order id and is not in Total Orders. An order refused for buying power passed those checks: it is
    numbered, recorded INVALID and counted (``BrokerageTransactionHandler.cs:348-380, 919``)."""
    body = """
    class Algo(QCAlgorithm):
        def initialize(self):
            self.set_cash(100000)
            self.set_warm_up(2)
            self.late = self.add_equity("LATE", Resolution.DAILY).symbol
            self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
            self.tickets = []
            self.done = False

        def on_data(self, data):
            if self.is_warming_up:
                self.tickets.append(self.market_order(self.sym, 10))
            elif not self.done:
                self.done = True
                self.tickets.append(self.market_order(self.late, 10))      # no bar yet: price 0
                self.tickets.append(self.market_order(self.sym, 0))        # zero quantity
                self.tickets.append(self.market_order(self.sym, 10**7))    # far beyond buying power
    """
    frames = [bars("AAA", [10.0] * 10), bars("LATE", [5.0] * 3, start=7)]
    result = _run(tmp_path, frames, body, start=3, end=5)
    tickets = result.algorithm.tickets
    assert [t.status for t in tickets] == [OrderStatus.INVALID] * len(tickets) and len(tickets) == 5
    assert [t.order_id for t in tickets] == [0, 0, 0, 0, 1]
    (order,) = result.record.orders
    assert (order.id, order.status, order.quantity) == (1, OrderStatus.INVALID, 10**7)


def test_orders_csv_has_lean_order_fields(tmp_path):
    """``Common/Orders/Order.cs`` JSON names, enums by their C# names, times in UTC as LEAN's result JSON stores
    them (16:00 New York on 2020-01-08 is 21:00Z); ``price`` is the fill price (``OrderTicket.cs:520-526``)."""
    result = _dividend_run(tmp_path)
    frame = lean_orders_frame(result.record.orders)
    assert list(frame.columns) == LEAN_ORDER_COLUMNS
    assert list(frame.columns[:8]) == ["id", "symbol", "time", "lastFillTime", "canceledTime", "quantity", "type",
                                       "status"]
    rows = frame.to_dict("records")
    assert [r["status"] for r in rows] == ["Filled", "Canceled", "Filled"]
    assert {r["type"] for r in rows} == {"MarketOnOpen"}
    assert rows[1]["canceledTime"] == "2020-01-08T05:00:00Z" and rows[1]["lastFillTime"] == ""
    assert rows[2]["lastFillTime"] == "2020-01-08T21:00:00Z" and rows[2]["direction"] == "Sell"
    assert rows[2]["price"] == pytest.approx(99.0) and rows[2]["value"] == pytest.approx(rows[2]["quantity"] * 99.0)


# --- 2. event timing -----------------------------------------------------------------------------------------

EVENTS = """
class Algo(QCAlgorithm):
    def initialize(self):
        self.set_cash(100000)
        self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
        self.days = DAYS_CODE
        self.events = []

    def on_splits(self, splits):
        s = splits[self.sym]
        self.events.append(("split", self.time, s.type, s.split_factor, s.reference_price))

    def on_delistings(self, delistings):
        d = delistings[self.sym]
        self.events.append(("delisting", self.time, d.type, d.time, d.price))

    def on_data(self, data):
        if not data.contains_key(self.sym):
            self.events.append(("on_data", self.time, len(data.splits), len(data.delistings)))
"""


def test_split_warning_then_split_at_midnight(tmp_path):
    """``SplitEventProvider.cs``: a WARNING at 00:00 of the trading day before the ex-date carrying the last raw
    close, then SPLIT_OCCURRED at 00:00 of the ex-date with the factor-file reference price; factor 0.5 for 2:1
    (``CorporateFactorProvider.cs:147-167``); each slice also reaches ``on_data``."""
    closes = [100.0, 100.0, 100.0, 104.0, 102.0, 51.0, 51.0, 51.0, 51.0]
    body = EVENTS.replace("DAYS_CODE", DAYS_CODE)
    result = _run(tmp_path, [bars("AAA", closes, splits={5: 2.0})], body, start=1, end=7)
    events = result.algorithm.events
    assert ("split", _at(4), SplitType.WARNING, pytest.approx(0.5), pytest.approx(104.0)) in events
    assert ("split", _at(5), SplitType.SPLIT_OCCURRED, pytest.approx(0.5), pytest.approx(102.0)) in events
    assert [e for e in events if e[0] == "on_data"] == [("on_data", _at(4), 1, 0), ("on_data", _at(5), 1, 0)]


def test_delisting_warning_then_delisted_at_midnight(tmp_path):
    """``DelistingEventProvider.cs:78-107``: WARNING at 00:00 of the map file's last date, DELISTED at 00:00 of
    the next trading day stamped last date + 1 day, both with the last price; open orders are canceled
    (``BacktestingBrokerage.cs:524-581``)."""
    late_order = ("self.events = []\n        self.schedule.on(self.date_rules.on(self.days[5]), self.time_rules.at(17, 0), "
                  "lambda: self.market_order(self.sym, 5))")
    body = EVENTS.replace("DAYS_CODE", DAYS_CODE).replace("self.events = []", late_order)
    frames = [bars("AAA", [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]), bars("BBB", [20.0] * 12)]
    result = _run(tmp_path, frames, body, start=1, end=9)
    events = result.algorithm.events
    assert ("delisting", _at(5), DelistingType.WARNING, _at(5), pytest.approx(14.0)) in events
    assert ("delisting", _at(6), DelistingType.DELISTED, _at(6), pytest.approx(15.0)) in events
    (order,) = result.record.orders  # the 17:00 market-on-open order of the last date never fills
    assert order.status == OrderStatus.CANCELED and order.canceled_time == _at(6)


MOC_BUFFER = """
class Algo(QCAlgorithm):
    def initialize(self):
        self.set_cash(100000)
        self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
        rule = self.date_rules.on(DAYS_CODE[2])
        self.schedule.on(rule, self.time_rules.before_market_close(self.sym, 15.5), lambda: self.market_order(self.sym, 10))
        self.schedule.on(rule, self.time_rules.before_market_close(self.sym, 10), lambda: self.market_order(self.sym, 20))
"""


def test_market_order_inside_the_market_on_close_buffer_fills_at_the_next_open(tmp_path):
    """With daily data a market order in market hours becomes market-on-close, unless submitted after
    close - 15.5 min (``MarketOnCloseOrder.SubmissionTimeBuffer``; ``UtcTime > latest`` is strict), when it becomes
    market-on-open (``QCAlgorithm.Trading.cs:268-280, 415-428``) and fills at the next session's open
    (``EquityFillModel.cs:529-531``)."""
    closes = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    opens = [9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5]
    body = MOC_BUFFER.replace("DAYS_CODE", DAYS_CODE)
    result = _run(tmp_path, [bars("AAA", closes, opens=opens)], body, start=1, end=5)
    at_1544, at_1550 = result.record.orders
    assert at_1544.time == _at(2, 15, 44, 30) and at_1544.type == OrderType.MARKET_ON_CLOSE
    assert at_1544.fill_price == 12.0 and at_1544.fill_time == _at(2, 16)
    assert at_1550.time == _at(2, 15, 50) and at_1550.type == OrderType.MARKET_ON_OPEN
    assert at_1550.fill_price == 12.5 and at_1550.fill_time == _at(3, 16)


def _reused_ticker_folder(tmp_path):
    """LEAN's sample layout for a reused ticker (``Data/equity/usa/map_files/aaa.1.csv`` and ``aaa.csv``): one
    ``daily/aaa.zip`` holds both companies' bars; the old company's map file is ``aaa.1.csv``."""
    data = write_market(tmp_path / "m", [bars("BBB", [20.0] * 20)])
    old_days, new_days = DAYS[0:5], DAYS[10:20]
    frame = pd.DataFrame({"date": list(old_days) + list(new_days), "open": [10.0] * 5 + [50.0] * 10,
                          "high": [10.0] * 5 + [50.0] * 10, "low": [10.0] * 5 + [50.0] * 10,
                          "close": [10.0] * 5 + [50.0] * 10, "volume": 1000.0})
    lf.write_daily_zip(data, "AAA", frame)
    maps = lf.equity_dir(data) / "map_files"
    (maps / "aaa.1.csv").write_text(f"{old_days[0]:%Y%m%d},aaa,N\n{old_days[-1]:%Y%m%d},aaa,N\n")
    (maps / "aaa.csv").write_text(f"{new_days[0]:%Y%m%d},aaa,Q\n20501231,aaa,Q\n")
    return data


def test_permtick_and_ticker_resolve_through_map_files(tmp_path):
    """``MapFileResolver.ResolveMapFile``: ``AAA`` on a date names the company whose map file has the first row
    of ticker ``aaa`` on or after it; ``AAA.1`` (no row's ticker) is looked up as a permtick. A company's bars are
    the ticker's file between its map file's dates (``MapFile.HasData``); its SID uses its first ticker and date."""
    data = DataFolder(_reused_ticker_folder(tmp_path))
    assert data.mapping.resolve("AAA", _d(2)).permtick == "AAA.1"
    assert data.mapping.resolve("AAA", _d(15)).permtick == "AAA"
    old, new = data.bars("AAA.1"), data.bars("AAA")
    assert list(old.dates) == list(DAYS[0:5].to_numpy().astype("datetime64[D]")) and set(old.close) == {10.0}
    assert list(new.dates) == list(DAYS[10:20].to_numpy().astype("datetime64[D]")) and set(new.close) == {50.0}
    assert data.map_file("AAA.1").delisted and data.map_file("AAA.1").last_date == _d(4)
    assert not data.map_file("AAA").delisted
    assert data.sid("AAA.1") == equity_sid("AAA", _d(0)) and data.sid("AAA") == equity_sid("AAA", _d(10))


def test_old_company_by_permtick_trades_and_is_delisted(tmp_path):
    """``add_equity("AAA.1")`` is the old company (``SecurityIdentifier.GenerateEquity`` resolves the map file),
    liquidated from delisting at 00:00 after its last date at its last price."""
    data = _reused_ticker_folder(tmp_path)
    body = textwrap.dedent("""
    class Algo(QCAlgorithm):
        def initialize(self):
            self.set_cash(100000)
            self.sym = self.add_equity("AAA.1", Resolution.DAILY).symbol

        def on_data(self, data):
            if not self.portfolio.invested and data.contains_key(self.sym):
                self.market_order(self.sym, 100)
    """)
    project = write_project(tmp_path / "root", "algo", HEADER + textwrap.indent(body, "    "))
    result = run_backtest(project, data_dir=data, start=str(_d(1)), end=str(_d(8)), progress=False, write=False)
    buy, delisting = [o for o in result.record.orders if o.status == OrderStatus.FILLED]
    assert buy.fill_price == 10.0 and delisting.tag == "Liquidate from delisting"
    assert delisting.fill_time == _at(5) and delisting.fill_price == 10.0


# --- 3. the API surface --------------------------------------------------------------------------------------

def test_every_name_lean_imports_resolves():
    """Every public name ``from AlgorithmImports import *`` binds in LEAN (quantconnect-stubs'
    ``AlgorithmImports/__init__.pyi``) is bound by the runner's AlgorithmImports."""
    from lean_local import algorithm_imports

    stubs = algorithm_imports_namespace()
    assert stubs is not None and len(stubs.names) > 3000
    missing = [name for name in stubs.names if not hasattr(algorithm_imports, name)]
    assert missing == []
    for name in ("Slice", "OrderType", "Symbol", "QCAlgorithm", "np", "pd", "plt", "datetime", "Exception"):
        assert hasattr(algorithm_imports, name)
    assert algorithm_imports.Exception is Exception and algorithm_imports.List is typing.List


def test_enums_carry_lean_values():
    """The runner's enums have every member of LEAN's, with LEAN's values (quantconnect-stubs)."""
    from lean_local import algorithm_imports as ai

    stubs = algorithm_imports_namespace()
    for name in ("OrderType", "OrderStatus", "OrderDirection", "Resolution", "SecurityType", "DataNormalizationMode",
                 "SplitType", "DelistingType", "MovingAverageType"):
        assert {m.name: m.value for m in getattr(ai, name)} == stubs.enums[name], name
    assert ai.OrderType.LIMIT == 1


def test_placeholders_allow_mentions_and_refuse_use():
    """A LEAN type the runner lacks can be named (annotations, generics, base classes, isinstance) but not used."""
    sma = unsupported_type("QuantConnect.Indicators", "SimpleMovingAverage")
    assert typing.Optional[sma] is not None and sma[float] is sma and (sma | None) is not None
    assert not isinstance(3, sma)
    with pytest.raises(UnsupportedMemberError, match="QuantConnect.Indicators.SimpleMovingAverage"):
        sma(10)
    with pytest.raises(UnsupportedMemberError, match="SimpleMovingAverage.current"):
        sma.current

    class Mine(sma):  # a framework subclass is defined fine, and fails where it is built
        pass

    with pytest.raises(UnsupportedMemberError, match="SimpleMovingAverage"):
        Mine()


ANNOTATED = """
from AlgorithmImports import *


class MyAlpha(AlphaModel):
    pass


WINDOW: Optional[RollingWindow[float]] = None


class Algo(QCAlgorithm):
    def initialize(self) -> None:
        self.set_start_date(year=2020, month=1, day=2)
        self.set_end_date(end=datetime(2020, 1, 9))
        self.set_cash(starting_cash=100000)
        self.sym = self.add_equity(ticker="AAA", resolution=Resolution.DAILY).symbol
        self.indicator: Optional[SimpleMovingAverage] = None
        self.failures = {}
        for label, use in (("sma", lambda: SimpleMovingAverage(10)), ("transactions", lambda: self.transactions),
                           ("alpha", lambda: MyAlpha()), ("macd", lambda: self.macd("AAA", 12, 26, 9))):
            try:
                use()
            except NotImplementedError as error:  # lean_local's UnsupportedMemberError
                self.failures[label] = str(error)
        self.limit = OrderType.LIMIT

    def on_data(self, slice: Slice) -> None:
        if not self.portfolio.invested:
            self.set_holdings(symbol=self.sym, percentage=0.5, tag="buy")
"""


def test_an_algorithm_using_lean_names_runs_and_unsupported_uses_name_themselves(tmp_path):
    """Annotations with LEAN types, a framework base class, keyword calls with LEAN's parameter names: the run
    works; ``SimpleMovingAverage(...)``, ``self.transactions``, ``self.macd`` raise UnsupportedMemberError."""
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * 10)])
    project = write_project(tmp_path / "root", "algo", ANNOTATED)
    result = run_backtest(project, data_dir=data, progress=False, write=False)
    algo = result.algorithm
    assert set(algo.failures) == {"sma", "transactions", "alpha", "macd"}
    assert "SimpleMovingAverage" in algo.failures["sma"] and "transactions" in algo.failures["transactions"]
    assert algo.limit == 1 and algo.start_date == dt.datetime(2020, 1, 2)
    assert [o.tag for o in result.record.orders] == ["buy"]


def _our_methods() -> dict[str, typing.Callable]:
    out = {}
    for name, value in vars(QCAlgorithm).items():
        if not name.startswith("_") and inspect.isfunction(value):
            out[name] = value
    return out


def test_method_parameter_names_are_leans():
    """Every public QCAlgorithm method the runner implements exists in LEAN, takes no parameter name LEAN's
    overloads lack, and binds every overload of LEAN's by keyword (quantconnect-stubs ``QCAlgorithm``), so
    ``set_start_date(year=..., month=..., day=...)`` or ``set_holdings(symbol=..., percentage=...)`` work as in
    LEAN; arguments the runner cannot honour are accepted by name and refused with UnsupportedMemberError."""
    stubs = stub_overloads("QuantConnect.Algorithm", "QCAlgorithm")
    problems = []
    for name, fn in _our_methods().items():
        if name not in stubs:
            problems.append(f"{name}: not a LEAN method")
            continue
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())[1:]
        if any(p.kind == p.VAR_KEYWORD for p in params):  # *args may take positional forms, dispatched by type
            problems.append(f"{name}: **kwargs hides LEAN's parameter names")
        lean_names = {n for overload in stubs[name] for n in overload.names}
        invented = [p.name for p in params if p.name not in lean_names and p.kind != p.VAR_POSITIONAL]
        if invented:
            problems.append(f"{name}: parameters {invented} are not LEAN's ({sorted(lean_names)})")
        for overload in stubs[name]:
            try:
                signature.bind(None, **{n: object() for n in overload.names})
            except TypeError as error:
                problems.append(f"{name}{overload.names}: {error}")
    assert problems == []


def test_parameter_name_check_can_fail():
    """The check above flags an invented name and a missing overload."""
    stubs = stub_overloads("QuantConnect.Algorithm", "QCAlgorithm")

    def set_cash(self, cash):  # LEAN calls it starting_cash
        pass

    signature = inspect.signature(set_cash)
    lean_names = {n for overload in stubs["set_cash"] for n in overload.names}
    assert "cash" not in lean_names
    with pytest.raises(TypeError):
        signature.bind(None, **{n: object() for n in stubs["set_cash"][0].names})


def test_add_equity_without_resolution_warns_that_lean_subscribes_minute_data(tmp_path):
    """``DataManager.cs:635-660``: no resolution means ``UniverseSettings.Resolution``, MINUTE by default
    (``QCAlgorithm.cs:226``); with the universe settings at DAILY it is daily, and there is no warning."""
    body = """
    class Algo(QCAlgorithm):
        def initialize(self):
            self.add_equity("AAA")
            self.universe_settings.resolution = Resolution.DAILY
            self.add_equity("BBB")
    """
    result = _run(tmp_path, [bars("AAA", [10.0] * 10), bars("BBB", [10.0] * 10)], body, start=1, end=3)
    warnings = [w for w in result.record.warnings if "without a resolution" in w]
    assert len(warnings) == 1 and "'AAA'" in warnings[0] and "MINUTE" in warnings[0]


def test_a_security_that_leaves_and_rejoins_the_universe_is_seeded_afresh(tmp_path):
    """``Engine/DataFeeds/UniverseSelection.cs:495-514``: when a removed member's subscription ends (once it is
    no longer held), LEAN resets its cache, so on re-adding ``seed_initial_prices`` seeds it from the previous
    close. Keeping the old price instead sized the skeleton's orders on a price months out of date."""
    body = """
    class Algo(QCAlgorithm):
        def initialize(self):
            self.set_cash(100000)
            self.settings.seed_initial_prices = True
            self.universe_settings.resolution = Resolution.DAILY
            self.universe_settings.schedule.on(self.date_rules.week_start("SPY"))
            self.add_universe(self.universe.etf("SPY", self.universe_settings, self.select))
            self.added_at = []

        def select(self, constituents):
            away = date(2020, 2, 10) <= self.time.date() < date(2020, 3, 2)
            return [c.symbol for c in constituents if not (c.symbol.value == "BBB" and away)]

        def on_securities_changed(self, changes):
            for security in changes.removed_securities:
                self.liquidate(security.symbol)
            for security in changes.added_securities:
                self.added_at.append((self.time.date(), security.symbol.value, security.price))
                if self.time.date() < date(2020, 2, 10):
                    self.set_holdings(security.symbol, 0.4)
    """
    bbb = [10.0 if day < pd.Timestamp("2020-02-14") else 20.0 for day in DAYS]
    result = _run(tmp_path, [bars("AAA", [50.0] * len(DAYS)), bars("BBB", bbb)], body, start=2, end=len(DAYS) - 1)
    added = [(day, price) for day, ticker, price in result.algorithm.added_at if ticker == "BBB"]
    assert len(added) == 2 and added[0][0] < dt.date(2020, 2, 10) and added[1][0] == dt.date(2020, 3, 2)
    assert added[1][1] == 20.0  # February's last close, not the 10.0 it had when it left on February 10


# --- LEAN's published regression numbers, end to end -----------------------------------------------------------
