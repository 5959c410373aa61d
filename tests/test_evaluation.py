"""The protocol's statistics on hand-computable cases: perfect and random rankings, HAC against naive
t-statistics on autocorrelated series, partial ICs of controls, no look-ahead, portfolio arithmetic."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluation import (active_return_summary, effective_n, effective_observations, forward_returns,
                               ic_summary, net_returns, newey_west_lags, newey_west_t, partial_ic_series,
                               rank_ic_series, reversal_signals, turnover)


def panel(values: np.ndarray, start: str = "2015-01-02") -> pd.DataFrame:
    return pd.DataFrame(values, index=pd.bdate_range(start, periods=len(values)),
                        columns=[f"S{i}" for i in range(values.shape[1])])


def random_closes(days: int = 300, stocks: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return panel(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (days, stocks)), axis=0)))


def test_perfect_and_reversed_rankings_give_ic_plus_and_minus_one():
    realised = panel(np.random.default_rng(1).normal(size=(20, 12)))
    assert rank_ic_series(realised * 3 + 1, realised).to_numpy() == pytest.approx(1.0)
    assert rank_ic_series(np.exp(-realised), realised).to_numpy() == pytest.approx(-1.0)


def test_dates_with_too_few_names_or_a_constant_side_are_nan_not_zero():
    realised = panel(np.arange(24, dtype=float).reshape(4, 6))
    predictions = realised.copy()
    predictions.iloc[0, :3] = np.nan  # 3 names left < 5
    predictions.iloc[1] = 1.0  # constant
    ics = rank_ic_series(predictions, realised)
    assert np.isnan(ics.iloc[0]) and np.isnan(ics.iloc[1]) and ics.iloc[2:].to_numpy() == pytest.approx(1.0)


def test_independent_noise_has_a_small_t():
    rng = np.random.default_rng(2)
    ics = rank_ic_series(panel(rng.normal(size=(400, 50))), panel(rng.normal(size=(400, 50))))
    summary = ic_summary(ics)
    assert abs(summary["mean"]) < 0.02 and abs(summary["t_hac"]) < 3.0 and summary["n"] == 400


def test_hac_t_is_smaller_than_the_naive_t_on_a_positively_autocorrelated_series():
    rng = np.random.default_rng(3)
    x = np.empty(600)
    x[0] = 0.0
    for i in range(1, 600):  # AR(1), phi 0.8, around a positive mean
        x[i] = 0.8 * x[i - 1] + rng.normal()
    x = x + 0.3
    result = newey_west_t(x, lags=10)
    assert result["mean"] == pytest.approx(x.mean())
    assert abs(result["t_hac"]) < 0.6 * abs(result["t_naive"])  # theory: sqrt((1-phi)/(1+phi)) = 0.33
    assert effective_observations(x, max_lag=10) < 0.4 * len(x)
    white = rng.normal(size=600)
    assert effective_observations(white, max_lag=10) > 0.7 * len(white)


def test_lag_choice_respects_overlapping_labels():
    assert newey_west_lags(100) == 4  # floor(4 * 1 ** (2/9))
    assert newey_west_lags(100, horizon=21) == 40  # twice the overlap: Bartlett down-weights the MA(20) lags
    assert newey_west_lags(10, horizon=21) == 8  # capped at n - 2
    assert ic_summary(pd.Series(np.random.default_rng(0).normal(size=200)), horizon=21)["lags"] == 40


def test_hac_t_on_overlapping_21_day_sums_of_noise_rejects_near_the_nominal_rate():
    """Sums of 21 consecutive white-noise draws (what 21-day labels sampled daily are under the null): with the
    lag floor at horizon - 1 the 5% test rejected 13% of 300 simulations; at twice the overlap about 8%."""
    rng = np.random.default_rng(0)
    rejections = sum(abs(newey_west_t(np.convolve(rng.normal(size=1020), np.ones(21), "valid"), horizon=21)["t_hac"])
                     > 1.96 for _ in range(300))
    assert rejections / 300 < 0.11


def test_partial_ic_residualises_the_returns_too():
    """When a control drives both the score and the return, the partial correlation of the remainders is what
    the score knows beyond the control; correlating the score's remainder with the raw return (the semi-partial)
    would shrink it by the share of the return the control explains."""
    rng = np.random.default_rng(7)
    dates, names = pd.date_range("2020-01-01", periods=40), [f"S{i}" for i in range(200)]
    control = pd.DataFrame(rng.normal(size=(40, 200)), dates, names)
    private = pd.DataFrame(rng.normal(size=(40, 200)), dates, names)
    realised = 3 * control + private + pd.DataFrame(rng.normal(size=(40, 200)), dates, names)
    partial = partial_ic_series(private + control, realised, {"c": control}).mean()
    assert 0.6 < partial < 0.8  # corr(private, private + noise) = 1 / sqrt(2) = 0.71


def test_partial_ic_of_the_control_itself_is_zero_while_its_raw_ic_is_not():
    closes = random_closes(seed=4)
    realised = forward_returns(closes, 1)
    controls = reversal_signals(closes, (1, 5))
    rng = np.random.default_rng(5)
    # A "model" that is the 1-day reversal (any monotone transform of it) adds nothing beyond it.
    model = np.tanh(controls["reversal_1d"] * 50)
    assert partial_ic_series(model, realised, controls).dropna().abs().max() == 0.0
    # A signal with real information beyond the controls keeps a clearly positive partial IC.
    informed = realised + rng.normal(0, 0.02, realised.shape) + controls["reversal_1d"]
    raw, partial = rank_ic_series(informed, realised).mean(), partial_ic_series(informed, realised, controls).mean()
    assert raw > 0.3 and partial > 0.3


def test_reversal_signal_by_hand_and_forward_returns_by_hand():
    closes = panel(np.array([[10.0, 20.0], [11.0, 18.0], [12.1, 18.0], [12.1, 27.0], [11.0, 27.0], [11.0, 30.0]]))
    r1 = reversal_signals(closes, (1,))["reversal_1d"]
    assert np.isnan(r1.iloc[0]).all()
    assert r1.iloc[1].to_numpy() == pytest.approx([-0.1, 0.1])
    r5 = reversal_signals(closes, (5,))["reversal_5d"]
    assert r5.iloc[5].to_numpy() == pytest.approx([-0.1, -0.5])
    fwd = forward_returns(closes, 2)
    assert fwd.iloc[0].to_numpy() == pytest.approx([0.21, -0.1]) and fwd.iloc[-2:].isna().all().all()


def test_appending_future_data_leaves_past_ics_and_signals_unchanged():
    full = random_closes(days=200, seed=6)
    cut = full.iloc[:120]
    predictions = panel(np.random.default_rng(7).normal(size=(200, 30)))
    for closes in (full, cut):
        closes.attrs["ic"] = rank_ic_series(predictions, forward_returns(closes, 1))
        closes.attrs["partial"] = partial_ic_series(predictions, forward_returns(closes, 1), reversal_signals(closes))
    known = cut.index[:-1]  # the last cut row's forward return is not known yet
    pd.testing.assert_series_equal(full.attrs["ic"].loc[known], cut.attrs["ic"].loc[known])
    pd.testing.assert_series_equal(full.attrs["partial"].loc[known], cut.attrs["partial"].loc[known])
    for name, signal in reversal_signals(cut).items():
        pd.testing.assert_frame_equal(signal, reversal_signals(full)[name].loc[cut.index])


def test_effective_n_and_turnover_by_hand():
    weights = pd.DataFrame({"A": [0.5, 0.5, 0.0], "B": [0.5, 0.25, 0.0], "C": [0.0, 0.25, 1.0]},
                           index=pd.to_datetime(["2020-01-31", "2020-02-28", "2020-03-31"]))
    assert effective_n(weights).to_numpy() == pytest.approx([2.0, 1 / (0.25 + 0.0625 * 2), 1.0])
    assert turnover(weights).to_numpy() == pytest.approx([0.5, 0.25, 0.75])
    # Drift: A doubles, B is flat, so 50/50 becomes 2/3-1/3 and rebalancing back to 50/50 trades 1/6.
    equal = pd.DataFrame({"A": [0.5, 0.5], "B": [0.5, 0.5]}, index=weights.index[:2])
    held = pd.DataFrame({"A": [1.0, 0.0], "B": [0.0, 0.0]}, index=equal.index)
    assert turnover(equal, held).to_numpy() == pytest.approx([0.5, 1 / 6])


def test_costs_and_active_return():
    gross = pd.Series([0.02, 0.01, 0.03])
    net = net_returns(gross, pd.Series([0.5, 0.1, 0.0]), cost_per_unit_traded=0.001)
    assert net.to_numpy() == pytest.approx([0.02 - 0.001, 0.01 - 0.0002, 0.03])
    summary = active_return_summary(pd.Series([0.02, 0.01, 0.03, 0.0]), pd.Series([0.01, 0.01, 0.01, 0.01]))
    assert summary["mean"] == pytest.approx(0.005) and summary["annualised"] == pytest.approx(0.06)  # (.01+0+.02-.01)/4
