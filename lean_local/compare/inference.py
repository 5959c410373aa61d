"""Inference for comparing strategies run over the same dates: Sharpe-ratio differences and mean active returns.

The Sharpe ratio tested here is NOT LEAN's printed "Sharpe Ratio" (which annualises the mean daily return
geometrically and subtracts the Fed primary credit rate, see ``lean_statistics.sharpe_ratio``). It is the plain
Sharpe ratio of daily simple returns, ``mean / standard deviation x sqrt(252)``, with no risk-free rate: the
quantity whose difference Ledoit & Wolf (2008) test. Both strategies' returns are taken on the same dates, so their
correlation is part of the test.

No installed library implements the Ledoit-Wolf test (statsmodels 0.14.6, arch 8.0.0, scipy, QuantStats 0.0.77 and
empyrical have Sharpe ratios but no test of the difference of two correlated ones), so :func:`ledoit_wolf_test`
follows the paper; its HAC kernel sum is statsmodels' ``S_hac_simple``. The bootstrap uses arch's
``StationaryBootstrap`` (Politis & Romano 1994) with Politis & White's (2004, corrected by Patton, Politis & White
2009) block length, ``arch.bootstrap.optimal_block_length``.

Reference: O. Ledoit and M. Wolf (2008), "Robust performance hypothesis testing with the Sharpe ratio", Journal of
Empirical Finance 15(5), 850-859.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from scipy import stats
from statsmodels.stats.sandwich_covariance import S_hac_simple, weights_bartlett

PERIODS_PER_YEAR = 252


def newey_west_lags(n: int) -> int:
    """The usual automatic lag: floor(4 (n / 100)^(2/9)) (Newey & West 1994; statsmodels' default)."""
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def sharpe(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float:
    """``mean / std (ddof=1) x sqrt(periods)``: the Sharpe ratio the tests use (not LEAN's)."""
    returns = np.asarray(returns, dtype=float)
    deviation = float(np.std(returns, ddof=1))
    return math.nan if deviation == 0 else float(np.mean(returns)) / deviation * math.sqrt(periods)


@dataclass(frozen=True)
class SharpeDifference:
    """Estimated ``Sharpe(a) - Sharpe(b)`` (annualised), its standard error, two-sided p-value and how."""

    difference: float
    standard_error: float
    p_value: float
    method: str
    note: str | None = None  # why the result is NaN (a flat series), else None


def flat_reason(a: np.ndarray, b: np.ndarray) -> str | None:
    """Why no Sharpe difference exists, or None: a series with zero variance (a run all in cash over the window)
    has no Sharpe ratio, so the test statistic is 0/0 and every bootstrap draw is NaN."""
    for which, series in (("the run", a), ("the reference", b)):
        if len(series) and np.all(series == series[0]):
            return f"{which}'s daily returns have no variance over the window (flat equity): no Sharpe ratio"
    return None


def _nan_result(method: str, note: str) -> SharpeDifference:
    return SharpeDifference(math.nan, math.nan, math.nan, method, note)


def _gradient(a: float, b: float, c: float, d: float) -> np.ndarray:
    """Gradient of f(a, b, c, d) = a / sqrt(c - a^2) - b / sqrt(d - b^2) (Ledoit & Wolf 2008, Section 3.1)."""
    return np.array([c / (c - a * a) ** 1.5, -d / (d - b * b) ** 1.5,
                     -0.5 * a / (c - a * a) ** 1.5, 0.5 * b / (d - b * b) ** 1.5])


def ledoit_wolf_test(a: np.ndarray, b: np.ndarray, lags: int | None = None,
                     periods: int = PERIODS_PER_YEAR) -> SharpeDifference:
    """HAC test of H0: Sharpe(a) = Sharpe(b) for paired returns (Ledoit & Wolf 2008, Section 3.1).

    With v = (mu_a, mu_b, gamma_a, gamma_b)', gamma the uncentred second moment E[r^2], the difference is
    Delta = f(v) = mu_a / sqrt(gamma_a - mu_a^2) - mu_b / sqrt(gamma_b - mu_b^2). By the delta method
    sqrt(T)(Delta_hat - Delta) -> N(0, grad f(v)' Psi grad f(v)), so s(Delta_hat) = sqrt(grad' Psi_hat grad / T)
    and the two-sided p-value is 2 Phi(-|Delta_hat| / s(Delta_hat)). Psi_hat is the kernel estimator
    T/(T-4) sum_j k(j/S_T) Gamma_hat(j) over y_t = (a_t - mu_a, b_t - mu_b, a_t^2 - gamma_a, b_t^2 - gamma_b)',
    with its small-sample factor T/(T-4). The paper prefers the prewhitened quadratic-spectral kernel of Andrews &
    Monahan (1992); here it is the Bartlett kernel (Newey & West 1987) with ``lags`` (default
    :func:`newey_west_lags`), a documented departure. The difference and its standard error are annualised by
    sqrt(periods).

    The reported difference (and the z = difference / standard error behind the p-value) is
    ``sharpe(a) - sharpe(b)`` with the ddof=1 :func:`sharpe` the report prints, so the numbers agree with each
    other; the standard error stays the paper's moment formula (ddof=0 moments), which differs by a factor
    sqrt(T/(T-1)) -> 1. A flat series gives NaN with the reason in ``note`` (:func:`flat_reason`).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 6:
        raise ValueError("the Sharpe-difference test needs two paired return series of equal length (>= 6)")
    n = len(a)
    v = np.array([a.mean(), b.mean(), np.mean(a * a), np.mean(b * b)])
    scale = math.sqrt(periods)
    lags = newey_west_lags(n) if lags is None else lags
    method = f"Ledoit-Wolf HAC (Bartlett, {lags} lags)"
    reason = flat_reason(a, b)
    if reason:
        return _nan_result(method, reason)
    if np.array_equal(a, b):  # the same series: Delta_hat = 0 exactly, Psi-form is 0/0
        return SharpeDifference(0.0, 0.0, 1.0, method)
    delta = (sharpe(a, periods) - sharpe(b, periods)) / scale  # per period, ddof=1 (see the docstring)
    y = np.column_stack([a - v[0], b - v[1], a * a - v[2], b * b - v[3]])
    psi = S_hac_simple(y, nlags=lags, weights_func=weights_bartlett) / (n - 4)  # T/(T-4) x (1/T) sum
    grad = _gradient(*v)
    error = math.sqrt(max(float(grad @ psi @ grad), 0.0) / n)
    p = 1.0 if delta == 0 else (0.0 if error == 0 else float(2 * stats.norm.sf(abs(delta) / error)))
    return SharpeDifference(delta * scale, error * scale, p, method)


def block_length(a: np.ndarray, b: np.ndarray) -> float:
    """The larger of Politis-White's stationary-bootstrap block lengths of the two series (at least 1)."""
    lengths = optimal_block_length(np.column_stack([a, b]))["stationary"].to_numpy(float)
    return max(1.0, float(np.nanmax(lengths)))


def bootstrap_test(a: np.ndarray, b: np.ndarray, reps: int = 1000, seed: int = 0,
                   periods: int = PERIODS_PER_YEAR) -> tuple[SharpeDifference, tuple[float, float]]:
    """Stationary-bootstrap test of H0: Sharpe(a) = Sharpe(b) and a 95% percentile interval for the difference.

    Pairs (a_t, b_t) are resampled together in blocks of geometric length (mean :func:`block_length`), keeping
    their correlation and serial dependence. The p-value is the share of bootstrap differences at least as far
    from the estimate as the estimate is from 0, (1 + #{|D* - D| >= |D|}) / (1 + reps): the centred bootstrap
    distribution stands in for the null one (not studentised, unlike Ledoit & Wolf's Section 3.2).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    reason = flat_reason(a, b)
    if reason:
        return _nan_result("stationary bootstrap", reason), (math.nan, math.nan)
    delta = sharpe(a, periods) - sharpe(b, periods)
    if np.array_equal(a, b):
        return SharpeDifference(0.0, 0.0, 1.0, "stationary bootstrap"), (0.0, 0.0)
    size = block_length(a, b)
    # arch types block_size as int but uses it only as the mean block length, p = 1 / block_size (base.py L1594)
    boot = StationaryBootstrap(size, a, b, seed=np.random.default_rng(seed))  # type: ignore[arg-type]
    draws = boot.apply(lambda x, y: np.array([sharpe(x, periods) - sharpe(y, periods)]), reps).ravel()
    draws = draws[np.isfinite(draws)]
    method = f"stationary bootstrap ({reps} resamples, mean block {size:.1f} days)"
    if len(draws) < 2:  # every resample drew flat blocks only: no distribution to read
        return _nan_result(method, f"only {len(draws)} of {reps} resamples had a Sharpe ratio"), (math.nan, math.nan)
    p = float((1 + np.sum(np.abs(draws - delta) >= abs(delta))) / (1 + len(draws)))
    low, high = np.percentile(draws, [2.5, 97.5])
    return SharpeDifference(delta, float(np.std(draws, ddof=1)), p, method), (float(low), float(high))


@dataclass(frozen=True)
class MeanTest:
    """Mean of a series with its Newey-West (HAC) t-statistic and two-sided p-value."""

    mean: float
    t_stat: float
    p_value: float
    lags: int
    n: int


def newey_west_mean(values: np.ndarray, lags: int | None = None) -> MeanTest:
    """OLS of ``values`` on a constant with HAC (Bartlett) standard errors, statsmodels ``cov_type='HAC'``."""
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        raise ValueError("a mean test needs at least 3 observations")
    lags = newey_west_lags(len(values)) if lags is None else lags
    if np.allclose(values, values[0]):
        return MeanTest(float(values[0]), math.nan, math.nan, lags, len(values))
    fit = sm.OLS(values, np.ones((len(values), 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return MeanTest(float(fit.params[0]), float(fit.tvalues[0]), float(fit.pvalues[0]), lags, len(values))
