"""Reference allocators: trailing daily returns (dates x symbols) -> long-only weights that sum to 1.

Inverse volatility, minimum variance and hierarchical risk parity are skfolio 0.7.0 estimators (in the
LEAN image); 12-1 momentum is a ranking, so plain pandas. Each function takes only what was known at
the decision (``trailing_returns`` cuts the window there) and never raises on bad data: stocks with too
little history or no price movement are left out and named, and a failed optimiser falls back to
inverse volatility with a warning that names the window, so a long backtest is never stopped by one
month's numerics. Columns can be any hashable (LEAN ``Symbol`` objects): skfolio sees plain arrays.
"""
from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Optional

import numpy as np
import pandas as pd
from skfolio.moments import EmpiricalCovariance, LedoitWolf
from skfolio.optimization import HierarchicalRiskParity, InverseVolatility, MeanRisk, ObjectiveFunction
from skfolio.prior import EmpiricalPrior
from skfolio import RiskMeasure

from .config import MomentumConfig, RiskConfig

DUST = 1e-6  # optimiser zeros come back as ~1e-9: below this a weight is dropped (and the rest renormalised)
FLAT = 1e-12  # a daily-return standard deviation at or below this is a stock that did not move


@dataclass
class Allocation:
    """Weights by column (positive, summing to 1; empty when nothing could be allocated), the columns left
    out with the reason, notes (e.g. a covariance repaired) and the fallback warning, if one was needed."""

    weights: pd.Series
    left_out: dict[Hashable, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warning: Optional[str] = None


def trailing_returns(closes: pd.DataFrame, decision_time: dt.datetime, lookback_days: int) -> pd.DataFrame:
    """The last ``lookback_days`` daily returns from bars that ended at or before ``decision_time``.

    ``closes`` is indexed by bar end time (LEAN: 16:00 of the bar date), so at the 10:00 rebalance the day's
    own bar is excluded here even if a caller passed it; later rows are ignored too. Zero or missing closes
    give missing returns, never infinite ones, except a gap between two known closes (a halt): the last close
    is carried over it, so the gap costs no return and the move across it counts once (without this one
    missing bar erased two returns, and the move with them)."""
    known = closes.loc[closes.index <= pd.Timestamp(decision_time)]
    returns = known.replace(0.0, np.nan).ffill(limit_area="inside").pct_change(fill_method=None).iloc[1:]
    return returns.replace([np.inf, -np.inf], np.nan).iloc[-lookback_days:]


def usable_window(returns: pd.DataFrame, lookback_days: int, min_history: float) -> tuple[pd.DataFrame, dict]:
    """The window the estimators see, without gaps, and the columns left out (with why).

    A column needs ``ceil(min_history * lookback_days)`` returns; a column that never moved (constant
    price, e.g. suspended) would get an infinite inverse volatility and is left out too. Missing returns
    of kept columns are usually leading (a stock that joined inside the window): the rows where every kept
    column has a return are used; if that leaves fewer rows than one column needs, the columns with the
    most missing returns are left out until it does not (zero-filling them instead would understate their
    volatility, and inverse volatility and minimum variance would overweight exactly those stocks)."""
    window = returns.iloc[-lookback_days:]
    need = max(2, math.ceil(min_history * lookback_days))
    counts = window.notna().sum()
    left_out: dict[Hashable, str] = {c: f"{int(n)} daily returns in the {lookback_days}-day window, {need} needed"
                                     for c, n in counts.items() if n < need}
    kept = window.loc[:, [c for c in window.columns if c not in left_out]]
    flat = [c for c, s in kept.std().items() if not s > FLAT]
    left_out.update({c: "no price movement in the window" for c in flat})
    kept = kept.drop(columns=flat)
    while len(kept.dropna(how="any")) < need and kept.shape[1] > 0:
        gappiest = kept.isna().sum().idxmax()
        left_out[gappiest] = f"gaps leave too few complete days in the {lookback_days}-day window"
        kept = kept.drop(columns=[gappiest])
    return kept.dropna(how="any"), left_out


def _normalised(raw: np.ndarray, columns: pd.Index) -> pd.Series:
    """Long-only weights summing to 1: optimiser dust and tiny negatives dropped; an unusable result raises."""
    weights = pd.Series(np.asarray(raw, dtype=float), index=columns)
    if not np.isfinite(weights).all() or (weights < -1e-6).any():
        raise ValueError(f"weights not long-only and finite: min {weights.min():.3g}")
    weights = weights[weights > DUST]
    if weights.empty:
        raise ValueError("no positive weight")
    return weights / weights.sum()


def _fit(estimator: Any, window: pd.DataFrame, notes: list[str]) -> pd.Series:
    """skfolio ``fit`` on the array; its warnings (a covariance clipped to positive definite) become notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(window.to_numpy())
    notes.extend(sorted({str(w.message) for w in caught}))
    return _normalised(estimator.weights_, window.columns)


def _allocate(returns: pd.DataFrame, config: RiskConfig, name: str,
              build: Callable[[int], Any], fallback: bool = True) -> Allocation:
    """Shared frame of the three risk-based allocators: clean window, one-stock case, fit, and (``fallback``)
    inverse volatility when the fit fails; the fallback itself has none and raises."""
    window, left_out = usable_window(returns, config.lookback_days, config.min_history)
    result = Allocation(pd.Series(dtype=float), left_out)
    if window.shape[1] <= 1:
        result.weights = pd.Series(1.0, index=window.columns)
        return result
    try:
        result.weights = _fit(build(window.shape[1]), window, result.notes)
    except Exception as exc:  # a solver or numerical failure: never stop the backtest over one month
        if not fallback:
            raise
        end = f"{pd.Timestamp(window.index[-1]):%Y-%m-%d}" if len(window) else "?"
        result.warning = (f"{name} failed on the window ending {end} ({type(exc).__name__}: {exc}); "
                          "inverse volatility instead")
        result.weights = _fit(InverseVolatility(), window, result.notes)
    return result


def _prior(config: RiskConfig) -> EmpiricalPrior:
    covariance = LedoitWolf() if config.covariance == "ledoit_wolf" else EmpiricalCovariance()
    return EmpiricalPrior(covariance_estimator=covariance)


def _cap(config: RiskConfig, assets: int) -> float:
    """``max_weight``, raised to 1/n when n stocks could not otherwise be fully invested."""
    return max(config.max_weight, 1.0 / assets)


def inverse_volatility(returns: pd.DataFrame, config: RiskConfig) -> Allocation:
    """Weights proportional to 1 / (sample standard deviation of daily returns) (skfolio InverseVolatility)."""
    return _allocate(returns, config, "inverse volatility", lambda n: InverseVolatility(), fallback=False)


def minimum_variance(returns: pd.DataFrame, config: RiskConfig) -> Allocation:
    """Long-only, fully invested minimum variance (skfolio MeanRisk, MINIMIZE_RISK on Variance, weights in
    [0, max_weight], budget 1) on the ``covariance`` estimate; inverse volatility if the solver fails."""
    return _allocate(returns, config, "minimum variance", lambda n: MeanRisk(
        objective_function=ObjectiveFunction.MINIMIZE_RISK, risk_measure=RiskMeasure.VARIANCE,
        prior_estimator=_prior(config), min_weights=0.0, max_weights=_cap(config, n), budget=1.0))


def hierarchical_risk_parity(returns: pd.DataFrame, config: RiskConfig) -> Allocation:
    """Lopez de Prado's HRP (skfolio HierarchicalRiskParity, variance risk measure, its default Pearson
    distance and Ward linkage) on the ``covariance`` estimate; inverse volatility if it fails."""
    return _allocate(returns, config, "hierarchical risk parity", lambda n: HierarchicalRiskParity(
        risk_measure=RiskMeasure.VARIANCE, prior_estimator=_prior(config), min_weights=0.0,
        max_weights=_cap(config, n)))


def momentum_12_1(returns: pd.DataFrame, config: MomentumConfig) -> Allocation:
    """Equal weights on the top ``ceil(top_fraction * n)`` stocks by total return over the formation
    window without its last ``skip_days`` (ties: column order). Returns are those of adjusted closes, so
    dividends count (LEAN's default adjusted normalisation)."""
    window = returns.iloc[-config.formation_days:]
    need = math.ceil(config.min_history * config.formation_days)
    counts = window.notna().sum()
    left_out: dict[Hashable, str] = {c: f"{int(n)} daily returns in the {config.formation_days}-day "
                                     f"window, {need} needed" for c, n in counts.items() if n < need}
    ranked = window.loc[:, [c for c in window.columns if c not in left_out]]
    formation = ranked.iloc[:len(ranked) - config.skip_days]
    scores = (1.0 + formation.fillna(0.0)).prod() - 1.0
    count = max(1, math.ceil(config.top_fraction * len(scores))) if len(scores) else 0
    order = np.argsort(-scores.to_numpy(), kind="stable")[:count]
    chosen = scores.index[order]
    return Allocation(pd.Series(1.0 / count if count else 0.0, index=chosen, dtype=float), left_out)


ALLOCATORS: dict[str, Callable[[pd.DataFrame, Any], Allocation]] = {
    "inverse_volatility": inverse_volatility, "minimum_variance": minimum_variance,
    "hierarchical_risk_parity": hierarchical_risk_parity, "momentum_12_1": momentum_12_1}
