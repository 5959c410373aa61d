"""Evaluation statistics for the research protocol (``scripts/protocol.py``): rank ICs with
autocorrelation-robust t-statistics, partial ICs after short-term reversal, and portfolio
concentration, turnover and cost-adjusted active return.

Conventions (every function takes wide frames: dates x symbols):

- A *prediction* at date ``t`` may use data up to ``t``'s close only; the *realised* return it is
  scored against runs from ``t``'s close to a later close (:func:`forward_returns`). Nothing here
  aligns or shifts predictions, so look-ahead can only come from the caller's inputs; each per-date
  figure reads only that date's row, so appending later dates never changes earlier figures.
- Rank IC is the per-date Spearman correlation across the symbols where both are finite; a date with
  fewer than ``min_names`` such symbols (or a constant side) is NaN and dropped from the averages.
- t-statistics are Newey-West (HAC) t-statistics of the mean: consecutive ICs are autocorrelated
  (slow-moving signals, and *overlapping* labels when the return horizon spans several dates), and
  the naive ``mean / (std / sqrt(n))`` then overstates significance. Labels that overlap by
  ``h - 1`` dates make the series an MA(h - 1) under the null, so the lag is at least ``h - 1``.

This module imports nothing from LEAN and no model code: the statistics are model-agnostic.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.tsa.stattools import acf

MIN_NAMES = 5


# --- returns and reference signals -------------------------------------------------------------

def forward_returns(closes: pd.DataFrame, horizon: int = 1) -> pd.DataFrame:
    """``close[t + horizon] / close[t] - 1`` in row ``t`` (rows are trading days): the return a
    position taken at ``t``'s close earns over the next ``horizon`` rows. NaN where either is unknown."""
    if horizon < 1:
        raise ValueError(f"horizon={horizon}: must be at least 1 row")
    return closes.shift(-horizon) / closes - 1.0


def reversal_signals(closes: pd.DataFrame, windows: tuple[int, ...] = (1, 5)) -> dict[str, pd.DataFrame]:
    """Short-term reversal yardsticks: ``-(close[t] / close[t - k] - 1)`` in row ``t`` for each ``k``
    in ``windows`` (named ``reversal_{k}d``). Only closes up to ``t`` are read (a backward shift), so the
    signal is known at ``t``'s close, the same moment a model's prediction at ``t`` is. The sign makes a
    positive IC mean "recent losers outperform", the documented short-horizon reversal effect."""
    return {f"reversal_{k}d": -(closes / closes.shift(k) - 1.0) for k in windows}


# --- information coefficients -----------------------------------------------------------------

