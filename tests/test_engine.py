"""The local engine on markets whose P&L can be worked out by hand."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lean_local.engine.errors import UnsupportedMemberError
from lean_local.engine.runner import run_backtest

from markets import DAYS, bars, write_market, write_project

SINGLE = """
    from AlgorithmImports import *

    class Single(QCAlgorithm):
        def initialize(self):
            self.set_start_date({start})
            self.set_end_date({end})
            self.set_cash(100000)
            self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
            self.schedule.on(self.date_rules.every_day("SPY"), self.time_rules.after_market_open("SPY", 30), self.buy)

        def buy(self):
            if not self.portfolio.invested:
                self.set_holdings(self.sym, 0.5)
"""


def _single(tmp_path, frames, start=1, end=6, **kw):
    data = write_market(tmp_path / "m", frames)
    s, e = DAYS[start], DAYS[end]
    project = write_project(tmp_path / "root", "single", SINGLE.format(start=f"{s.year}, {s.month}, {s.day}",
                                                                     end=f"{e.year}, {e.month}, {e.day}"))
    return run_backtest(project, data_dir=data, progress=False, write=False, **kw)


def _equity(result):
    return {d: v for d, v, _ in result.record.equity}


def test_fill_at_the_close_with_ib_fees_by_hand(tmp_path):
    result = _single(tmp_path, [bars("AAA", [10, 10, 10, 12, 12, 15, 15])])
    (order,) = [o for o in result.record.orders if o.status.name == "FILLED"]
    # Day 1 10:00: AAA has no price yet (LEAN: zero price, target skipped). Day 2 10:00: sized on
    # day 1's close, TPV 100000 x 0.5 x 0.9975 less the fee -> 4986 shares, filled at day 2's close.
    assert order.quantity == 4986 and order.fill_price == 10 and order.fill_time.date() == DAYS[2].date()
    assert order.fee == pytest.approx(0.005 * 4986)
    cash = 100000 - 4986 * 10 - 0.005 * 4986
    equity = _equity(result)
    assert equity[DAYS[2].date()] == pytest.approx(cash + 4986 * 10)
    assert equity[DAYS[3].date()] == pytest.approx(cash + 4986 * 12)
    assert equity[DAYS[5].date()] == pytest.approx(cash + 4986 * 15)
    assert result.algorithm.portfolio.cash == pytest.approx(cash)
    assert any("price is zero" in m for m in result.algorithm._messages)


def test_last_price_fill_timing_fills_at_the_previous_close(tmp_path):
    result = _single(tmp_path, [bars("AAA", [10, 10, 11, 12, 12, 15, 15])], fill_timing="last-price")
    (order,) = [o for o in result.record.orders if o.status.name == "FILLED"]
    assert order.fill_price == 10 and order.fill_time == dt.datetime.combine(DAYS[2].date(), dt.time(10, 0))


def test_minimum_fee_is_one_dollar(tmp_path):
    result = _single(tmp_path, [bars("AAA", [1000.0] * 7)])
    (order,) = [o for o in result.record.orders if o.status.name == "FILLED"]
    assert order.quantity == 49 and order.fee == 1.0


def test_split_leaves_equity_unchanged_in_adjusted_mode(tmp_path):
    result = _single(tmp_path, [bars("AAA", [100, 100, 100, 50, 50, 50, 50], splits={3: 2.0})])
    equity = _equity(result)
    assert equity[DAYS[2].date()] == pytest.approx(equity[DAYS[3].date()]) == pytest.approx(equity[DAYS[6].date()])
    assert result.algorithm.portfolio["AAA"].quantity > 0


def test_dividend_shows_up_as_total_return(tmp_path):
    # Raw close stays 100 through a 2.00 dividend: the adjusted price before the ex-date is 98.
    result = _single(tmp_path, [bars("AAA", [100.0] * 7, dividends={4: 2.0})])
    (order,) = [o for o in result.record.orders if o.status.name == "FILLED"]
    assert order.fill_price == pytest.approx(98.0)
    equity = _equity(result)
    gain = equity[DAYS[4].date()] - equity[DAYS[3].date()]
    assert gain == pytest.approx(order.quantity * 2.0)


def test_delisted_holding_is_liquidated_at_the_last_price(tmp_path):
    result = _single(tmp_path, [bars("AAA", [10, 10, 10, 11, 13])], end=8)
    filled = [o for o in result.record.orders if o.status.name == "FILLED"]
    assert [o.tag for o in filled] == ["", "Liquidate from delisting"]
    liquidation = filled[1]
    assert liquidation.fill_price == 13 and liquidation.fee == 0
    assert liquidation.time.date() == DAYS[5].date()  # 00:00 of the next trading day after the last bar
    assert not result.algorithm.portfolio.invested
    equity = _equity(result)
    assert equity[DAYS[5].date()] == pytest.approx(equity[DAYS[4].date()])
    assert any("delisted" in w for w in result.record.warnings)


HISTORY = """
    from AlgorithmImports import *

    class Hist(QCAlgorithm):
        def initialize(self):
            self.set_start_date(2020, 1, 13)
            self.set_end_date(2020, 1, 15)
            self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
            self.seen = []
            self.schedule.on(self.date_rules.every_day("SPY"), self.time_rules.after_market_open("SPY", 30), self.look)
            self.schedule.on(self.date_rules.every_day("SPY"), self.time_rules.at(17, 0), self.look)

        def look(self):
            self.seen.append((self.time, self.history([self.sym, "SPY"], 3, Resolution.DAILY)))
