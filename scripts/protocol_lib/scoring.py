"""One unit's per-date figures from what the model produced, in the shape both models share:

- ``signal``: dates x symbols, the model's prediction known at each date's close (NaN outside the universe);
  the allocator's are its monthly weights (their ranks are its scores' ranks), the ranker's are daily scores.
- ``weights``: decision days x symbols, the portfolio bought at the decision's close.
- ``held``: decision days x symbols, each member's return from the decision's close to the next decision's close
  (NaN where unknown: left out of the ICs, counted as 0 in the portfolios, as the models' research loops do).
- ``members``: decision days x symbols, True for the decision's universe (the baseline holds it equally).
- ``closes``: trading days x symbols, for the reversal controls and the next-day returns.

Everything per date reads that date's row (and, for the controls, earlier closes) only.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.evaluation import (effective_n, forward_returns, net_returns, partial_ic_series, rank_ic_series,
                               reversal_signals, turnover)


def controls_at(closes: pd.DataFrame, dates: pd.Index, symbols: pd.Index) -> dict[str, pd.DataFrame]:
    """1-day and 5-day reversal at each date's close, on the given dates and symbols."""
    return {name: frame.reindex(index=dates, columns=symbols) for name, frame in reversal_signals(closes).items()}


def ic_table(signal: pd.DataFrame, realised: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """Rank IC and partial rank IC (after 1- and 5-day reversal) per date."""
    controls = controls_at(closes, signal.index, signal.columns)
    return pd.DataFrame({"ic": rank_ic_series(signal, realised),
                         "partial_ic": partial_ic_series(signal, realised, controls)})


def universe_weights(members: pd.DataFrame) -> pd.DataFrame:
    """The research loop's top100_baseline: equal weights over each decision's members."""
    return members.astype(float).div(members.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)


def portfolio_table(weights: pd.DataFrame, held: pd.DataFrame, members: pd.DataFrame, cost: float) -> pd.DataFrame:
    """Per decision: gross/net return, turnover (with drift), effective N, and the same for the baseline.
    A member's missing holding-period return counts as 0, as in the models' research loops."""
    returns = held.fillna(0.0)
    w = weights.reindex(index=held.index, columns=held.columns).fillna(0.0)
    base = universe_weights(members.reindex(index=held.index, columns=held.columns, fill_value=False))
    out = pd.DataFrame({"gross": (w * returns).sum(axis=1), "turnover": turnover(w, returns),
                        "effective_n": effective_n(w), "baseline_gross": (base * returns).sum(axis=1),
                        "baseline_turnover": turnover(base, returns)})
    out["net"] = net_returns(out["gross"], out["turnover"], cost)
    out["baseline_net"] = net_returns(out["baseline_gross"], out["baseline_turnover"], cost)
    return out


def score_unit(closes: pd.DataFrame, cost: float, decision_signal: pd.DataFrame, decision_realised: pd.DataFrame,
               weights: pd.DataFrame, held: pd.DataFrame, members: pd.DataFrame, periods_per_year: int,
               daily_signal: pd.DataFrame | None = None) -> dict[str, Any]:
    """The unit's per-date series as JSON-ready columns (dates as ISO strings):

    - ``monthly``: IC and partial IC of the score at each decision against the decision-to-next-decision return;
    - ``daily`` (with ``daily_signal``): the same against the next day's return, every trading day;
    - ``portfolio``: per rebalance (``weights``' rows, ``held`` their holding-period returns, ``members`` the
      baseline's universe): returns, turnover, effective N, and the equal-weight baseline's."""
    monthly = ic_table(decision_signal, decision_realised, closes)
    monthly["names"] = decision_signal.notna().sum(axis=1)
    out = {"monthly": to_columns(monthly), "periods_per_year": periods_per_year,
           "portfolio": to_columns(portfolio_table(weights, held, members, cost))}
    if daily_signal is not None:
        realised = forward_returns(closes, 1).reindex(index=daily_signal.index, columns=daily_signal.columns)
        out["daily"] = to_columns(ic_table(daily_signal, realised, closes))
    return out


def period_returns(closes: pd.DataFrame, dates: pd.DatetimeIndex, members: pd.DataFrame) -> pd.DataFrame:
    """Each member's return from one date's close to the next date's close (the last date: NaN, not scored)."""
    start = closes.reindex(dates).to_numpy()
    following = np.vstack([closes.reindex(dates[1:]).to_numpy(), np.full((1, closes.shape[1]), np.nan)])
    out = pd.DataFrame(following / start - 1.0, index=dates, columns=closes.columns)
    return out.where(members.reindex(index=dates, columns=closes.columns, fill_value=False))


def to_columns(frame: pd.DataFrame) -> dict[str, list]:
    columns = {"date": [str(pd.Timestamp(d).date()) for d in frame.index]}
    for name in frame.columns:
        columns[name] = [None if not np.isfinite(v) else float(v) for v in frame[name].to_numpy(float)]
    return columns


def from_columns(columns: dict[str, list]) -> pd.DataFrame:
    frame = pd.DataFrame({k: v for k, v in columns.items() if k != "date"}, index=pd.DatetimeIndex(columns["date"]))
    return frame.astype(float)


def top_fraction_weights(scores: pd.Series, fraction: float) -> pd.Series:
    """The ranker's portfolio: equal weights on the highest ceil(fraction * n) scores (ties by position)."""
    from models.llm4fts.ranker import top_fraction

    scores = scores.dropna()
    picked = top_fraction(scores.to_numpy(), fraction)
    weights = pd.Series(0.0, index=scores.index)
    weights.iloc[picked] = 1.0 / max(len(picked), 1)
    return weights