def _aligned(predictions: pd.DataFrame, realised: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = predictions.index.intersection(realised.index)
    symbols = predictions.columns.intersection(realised.columns)
    return predictions.loc[dates, symbols], realised.loc[dates, symbols]


def _spearman(x: np.ndarray, y: np.ndarray, min_names: int) -> float:
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < min_names or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return float("nan")
    return float(stats.spearmanr(x[keep], y[keep])[0])


def rank_ic_series(predictions: pd.DataFrame, realised: pd.DataFrame, min_names: int = MIN_NAMES) -> pd.Series:
    """Per-date Spearman correlation between predictions and realised returns (dates x symbols each,
    aligned on the shared dates and symbols). Ranks, not values: heavy-tailed returns would let a few
    names dominate a Pearson IC."""
    p, r = _aligned(predictions, realised)
    values = [_spearman(p.iloc[i].to_numpy(float), r.iloc[i].to_numpy(float), min_names) for i in range(len(p))]
    return pd.Series(values, index=p.index, name="rank_ic", dtype=float)


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks scaled to (-0.5, 0.5): the rank transform the Spearman IC itself applies."""
    return (stats.rankdata(values) - 0.5) / len(values) - 0.5


def residual_ranks(prediction: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """Residual of the OLS of rank(prediction) on [1, rank(control_1), ...] across one date's symbols.
    Ranks on both sides, so a prediction that is any monotone transform of a single control leaves
    nothing (not the non-linear remainder a raw-value regression would leave). Returns zeros when the
    residual is numerically nil (the prediction is fully explained)."""
    y = _centred_ranks(prediction)
    x = np.column_stack([np.ones(len(y))] + [_centred_ranks(c) for c in controls.T])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ beta
    return np.zeros_like(residual) if np.std(residual) <= 1e-9 * max(np.std(y), 1e-300) else residual


def partial_ic_series(predictions: pd.DataFrame, realised: pd.DataFrame, controls: Mapping[str, pd.DataFrame],
                      min_names: int = MIN_NAMES) -> pd.Series:
    """Per date: the partial rank correlation of prediction and realised return given the controls: the
    correlation of the residuals of BOTH ranks after regressing each on the controls' ranks
    (:func:`residual_ranks`), over the symbols where the prediction, the return and every control are finite.
    (Residualising only the prediction would be the semi-partial correlation, biased towards 0 when the
    controls also explain the returns.) A prediction fully explained by the controls scores exactly 0;
    NaN where fewer than ``min_names`` symbols are complete.

    With the 1-day and 5-day reversal signals as controls this answers: does the model know anything
    beyond "recent losers bounce"? A raw IC at the size of the reversal's own IC with a partial IC near
    0 means the model rediscovered reversal."""
    p, r = _aligned(predictions, realised)
    blocks = [c.reindex(index=p.index, columns=p.columns).to_numpy(float) for c in controls.values()]
    out = []
    for i in range(len(p)):
        x, y = p.iloc[i].to_numpy(float), r.iloc[i].to_numpy(float)
        c = np.column_stack([b[i] for b in blocks]) if blocks else np.zeros((len(x), 0))
        keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(c).all(axis=1)
        if keep.sum() < max(min_names, c.shape[1] + 2) or np.ptp(y[keep]) == 0:
            out.append(float("nan"))
            continue
        residual = residual_ranks(x[keep], c[keep])
        realised_residual = residual_ranks(y[keep], c[keep])
        if not residual.any() or not realised_residual.any():
            out.append(0.0)
            continue
        out.append(float(np.corrcoef(residual, realised_residual)[0, 1]))
    return pd.Series(out, index=p.index, name="partial_rank_ic", dtype=float)


# --- significance ---------------------------------------------------------------------------

def newey_west_lags(n: int, horizon: int = 1) -> int:
    """Lag for the HAC variance: the Newey-West (1994) plug-in ``floor(4 (n / 100) ^ (2 / 9))``, but at
    least ``2 (horizon - 1)`` and at most ``n - 2``. Labels overlapping by ``horizon - 1`` dates are
    MA(horizon - 1) under the null; the Bartlett kernel down-weights lag k by ``1 - k / (L + 1)``, so with
    ``L = horizon - 1`` it recovers only about two thirds of that long-run variance (t inflated by ~1.2 for
    21-day labels); twice the overlap recovers most of it."""
    rule = int(math.floor(4 * (max(n, 1) / 100) ** (2 / 9)))
    return int(max(0, min(max(rule, 2 * (horizon - 1)), n - 2)))


def newey_west_t(series: pd.Series | np.ndarray, horizon: int = 1, lags: int | None = None) -> dict[str, float]:
    """Mean of ``series`` (NaNs dropped) with its Newey-West t-statistic: statsmodels OLS on a constant
    with ``cov_type='HAC'`` (Bartlett kernel, small-sample correction). Also the naive t, for contrast."""
    x = pd.Series(series, dtype=float).dropna().to_numpy()
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        return {"mean": float(np.mean(x)) if n else float("nan"), "t_hac": float("nan"), "se_hac": float("nan"),
                "t_naive": float("nan"), "lags": 0, "n": n}
    lags = newey_west_lags(n, horizon) if lags is None else int(lags)
    fit = sm.OLS(x, np.ones((n, 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    naive = float(np.mean(x) / (np.std(x, ddof=1) / math.sqrt(n)))
    return {"mean": float(fit.params[0]), "t_hac": float(fit.tvalues[0]), "se_hac": float(fit.bse[0]),
            "t_naive": naive, "lags": lags, "n": n}


def effective_observations(series: pd.Series | np.ndarray, max_lag: int | None = None) -> float:
    """``N / (1 + 2 * sum_{k=1..K} rho_k)``: how many independent observations the autocorrelated
    series is worth (Bartlett-free truncation at ``K = max_lag``, default :func:`newey_west_lags`).
    Clipped to ``[1, N]``: negative autocorrelation is not counted as extra information."""
    x = pd.Series(series, dtype=float).dropna().to_numpy()
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        return float(n)
    k = newey_west_lags(n) if max_lag is None else int(max_lag)
    if k < 1:
        return float(n)
    rho = acf(x, nlags=min(k, n - 1), fft=False)[1:]
    denominator = 1.0 + 2.0 * float(np.sum(rho))
    return float(n) if denominator <= 0 else float(min(max(n / denominator, 1.0), n))


def ic_summary(ics: pd.Series, horizon: int = 1) -> dict[str, float]:
    """The protocol's row for one IC series: mean, HAC t (and its lag), naive t, N, effective N
    (truncated at the same lag), and the share of positive dates."""
    summary = newey_west_t(ics, horizon=horizon)
    clean = ics.dropna()
    summary["n_effective"] = effective_observations(clean, max_lag=int(summary["lags"]))
    summary["positive_share"] = float((clean > 0).mean()) if len(clean) else float("nan")
    summary["std"] = float(clean.std()) if len(clean) > 1 else float("nan")
    return summary


# --- portfolios ----------------------------------------------------------------------------

def effective_n(weights: pd.DataFrame) -> pd.Series:
    """``1 / sum(w^2)`` per date (long-only weights summing to 1): the number of equal positions with the
    same concentration. An all-zero row (no position) is 0."""
    squares = (weights.fillna(0.0) ** 2).sum(axis=1)
    return (1.0 / squares.where(squares > 0)).fillna(0.0).rename("effective_n")


def drifted(weights: pd.Series, held_returns: pd.Series) -> pd.Series:
    """Weights after a holding period: each position grows by ``1 + r`` (a missing return counts as 0),
    renormalised to the portfolio's invested share."""
    grown = weights * (1.0 + held_returns.reindex(weights.index).fillna(0.0))
    total = grown.sum()
    return grown * (weights.sum() / total) if total > 0 else grown


def turnover(weights: pd.DataFrame, held_returns: pd.DataFrame | None = None) -> pd.Series:
    """One-way turnover per rebalance, ``0.5 * sum |w_t - w_{t-1}^pre|``, where ``w_{t-1}^pre`` is the
    previous target drifted by ``held_returns`` (row ``t-1``: each symbol's return from rebalance
    ``t-1`` to ``t``; without them the previous target itself). The first row is the trade from cash.
    Drift matters: an equal-weight portfolio still trades every month to undo it."""
    w = weights.fillna(0.0)
    previous = pd.Series(0.0, index=w.columns)
    out = []
    for i, (_, row) in enumerate(w.iterrows()):
        out.append(0.5 * float((row - previous).abs().sum()))
        previous = row if held_returns is None else drifted(row, held_returns.iloc[i].reindex(w.columns))
    return pd.Series(out, index=w.index, name="turnover")


def net_returns(gross: pd.Series, one_way_turnover: pd.Series, cost_per_unit_traded: float) -> pd.Series:
    """A stated proportional cost model: each rebalance pays ``cost * sum |dw|`` = ``cost * 2 * turnover``
    of the portfolio's value. A research-loop stand-in for fees; the local runner's backtests are the
    real figure (LEAN's fee model, share rounding, minimum orders)."""
    return gross - cost_per_unit_traded * 2.0 * one_way_turnover.reindex(gross.index).fillna(0.0)


def active_return_summary(portfolio: pd.Series, baseline: pd.Series, periods_per_year: int = 12,
                          horizon: int = 1) -> dict[str, float]:
    """Mean active return per period and annualised (x ``periods_per_year``), its HAC t, the tracking
    error and information ratio (annualised with sqrt(periods_per_year))."""
    active = (portfolio - baseline.reindex(portfolio.index)).dropna()
    out = newey_west_t(active, horizon=horizon)
    te = float(active.std() * math.sqrt(periods_per_year)) if len(active) > 1 else float("nan")
    out.update({"annualised": out["mean"] * periods_per_year, "tracking_error": te,
                "information_ratio": out["mean"] * periods_per_year / te if te and te > 0 else float("nan")})
    return out
