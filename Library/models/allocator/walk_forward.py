"""The algorithm's monthly loop without an engine, for research notebooks and experiments.

Same timing as ``algorithms/perl_portfolio``: at decision day D the features use bars up to D-1;
the portfolio is bought at D's close and held to the next decision day's close; the learner is
updated at the end of D's month with returns from D's close to the month's last close. No fees,
no share rounding, no minimum order size: use the local runner (or LEAN) for the real figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ..features import indicator_panel, selected_features, warmup_bars
from ..returns import holding_period_returns
from ..universe import decision_days, point_in_time_universes
from .learner import OnlineAllocator
from .loss import entropy

import torch


@dataclass
class MonthInputs:
    decision: pd.Timestamp
    symbols: list[Hashable]
    features: np.ndarray  # (N, lookback, F)
    mask: np.ndarray  # (N, lookback)
    label: pd.Series  # D close -> last close of D's month (what the learner sees)
    held: pd.Series  # D close -> next decision's close (what the portfolio earns)


def month_inputs(history: pd.DataFrame, universes: Mapping[pd.Timestamp, Sequence[Hashable]], lookback: int,
                 feature_names: Sequence[str]) -> Iterator[MonthInputs]:
    """Features and realised returns of each decision day, from one LEAN-shaped history frame."""
    bars = warmup_bars(feature_names) + lookback + 5
    closes = history["close"].unstack(0)
    closes.index = pd.DatetimeIndex(closes.index).normalize()
    days = sorted(universes)
    for day, following in zip(days, days[1:] + [None]):
        members = [s for s in universes[day] if s in closes.columns]
        times = history.index.get_level_values("time")
        past = history[(times.normalize() < day) & history.index.get_level_values("symbol").isin(members)]
        past = past.groupby(level="symbol", sort=False).tail(bars)
        if past.empty:
            continue
        panel = indicator_panel(past, list(feature_names)).window(lookback)
        month_end = day + pd.offsets.MonthEnd(0)
        prices = closes[panel.symbols]
        label = holding_period_returns(prices[prices.index <= month_end], day)
        held = holding_period_returns(prices[prices.index <= following] if following is not None else prices, day)
        yield MonthInputs(day, panel.symbols, panel.values, panel.mask, label, held)


def research_months(qb: Any, data_folder: str | Path, start: str, end: str, lookback: int, resolution: Any,
                    size: int = 100, benchmark: str = "SPY") -> tuple[list[MonthInputs], pd.Series]:
    """Month inputs for the skeleton's universe through a QuantBook (LEAN's, or lean_local's), and the
    benchmark's daily closes. Starts once the indicators are warm, so short data (CI's synthetic market) works.

    ``resolution``: ``Resolution.DAILY`` from the caller (this package imports nothing from LEAN).
    """
    names = selected_features()
    bars_needed = warmup_bars(names) + lookback + 5
    symbol = qb.add_equity(benchmark, resolution).symbol
    closes = qb.history(symbol, pd.Timestamp(start) - pd.Timedelta(days=400),
                        pd.Timestamp(end) + pd.Timedelta(days=40), resolution).loc[symbol]["close"]
    closes.index = pd.DatetimeIndex(closes.index).normalize()
    warm = closes.index[min(len(closes) - 1, bars_needed)]
    days = decision_days(closes.index, str(max(pd.Timestamp(start), warm).date()),
                         str(min(pd.Timestamp(end), closes.index[-1]).date()))
    universes = point_in_time_universes(data_folder, days, size)
    tickers = sorted({t for members in universes.values() for t in members})
    for ticker in tickers:
        qb.add_equity(ticker, resolution)
    history = qb.history(tickers, days[0] - pd.Timedelta(days=int(bars_needed * 1.6) + 30),
                         days[-1] + pd.Timedelta(days=40), resolution)
    history = history.rename(index=lambda s: getattr(s, "value", s), level="symbol")
    return list(month_inputs(history, universes, lookback, names)), closes


def run_online(learner: OnlineAllocator, months: Sequence[MonthInputs]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Allocate and learn month by month; returns (per-month summary, weights by month x symbol)."""
    rows, weights_by_month = [], {}
    previous = pd.Series(dtype=float)
    for m in months:
        weights = pd.Series(learner.allocate(m.features, m.mask, m.symbols), index=m.symbols)
        report = learner.learn(m.label.to_dict())
        held = m.held.reindex(m.symbols).fillna(0.0)
        present = weights > 0
        union = weights.index.union(previous.index)
        turnover = 0.5 * float((weights.reindex(union, fill_value=0) - previous.reindex(union, fill_value=0)).abs().sum())
        rows.append({"decision": m.decision, "portfolio_return": float((weights * held).sum()),
                     "equal_weight_return": float(held[present].mean()) if present.any() else 0.0,
                     "entropy": float(entropy(torch.as_tensor(weights.to_numpy()))),
                     "effective_n": float(1.0 / (weights ** 2).sum()) if present.any() else 0.0,
                     "max_weight": float(weights.max()), "turnover": turnover, "loss": report.loss,
                     "skipped_steps": report.skipped})
        weights_by_month[m.decision] = weights
        previous = weights
    summary = pd.DataFrame(rows).set_index("decision")
    return summary, pd.DataFrame(weights_by_month).T.fillna(0.0)
