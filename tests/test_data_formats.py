"""LEAN file formats: round trips, factor files on hand-computed and real corporate actions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lean_local.data import factors as fx
from lean_local.data import lean_format as lf
from lean_local.data.vendor_csv import read_prices
from lean_local.engine.data_source import DataFolder

from markets import bars, write_market


def test_daily_zip_round_trip_to_lean_precision(tmp_path):
    frame = pd.DataFrame({"date": pd.to_datetime(["2020-01-02", "2020-01-03"]), "open": [10.12345, 11.0],
                          "high": [10.5, 11.5], "low": [9.99995, 10.9], "close": [10.2, 11.25], "volume": [100, 2000]})
    lf.write_daily_zip(tmp_path, "ABC", frame)
    back = lf.read_daily_zip(lf.daily_path(tmp_path, "ABC"))
    assert list(back.index) == list(frame["date"])
    # LEAN stores prices x 10000 as integers: the round trip is exact to 0.5e-4 dollars.
    np.testing.assert_allclose(back[["open", "high", "low", "close"]].to_numpy(),
                               frame[["open", "high", "low", "close"]].to_numpy(), atol=0.5e-4)
    text = lf.daily_path(tmp_path, "ABC").read_bytes()
    assert b"abc.csv" in text  # entry named after the lower-case ticker, as in LEAN's spy.zip


def test_factor_rows_for_a_split_and_a_dividend_by_hand():
    dates = pd.bdate_range("2020-01-01", periods=5).to_numpy()
    close = np.array([100.0, 100.0, 50.0, 50.0, 49.0])
    dividend = np.array([0, 0, 0, 0, 1.0])
    split = np.array([1, 1, 2.0, 1, 1])
    rows = fx.factors_from_events("X", dates, close, dividend, split)
    # Dividend of 1 on day 4 after a close of 50: bars up to day 3 scale by 0.98.
    # 2:1 split on day 2: bars up to day 1 also scale by 0.5.
    adj = close * fx.adjustment_for_dates(rows, dates)
    np.testing.assert_allclose(adj, [49.0, 49.0, 49.0, 49.0, 49.0])
    assert rows[-1].date.year == 2050 and rows[-1].price_factor == 1


def test_spin_off_booked_as_dividend_is_reported_not_fatal():
    dates = pd.bdate_range("2020-01-01", periods=3).to_numpy()
    skipped = []
    rows = fx.factors_from_events("KSU", dates, np.array([90.0, 92, 30]), np.array([0, 0, 181.0]), np.ones(3), skipped)
    assert len(skipped) == 1 and "KSU" in str(skipped[0]) and rows[0].price_factor == 1.0


def test_adjusted_layout_reproduces_adj_close_within_1e6(tmp_path):
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=300).to_numpy()
    close = 50 * np.cumprod(1 + rng.normal(0, 0.01, 300))
    factor = np.ones(300)
    for ex in (60, 150, 240):
        factor[:ex] *= 1 - 0.004
    adj = np.round(close * factor, 6)
    rows = fx.factors_from_adjusted_close(dates, close, adj)
    rebuilt = close * fx.adjustment_for_dates(rows, dates)
    np.testing.assert_allclose(rebuilt, adj, rtol=1e-6)
    assert len(rows) == 5  # a leading row at the first date, one row per dividend, the 2050 sentinel
    lf.write_factor_file(tmp_path, "Y", rows)
    again = close * fx.adjustment_for_dates(lf.read_factor_file(lf.factor_path(tmp_path, "Y")), dates)
    np.testing.assert_allclose(again, adj, rtol=1e-6)


def test_data_folder_serves_adjusted_prices(tmp_path):
    data = write_market(tmp_path, [bars("ABC", [100.0, 100.0, 50.0, 50.0], splits={2: 2.0})])
    folder = DataFolder(data)
    adjusted = folder.bars("ABC")
    np.testing.assert_allclose(adjusted.close, [50.0, 50.0, 50.0, 50.0])
    np.testing.assert_allclose(adjusted.volume, [2e6, 2e6, 1e6, 1e6])  # LEAN divides volume by the factor
    assert folder.bars("NOPE") is None and "NOPE" in folder.missing


def test_real_split_and_dividends_match_vendor_adjusted_returns(dev_data, tmp_path):
    """AAPL 1999-2018 (splits 2000, 2005, 2014 7:1, dividends from 2012): our factors vs AlphaVantage's adjusted close."""
    table = read_prices(dev_data / "alphavantage_raw_ohlcv_1999_2018.csv.gz")
    aapl = table.frame[table.frame.ticker == "AAPL"].reset_index(drop=True)
    vendor_all = pd.read_csv(dev_data / "alphavantage_raw_ohlcv_1999_2018.csv.gz", usecols=["date", "ticker", "adjusted_close"])
    vendor_aapl = vendor_all[vendor_all.ticker == "AAPL"].reset_index(drop=True)
    assert (pd.to_datetime(vendor_aapl.date) == aapl.date).all()
    rows = fx.factors_from_events("AAPL", aapl.date.to_numpy(), aapl.close.to_numpy(), aapl.dividend_amount.to_numpy(),
                                  aapl.split_coefficient.to_numpy())
    ours = aapl.close.to_numpy() * fx.adjustment_for_dates(rows, aapl.date.to_numpy())
    vendor = vendor_aapl.adjusted_close.to_numpy()
    # Both are total-return series on different final scales: daily returns must agree.
    np.testing.assert_allclose(np.diff(np.log(ours)), np.diff(np.log(vendor)), atol=2e-4)


def test_benchmark_reconstruction_matches_lean_spy_sample(dev_lean_folder, dev_data):
    """Our SPY (rebuilt from the total-return CSV and its dividends) against LEAN's own sample files."""
    ours = DataFolder(dev_lean_folder).bars("SPY")
    sample_root = dev_data / "lean_spy_sample"
    raw = lf.read_daily_zip(sample_root / "daily" / "spy.zip")
    sample_rows = lf.read_factor_file(sample_root / "factor_files" / "spy.csv")
    d = raw.index.to_numpy().astype("datetime64[D]")
    lean_adj = pd.Series(raw["close"].to_numpy() * fx.adjustment_for_dates(sample_rows, d), index=d)
    mine = pd.Series(ours.close, index=ours.dates)
    both = pd.concat([mine, lean_adj], axis=1, join="inner").loc["2010":"2018"]
    r = np.log(both).diff().dropna()
    # LEAN's sample is demo-quality (closes differ by up to 2.8% on a few days): compare 2010-2018 growth.
    growth = np.exp(r.sum())
    assert abs(growth.iloc[0] / growth.iloc[1] - 1) < 0.01
    assert r.corr().iloc[0, 1] > 0.999