"""


def test_history_shape_and_no_look_ahead(tmp_path):
    closes = [10.0 + i for i in range(20)]
    data = write_market(tmp_path / "m", [bars("AAA", closes)])
    project = write_project(tmp_path / "root", "hist", HISTORY)
    result = run_backtest(project, data_dir=data, progress=False, write=False)
    seen = result.algorithm.seen
    at_ten, at_five = seen[0][1], seen[1][1]
    assert list(at_ten.index.names) == ["symbol", "time"]
    assert list(at_ten.columns) == ["close", "high", "low", "open", "volume"]
    assert at_ten.shape == (6, 5) and at_ten.dtypes.eq(np.float64).all()
    aaa = at_ten.loc["AAA"]
    # At 10:00 on 2020-01-13 the newest bar is Friday 2020-01-10's, stamped at its 16:00 close.
    assert aaa.index[-1] == pd.Timestamp("2020-01-10 16:00")
    assert (aaa.index <= pd.Timestamp(seen[0][0])).all()
    friday = DAYS.get_loc(pd.Timestamp("2020-01-10"))
    assert aaa["close"].tolist() == closes[friday - 2:friday + 1]
    # After the close the day's own bar is visible.
    assert at_five.loc["AAA"].index[-1] == pd.Timestamp("2020-01-13 16:00")
    for when, frame in seen:
        assert (frame.index.get_level_values("time") <= pd.Timestamp(when)).all()


def test_history_past_is_unchanged_by_future_data(tmp_path):
    short = write_market(tmp_path / "short", [bars("AAA", [10.0 + i for i in range(12)])])
    long_ = write_market(tmp_path / "long", [bars("AAA", [10.0 + i for i in range(40)])])
    project = write_project(tmp_path / "root", "hist", HISTORY)
    a = run_backtest(project, data_dir=short, progress=False, write=False).algorithm.seen
    b = run_backtest(project, data_dir=long_, progress=False, write=False).algorithm.seen
    pd.testing.assert_frame_equal(a[0][1], b[0][1])


def test_unsupported_member_names_itself(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * 5)])
    project = write_project(tmp_path / "root", "bad", """
        from AlgorithmImports import *

        class Bad(QCAlgorithm):
            def initialize(self):
                self.add_crypto("BTCUSD")
    """)
    with pytest.raises(UnsupportedMemberError, match=r"QCAlgorithm.add_crypto is part of LEAN but not supported"):
        run_backtest(project, data_dir=data, progress=False, write=False)


def test_project_without_main_py(tmp_path):
    (tmp_path / "lean.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="does not contain a main.py"):
        run_backtest(tmp_path / "empty", data_dir=tmp_path, progress=False, write=False)


STORE = """
    from AlgorithmImports import *

    class Store(QCAlgorithm):
        def initialize(self):
            self.set_start_date(2020, 1, 2)
            self.set_end_date(2020, 1, 3)
            self.previous = self.object_store.read("runs/count.txt") if self.object_store.contains_key("runs/count.txt") else "0"
            self.object_store.save("runs/count.txt", str(int(self.previous) + 1))
            self.lookback = self.get_parameter("lookback", 21)
            self.rate = self.get_parameter("rate", 0.5)
            self.name = self.get_parameter("name")
            try:
                self.object_store.save_bytes("lora.v2.pt", b"x")
            except ValueError as exc:
                self.rejected = str(exc)
