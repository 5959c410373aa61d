"""The indicator panel: shape, causality, scale-freedom, agreement with TA-Lib, bad input, and the VIF selection."""
from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from statsmodels.stats.outliers_influence import variance_inflation_factor

from lean_local.engine.data_source import DataFolder
from lean_local.engine.history import daily_history
from lean_local.engine.symbols import Symbol
from models.features import candidate_names, indicator_panel, selected_features, warmup_bars
from models.features.panel import ZSCORE_WINDOW
from models.features.selection import select_by_vif, vif

ROOT = Path(__file__).resolve().parents[1]


def lean_history(n_symbols: int = 3, n_bars: int = 320, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    times = pd.bdate_range("2015-01-01", periods=n_bars) + pd.Timedelta(hours=16)
    for k in range(n_symbols):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, n_bars)))
        open_ = close * (1 + rng.normal(0, 0.005, n_bars))
        frames.append(pd.DataFrame({
            "close": close, "high": np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, n_bars))),
            "low": np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, n_bars))), "open": open_,
            "volume": rng.lognormal(14, 0.4, n_bars)},
            index=pd.MultiIndex.from_product([[f"S{k}"], times], names=["symbol", "time"])))
    return pd.concat(frames)


def test_selected_list_is_42_known_names():
    names = selected_features()
    assert len(names) == 42 == len(set(names)) and set(names) <= set(candidate_names())


def test_shape_dtype_names_and_warm_up():
    history = lean_history()
    panel = indicator_panel(history)
    assert panel.values.shape == (3, 320, 42) and panel.values.dtype == np.float32
    assert panel.names == selected_features() and panel.symbols == ["S0", "S1", "S2"]
    assert np.isfinite(panel.values).all()
    warm = warmup_bars(panel.names)
    assert not panel.mask[:, :warm].any() and panel.mask[:, warm:].all()
    assert (panel.values[:, :warm] == 0).all()
    assert np.abs(panel.values[:, warm:]).std() > 0.5  # real, varying values after the warm-up


def test_matches_direct_talib_calls_then_trailing_zscore():
    history = lean_history(1)
    bars = history.xs("S0", level="symbol")
    panel = indicator_panel(history, ["RSI", "SMA", "OBV", "MACD_macdhist"])
    close = bars["close"].to_numpy()
    direct = {
        "RSI": talib.RSI(close),
        "SMA": talib.SMA(close) / close - 1,
        "OBV": talib.OBV(close, bars["volume"].to_numpy()),
        "MACD_macdhist": talib.MACD(close)[2] / close,
    }
    warm = warmup_bars(panel.names)
    for j, name in enumerate(panel.names):
        series = pd.Series(direct[name])
        roll = series.rolling(ZSCORE_WINDOW)
        expected = ((series - roll.mean()) / roll.std(ddof=0)).to_numpy()
        np.testing.assert_allclose(panel.values[0, warm:, j], expected[warm:], rtol=1e-4, atol=1e-4, err_msg=name)


def test_price_level_does_not_leak():
    history = lean_history()
    scaled = history.copy()
    scaled[["open", "high", "low", "close"]] *= 37.0
    scaled["volume"] /= 37.0
    a, b = indicator_panel(history, "all"), indicator_panel(scaled, "all")
    np.testing.assert_allclose(a.values, b.values, atol=2e-3)


def test_no_look_ahead_on_real_data(dev_lean_folder):
    data = DataFolder(dev_lean_folder)
    symbols = [Symbol(t) for t in ["AAPL", "XOM", "JPM", "KIM", "WELL"]]  # KIM, WELL have gaps
    start = dt.datetime(2012, 1, 1)
    past = daily_history(data, symbols, dt.datetime(2013, 6, 3, 10), start=start)
    more = daily_history(data, symbols, dt.datetime(2013, 9, 3, 10), start=start)
    a, b = indicator_panel(past, "all"), indicator_panel(more, "all")
    assert len(b.times) > len(a.times)
    np.testing.assert_array_equal(a.values, b.values[:, :len(a.times)])
    np.testing.assert_array_equal(a.mask, b.mask[:, :len(a.times)])


def test_bad_input_is_masked_and_reported():
    history = lean_history(6)
    history.loc[("S1", history.loc["S1"].index[200]), "close"] = np.nan
    history.loc["S2", ["open", "high", "low", "close"]] = 20.0  # constant prices
    history.loc["S3", "volume"] = 0.0  # zero volume every day
    gap_day = history.loc["S4"].index[250]
    history = history.drop(index=("S4", gap_day))
    short = lean_history(1, 100, seed=9).rename(index={"S0": "SHORT"}, level="symbol")
    panel = indicator_panel(pd.concat([history, short]), "all")
    problems = "\n".join(panel.problems)
    assert "S1: NaN in the input" in problems and not panel.mask[1].any()
    assert "SHORT: 100 bars, fewer than the warm-up" in problems and not panel.mask[5 + 1].any()
    assert np.isfinite(panel.values).all()
    assert panel.mask[2, -1] and panel.mask[3, -1]  # constant prices, zero volume: defined, neutral where undefined
    s4 = panel.symbols.index("S4")
    assert not panel.mask[s4, panel.times.get_loc(gap_day)] and panel.mask[s4, -1]
    with pytest.raises(ValueError, match="history shape"):
        indicator_panel(history.reset_index())


def test_vif_matches_statsmodels():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(500, 3))
    x = np.column_stack([base, base[:, 0] + 0.3 * base[:, 1] + rng.normal(0, 0.2, 500), rng.normal(5, 2, 500)])
    design = np.column_stack([np.ones(len(x)), x])
    expected = [variance_inflation_factor(design, i) for i in range(1, design.shape[1])]
    np.testing.assert_allclose(vif(x), expected, rtol=1e-8)
    chosen = select_by_vif(x, list("abcde"), threshold=5.0)
    assert len(chosen.features) == 4 and max(chosen.vif.values()) < 5.0
    exact = np.column_stack([x, 2.0 * x[:, 4] - 1.0])  # an affine copy: infinite VIF, one of the pair must go
    assert vif(exact)[4] > 1e10 and vif(exact)[5] > 1e10
    kept = select_by_vif(exact, list("abcdef"), threshold=5.0).features
    assert not {"e", "f"} <= set(kept)


def test_exactly_collinear_ties_do_not_depend_on_rounding_noise():
    """Which member of an exact identity goes must not flip with the last bits of the sample: the later
    candidate goes, however the rounding falls (the committed list once flipped STDDEV/VAR that way)."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(400, 3))
    for noise in (0.0, 1e-13, -1e-13, 3e-14):
        x = np.column_stack([base, 2.0 * base[:, 0] + 1.0 + noise * rng.normal(size=400), 0.5 * base[:, 1]])
        chosen = select_by_vif(x, list("abcde"), threshold=5.0)
        assert [name for name, _ in chosen.removed] == ["e", "d"] and chosen.features == ["a", "b", "c"]


@pytest.fixture(scope="module")
def regenerated(dev_lean_folder):
    spec = importlib.util.spec_from_file_location("select_features", ROOT / "scripts" / "select_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run(dev_lean_folder)


def test_committed_list_regenerates_from_the_dev_data(regenerated):
    from models.features.selected_42 import SELECTION as committed
    assert regenerated["features"] == committed["features"]
    assert regenerated["count_below_threshold"] == committed["count_below_threshold"]


def test_retained_set_is_below_the_vif_threshold(regenerated):
    assert len(regenerated["vif"]) == 42 and max(regenerated["vif"].values()) < regenerated["threshold"]
