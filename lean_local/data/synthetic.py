"""A deterministic synthetic market in LEAN's format, for a fresh clone without ../shared.

About 150 tickers driven by one market factor and five sector factors, with 2:1 splits, quarterly
cash dividends, one delisting (``DLST``), one IPO (``IPOX``) and SPY as the index. The market is
written as vendor CSVs (raw prices with events) and converted by the same importer as real data,
so it exercises the whole path.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .importer import import_data

N_TICKERS = 150
N_SECTORS = 5


def _tickers(n: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for i in range(n):
        a, b = divmod(i, 26)
        out.append(f"S{letters[a % 26]}{letters[b]}")
    return out


def synthetic_frames(seed: int, start: str, end: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(prices in the events layout, membership spells, SPY benchmark) as DataFrames."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, end)
    t = len(dates)
    tickers = _tickers(N_TICKERS - 2) + ["DLST", "IPOX"]
    market = rng.normal(0.0006, 0.011, t)
    sectors = rng.normal(0.0, 0.006, (t, N_SECTORS))
    beta = rng.uniform(0.6, 1.4, N_TICKERS)
    sector = rng.integers(0, N_SECTORS, N_TICKERS)
    idio = rng.normal(0.0, 0.015, (t, N_TICKERS))
    total_return = market[:, None] * beta + sectors[:, sector] + idio
    first = np.zeros(N_TICKERS, dtype=int)
    last = np.full(N_TICKERS, t - 1)
    last[-2] = t // 2  # DLST is delisted half way
    first[-1] = t // 3  # IPOX lists a third of the way in
    rows = []
    for j, ticker in enumerate(tickers):
        price = rng.uniform(20, 200)
        size = rng.lognormal(14, 1.0)
        split_day = int(rng.integers(t // 4, 3 * t // 4)) if j % 10 == 0 else -1
        pays = j % 3 == 0
        for i in range(first[j], last[j] + 1):
            split = 2.0 if i == split_day else 1.0
            dividend = 0.0
            if i > first[j]:
                new = price * (1.0 + total_return[i, j])
                if pays and dates[i].month in (3, 6, 9, 12) and dates[i - 1].month != dates[i].month:
                    dividend = round(0.006 * price, 4)  # ex-date: the first trading day of the quarter's last month
                price = max(new - dividend, 0.5) / split
            close = price
            spread = abs(rng.normal(0, 0.01))
            open_ = close * (1 + rng.normal(0, 0.004))
            high = max(open_, close) * (1 + spread)
            low = min(open_, close) * (1 - spread)
            volume = size * split_factor_volume(i, split_day) * rng.lognormal(0, 0.3)
            rows.append((dates[i], ticker, round(open_, 4), round(high, 4), round(low, 4), round(close, 4),
                         int(volume), dividend, split))
    prices = pd.DataFrame(rows, columns=["date", "ticker", "open", "high", "low", "close", "volume",
                                         "dividend_amount", "split_coefficient"])
    members = pd.DataFrame({"ticker": tickers, "start_date": [str(dates[0].date())] * N_TICKERS,
                            "end_date": [""] * N_TICKERS})
    members.loc[members.ticker == "DLST", "end_date"] = str(dates[last[-2]].date())
    members.loc[members.ticker == "IPOX", "start_date"] = str(dates[min(first[-1] + 63, t - 1)].date())
    index_level = 100.0 * np.cumprod(1.0 + market)
    bench = pd.DataFrame({"date": dates, "ticker": "SPY", "open": index_level * (1 + rng.normal(0, 0.002, t)),
                          "high": index_level * 1.004, "low": index_level * 0.996, "close": index_level,
                          "volume": rng.lognormal(18, 0.2, t).astype(int), "dividends": 0.0,
                          "stock_splits": 0.0, "capital_gains": 0.0})
    bench["high"] = bench[["open", "high", "close"]].max(axis=1)
    bench["low"] = bench[["open", "low", "close"]].min(axis=1)
    quarter_start = (bench["date"].dt.month.isin([3, 6, 9, 12])) & (bench["date"].dt.month != bench["date"].shift().dt.month)
    bench.loc[quarter_start, "dividends"] = (0.004 * bench.loc[quarter_start, "close"]).round(4)
    return prices, members, bench


def split_factor_volume(i: int, split_day: int) -> float:
    """Share volume doubles after a 2:1 split (dollar volume is unchanged)."""
    return 2.0 if 0 <= split_day <= i else 1.0


def write_synthetic_market(out: str | Path, seed: int = 7, start: str = "2009-01-02", end: str = "2012-12-31") -> dict:
    prices, members, bench = synthetic_frames(seed, start, end)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.csv" for name in ("prices", "members", "spy")}
        prices.assign(date=prices["date"].dt.strftime("%Y-%m-%d")).to_csv(paths["prices"], index=False)
        members.to_csv(paths["members"], index=False)
        bench.assign(date=bench["date"].dt.strftime("%Y-%m-%d")).to_csv(paths["spy"], index=False)
        report = import_data(paths["prices"], paths["members"], paths["spy"], out)
    return {"tickers": report.tickers_written, "start": start, "end": end, "seed": seed}
