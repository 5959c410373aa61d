"""The project's own algorithms end to end: synthetic market invariants and the real dev data."""
from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from lean_local.data import lean_format as lf
from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.runner import run_backtest

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "algorithms" / "top100_baseline"
BUY_AND_HOLD = ROOT / "algorithms" / "spy_buy_and_hold"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=3)
    return out


@pytest.fixture(scope="module")
def baseline_run(synthetic, tmp_path_factory):
    return run_backtest(BASELINE, data_dir=synthetic, progress=False, output=tmp_path_factory.mktemp("bt"))


def test_cash_and_holdings_reconcile_with_the_fills(baseline_run):
    algo, record = baseline_run.algorithm, baseline_run.record
    filled = [o for o in record.orders if o.status.name == "FILLED"]
    assert len(filled) > 100
    cash = 1_000_000_000 - sum(o.quantity * o.fill_price + o.fee for o in filled)
    assert algo.portfolio.cash == pytest.approx(cash, rel=1e-12)
    quantities: dict[str, float] = defaultdict(float)
    for o in filled:
        quantities[o.symbol.value] += o.quantity
    for symbol, holding in algo.portfolio.items():
        assert holding.quantity == pytest.approx(quantities.get(symbol.value, 0.0))
    final = algo.portfolio.cash + sum(h.quantity * h.price for h in algo.portfolio.values())
    assert record.equity[-1][1] == pytest.approx(final)


def test_universe_changes_only_in_selection_months(baseline_run):
    holdings = pd.DataFrame(baseline_run.record.holdings, columns=["date", "symbol", "weight"])
    sets = holdings.groupby("date")["symbol"].apply(frozenset)
    changes = [d for prev, (d, cur) in zip(sets.iloc[:-1], sets.iloc[1:].items()) if cur - prev]
    assert changes, "the synthetic IPO should enter the universe at some quarter"
    assert all(pd.Timestamp(d).month in (1, 4, 7, 10) for d in changes)
    # About 1% each right after a rebalance: sized on the previous close, filled at the day's close.
    first_day = holdings[holdings.date == holdings.date.min()]
    assert len(first_day) == 100
    assert 0.98 < first_day.weight.sum() <= 1.0
    assert first_day.weight.between(0.008, 0.012).all()


def test_delisting_and_outputs(baseline_run):
    out = baseline_run.output_dir
    stats = json.loads((out / "statistics.json").read_text())
    for key in ["Compounding Annual Return", "Sharpe Ratio", "Sortino Ratio", "Alpha", "Beta", "Drawdown",
                "Annual Standard Deviation", "Information Ratio", "Total Fees", "Portfolio Turnover", "Total Orders",
                "Net Profit", "Start Equity", "End Equity"]:
        assert isinstance(stats["algorithm"][key], float), key
    assert 0 < stats["algorithm"]["Drawdown"] < 1
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == ["date", "equity", "benchmark"]
    assert stats["algorithm"]["End Equity"] == pytest.approx(equity.equity.iloc[-1])
    run = json.loads((out / "run.json").read_text())
    assert run["packages"]["pandas"] == "2.3.3" and run["data_folder"]
    assert (out / "equity.png").stat().st_size > 10_000
    orders = pd.read_csv(out / "orders.csv", keep_default_na=False)
    delisted_on = baseline_run.algorithm._engine.data.map_file("DLST").last_date
    late = orders[(orders.symbol == "DLST") & (pd.to_datetime(orders.time).dt.date > delisted_on)]
    assert set(late.tag) <= {"Liquidate from delisting"}
    holdings = pd.read_csv(out / "holdings.csv")
    assert not ((holdings.symbol == "DLST") & (pd.to_datetime(holdings.date).dt.date > delisted_on)).any()


def test_universe_ticker_without_price_file_is_reported_and_skipped(synthetic, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    first_file = sorted(lf.universe_dir(data).glob("*.csv"))[100]
    top = lf.read_universe_file(first_file)[0].ticker
    lf.daily_path(data, top).unlink()
    result = run_backtest(BASELINE, data_dir=data, progress=False, write=False)
    assert top in result.record.skipped_symbols
    assert top not in {s for _, s, _ in result.record.holdings}
    assert len(result.record.equity) > 500


@pytest.mark.slow
def test_spy_buy_and_hold_reproduces_spy_total_return(dev_lean_folder, dev_data):
    result = run_backtest(BUY_AND_HOLD, data_dir=dev_lean_folder, progress=False, write=False)
    spy = pd.read_csv(dev_data / "spy_daily_1993_2018.csv", parse_dates=["date"]).set_index("date")["close"]
    direct = spy.loc["2018-12-31"] / spy.loc["2009-06-01"] - 1.0
    ours = result.statistics["algorithm"]["Net Profit"]
    assert abs(ours - direct) < 0.005, (ours, direct)
    assert result.statistics["benchmark"]["Net Profit"] == pytest.approx(direct, abs=1e-4)


@pytest.mark.slow
def test_top100_baseline_on_real_data(dev_lean_folder):
    result = run_backtest(BASELINE, data_dir=dev_lean_folder, progress=False, write=False)
    stats = result.statistics["algorithm"]
    assert 0.5 < stats["Beta"] < 1.5 and stats["Total Orders"] > 500
    assert result.record.equity[0][0].isoformat() == "2009-06-01"
    assert max(pd.DataFrame(result.record.holdings, columns=["d", "s", "w"]).groupby("d").s.count()) <= 100
