"""Indicator panel speed: one rebalance (100 stocks x 300 days) and 500 stocks x 2,500 days, on the dev data.

The floor is the bare TA-Lib calls for the same indicators on the same arrays (no scaling, z-score,
alignment or masking); the ratio says what the panel adds on top.
"""
from __future__ import annotations

import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import talib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Library"))

from lean_local.data import lean_format as lf  # noqa: E402
from lean_local.data.importer import import_data  # noqa: E402
from lean_local.engine.data_source import DataFolder  # noqa: E402
from lean_local.engine.history import daily_history  # noqa: E402
from lean_local.engine.symbols import Symbol  # noqa: E402
from machine import SHARED, write_result  # noqa: E402
from models.features import indicator_panel, selected_features  # noqa: E402
from models.features.panel import _input_names, specs_for  # noqa: E402


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def bare_talib(history, names) -> None:
    for _, frame in history.groupby(level="symbol", sort=False):
        bars = {k: frame[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume")}
        for spec, _ in specs_for(names):
            getattr(talib, spec.function)(*(bars[k] for k in _input_names(spec.function)), **spec.params)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    names = selected_features()
    with tempfile.TemporaryDirectory() as folder:
        import_data(SHARED / "alphavantage_raw_ohlcv_1999_2018.csv.gz", SHARED / "sp500_membership_spells_to_2018.csv",
                    SHARED / "spy_daily_1993_2018.csv", folder)
        data = DataFolder(folder)
        top = [r.ticker for r in lf.read_universe_file(lf.universe_dir(Path(folder)) / "20150529.csv")][:100]
        one = daily_history(data, [Symbol(t) for t in top], dt.datetime(2015, 6, 1, 10), count=300)
        every = sorted(p.stem for p in (Path(folder) / "equity" / "usa" / "daily").glob("*.zip") if p.stem != "spy")[:500]
        big = daily_history(data, [Symbol(t.upper()) for t in every], dt.datetime(2018, 12, 31, 17), count=2500)
    panel_one = best_of(lambda: indicator_panel(one, names))
    floor_one = best_of(lambda: bare_talib(one, names))
    panel_big = best_of(lambda: indicator_panel(big, names), repeat=2)
    floor_big = best_of(lambda: bare_talib(big, names), repeat=2)
    write_result("feature_panel", {
        "features": len(names), "rebalance_shape": [len(top), 300],
        "rebalance_seconds": round(panel_one, 4), "rebalance_talib_floor_seconds": round(floor_one, 4),
        "rebalance_ratio_to_floor": round(panel_one / floor_one, 2), "rebalance_target_seconds": 0.3,
        "large_shape": [big.index.get_level_values(0).nunique(), 2500], "large_seconds": round(panel_big, 3),
        "large_talib_floor_seconds": round(floor_big, 3), "large_ratio_to_floor": round(panel_big / floor_big, 2)})
