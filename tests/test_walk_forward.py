"""Labels, universes and the research loop: hand-computable returns and no look-ahead."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.quantbook import QuantBook
from lean_local.engine.symbols import Resolution
from models.allocator import AllocatorConfig, OnlineAllocator
from models.allocator.walk_forward import month_inputs, research_months, run_online
from models.universe import decision_days
from models.features import selected_features
from models.returns import holding_period_returns
from models.universe import point_in_time_universes, read_constituents


def test_holding_period_returns_by_hand():
    days = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]) + pd.Timedelta(hours=16)
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0, 13.0], "DELISTED": [20.0, 25.0, np.nan, np.nan],
                           "LATE": [np.nan, np.nan, 5.0, 6.0]}, index=days)
    r = holding_period_returns(closes, pd.Timestamp("2020-01-02"))
    assert r["A"] == pytest.approx(0.3) and r["DELISTED"] == pytest.approx(0.25) and np.isnan(r["LATE"])
    bounded = holding_period_returns(closes, pd.Timestamp("2020-01-02 10:00"), exit=pd.Timestamp("2020-01-03"))
    assert bounded["A"] == pytest.approx(0.1)
    # No look-ahead: appending later prices does not change a bounded period.
    more = pd.concat([closes, pd.DataFrame({"A": [99.0]}, index=[days[-1] + pd.Timedelta(days=1)])])
    assert holding_period_returns(more, pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-03")).equals(bounded)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=9, start="2010-01-04", end="2011-12-30")
    return out


def load(market: Path, cutoff: str | None = None):
    qb = QuantBook(market)
    spy = qb.add_equity("SPY").symbol
    closes = qb.history(spy, pd.Timestamp("2010-01-01"), pd.Timestamp("2012-01-01")).loc[spy]["close"]
    days = decision_days(closes.index, "2010-11-01", "2011-12-31")
    universes = point_in_time_universes(market, days, size=20)
    tickers = sorted({t for members in universes.values() for t in members})
    history = qb.history(tickers, pd.Timestamp("2010-01-01"), pd.Timestamp(cutoff or "2012-01-01"))
    history = history.rename(index=lambda s: getattr(s, "value", s), level="symbol")
    return universes, history


def test_universe_uses_the_previous_days_file_and_changes_only_quarterly(market):
    universes, _ = load(market)
    days = sorted(universes)
    assert all(len(universes[d]) == 20 for d in days)
    for prev, day in zip(days, days[1:]):
        if day.month not in (1, 4, 7, 10):
            assert universes[day] == universes[prev]
    folder = market / "equity/usa/universes/etf/spy"
    before = sorted(p for p in folder.glob("*.csv") if pd.Timestamp(p.stem) < days[0])[-1]
    ranked = sorted(((t, w) for t, w in read_constituents(before) if w), key=lambda tw: -tw[1])
    assert universes[days[0]] == [t for t, _ in ranked[:20]]


def test_month_inputs_do_not_change_when_future_data_is_appended(market):
    universes, full = load(market)
    _, cut = load(market, cutoff="2011-06-15")
    months_full = {m.decision: m for m in month_inputs(full, universes, 21, selected_features())}
    months_cut = [m for m in month_inputs(cut, universes, 21, selected_features())
                  if m.decision + pd.offsets.MonthEnd(0) < pd.Timestamp("2011-06-15")]
    assert len(months_cut) >= 6
    for m in months_cut:
        f = months_full[m.decision]
        assert m.symbols == f.symbols
        assert np.array_equal(m.features, f.features) and np.array_equal(m.mask, f.mask)
        pd.testing.assert_series_equal(m.label, f.label)


def test_the_research_loop_reports_sane_monthly_figures(market):
    months, closes = research_months(QuantBook(market), market, "2009-06-01", "2011-12-31", 21, Resolution.DAILY,
                                     size=20)
    assert months[0].decision > closes.index[0] + pd.Timedelta(days=200)  # waited for the warm-up
    assert all(len(m.symbols) <= 20 for m in months)
    config = AllocatorConfig(model_id="amazon/chronos-t5-tiny", weights="random", seed=1,
                             backbone_overrides={"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 4,
                                                 "d_kv": 8, "vocab_size": 64})
    summary, weights = run_online(OnlineAllocator.from_config(config), months)
    assert len(summary) == len(months) and np.allclose(weights.sum(axis=1), 1.0)
    assert (summary.entropy <= np.log(20) + 1e-9).all() and summary.turnover.between(0, 1).all()
    first = months[0]
    assert summary.equal_weight_return.iloc[0] == pytest.approx(first.held.reindex(first.symbols).fillna(0).mean())
