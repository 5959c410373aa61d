"""LEAN's statistic names computed with QuantStats (in the LEAN image), conventions stated.

Conventions: daily returns of the trading-day equity samples (LEAN also samples weekends as zero
returns, which lowers its annualised volatility); 252 periods a year; risk-free rate 0 (LEAN uses
the Fed primary credit rate, which the data folder lacks); compounding CAGR over
``len(returns) / 252`` years (QuantStats); Alpha = QuantStats' daily alpha x 252; Information
Ratio = QuantStats' daily ratio x sqrt(252). All values are fractions, not percent strings.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import quantstats as qs

PERIODS = 252
CONVENTIONS = {
    "periods_per_year": PERIODS,
    "risk_free_rate": 0.0,
    "returns": "daily, trading days only (LEAN adds zero-return weekends)",
    "compounding": "CAGR = (end/start)^(252/N) - 1 over N daily returns (quantstats.stats.cagr)",
    "drawdown": "max peak-to-trough of the daily equity (quantstats.stats.max_drawdown), as a positive fraction",
    "alpha": "annualised: quantstats daily alpha x 252",
    "information_ratio": "annualised: quantstats daily information ratio x sqrt(252)",
    "portfolio_turnover": "mean over trading days of |value traded| / portfolio value",
    "library": f"quantstats {qs.__version__}",
}


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def series_statistics(equity: pd.Series, benchmark: pd.Series | None = None) -> dict[str, float | None]:
    """Return-based statistics of an equity curve, optionally against a benchmark price series."""
    returns = equity.pct_change().dropna()
    stats: dict[str, float | None] = {
        "Start Equity": _num(equity.iloc[0]),
        "End Equity": _num(equity.iloc[-1]),
        "Net Profit": _num(equity.iloc[-1] / equity.iloc[0] - 1.0),
    }
    if len(returns) < 2:
        return stats
    stats.update({
        "Compounding Annual Return": _num(qs.stats.cagr(returns, periods=PERIODS)),
        "Sharpe Ratio": _num(qs.stats.sharpe(returns, periods=PERIODS)),
        "Sortino Ratio": _num(qs.stats.sortino(returns, periods=PERIODS)),
        "Drawdown": _num(-qs.stats.max_drawdown(equity)),
        "Annual Standard Deviation": _num(qs.stats.volatility(returns, periods=PERIODS)),
    })
    if benchmark is not None:
        bench = benchmark.pct_change().dropna().reindex(returns.index).fillna(0.0)
        greeks = qs.stats.greeks(returns, bench, periods=PERIODS)
        stats["Alpha"] = _num(greeks["alpha"])
        stats["Beta"] = _num(greeks["beta"])
        stats["Information Ratio"] = _num(qs.stats.information_ratio(returns, bench) * np.sqrt(PERIODS))
    return stats


def trading_statistics(orders: pd.DataFrame, equity: pd.Series) -> dict[str, float | None]:
    filled = orders[orders["status"] == "FILLED"] if len(orders) else orders
    if len(filled):
        traded = (filled["quantity"].abs() * filled["fill_price"]).groupby(pd.to_datetime(filled["fill_time"]).dt.normalize()).sum()
        turnover = (traded.reindex(equity.index, fill_value=0.0) / equity).mean()
        fees = float(filled["fee"].sum())
    else:
        turnover, fees = 0.0, 0.0
    return {"Total Fees": fees, "Total Orders": float(len(filled)), "Portfolio Turnover": _num(turnover)}