"""


def test_object_store_persists_and_rejects_keys_lean_rejects(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * 5)])
    project = write_project(tmp_path / "root", "store", STORE, parameters={"lookback": "63", "name": "x"})
    first = run_backtest(project, data_dir=data, progress=False, write=False).algorithm
    assert first.previous == "0" and "path is not supported" in first.rejected
    assert (tmp_path / "root" / "storage" / "runs" / "count.txt").read_text() == "1"
    assert first.lookback == 63 and isinstance(first.lookback, int) and first.rate == 0.5 and first.name == "x"
    # --parameter replaces config.json's parameters as a whole, like the LEAN CLI.
    second = run_backtest(project, data_dir=data, progress=False, write=False, parameters={"rate": "0.25"}).algorithm
    assert second.previous == "1" and second.lookback == 21 and second.rate == 0.25 and second.name is None


def test_market_on_open_from_on_data_fills_at_next_open(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10, 10, 10, 10, 10], opens=[9, 9, 9, 11, 9])])
    project = write_project(tmp_path / "root", "moo", """
        from AlgorithmImports import *

        class Moo(QCAlgorithm):
            def initialize(self):
                self.set_start_date(2020, 1, 2)
                self.set_end_date(2020, 1, 7)
                self.set_cash(100000)
                self.sym = self.add_equity("AAA", Resolution.DAILY).symbol

            def on_data(self, data):
                if not self.portfolio.invested and data.contains_key(self.sym) and self.time.day == 3:
                    self.market_order(self.sym, 100)
    """)
    result = run_backtest(project, data_dir=data, progress=False, write=False)
    (order,) = result.record.orders
    assert order.type.name == "MARKET_ON_OPEN" and order.fill_price == 11
    assert order.fill_time.date() == DAYS[3].date()


def test_a_typo_is_an_attribute_error_not_a_lean_gap(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * 5)])
    project = write_project(tmp_path / "root", "typo", """
        from AlgorithmImports import *

        class Typo(QCAlgorithm):
            def initialize(self):
                self.set_strat_date(2020, 1, 2)
    """)
    with pytest.raises(AttributeError, match="nor has LEAN's API"):
        run_backtest(project, data_dir=data, progress=False, write=False)


def test_train_schedules_warm_up_and_rules(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * len(DAYS))])
    project = write_project(tmp_path / "root", "train", """
        from AlgorithmImports import *

        class Train(QCAlgorithm):
            def initialize(self):
                self.set_start_date(2020, 1, 15)
                self.set_end_date(2020, 3, 31)
                self.sym = self.add_equity("AAA", Resolution.DAILY).symbol
                self.set_warm_up(5, Resolution.DAILY)
                self.calls = []
                self.train(self.date_rules.month_end("SPY"), self.time_rules.at(20, 0), lambda: self.calls.append(("train", self.time)))
                self.schedule.on(self.date_rules.week_start("SPY"), self.time_rules.before_market_close("SPY", 10),
                                 lambda: self.calls.append(("week", self.time, self.is_warming_up)))
                self.train(lambda: self.calls.append(("now", self.time)))

            def on_warmup_finished(self):
                self.calls.append(("warm", self.time))
                self.market_order(self.sym, 10)
    """)
    algo = run_backtest(project, data_dir=data, progress=False, write=False).algorithm
    trains = [c[1] for c in algo.calls if c[0] == "train"]
    assert trains == [dt.datetime(2020, 1, 31, 20), dt.datetime(2020, 2, 28, 20), dt.datetime(2020, 3, 31, 20)]
    weeks = [c for c in algo.calls if c[0] == "week"]
    # Warm-up covers the 5 trading days before the start (Jan 8-14); the first week_start in it is Monday Jan 13,
    # not the warm-up's first day (a rule counts whole weeks, as in LEAN).
    assert weeks[0][1] == dt.datetime(2020, 1, 13, 15, 50) and weeks[0][2] is True
    assert all(c[1].weekday() == 0 and not c[2] for c in weeks[1:])
    assert [c[0] for c in algo.calls][:1] == ["now"] and ("warm", dt.datetime(2020, 1, 15)) in algo.calls
    assert algo.portfolio["AAA"].quantity == 10
