"""perl_portfolio on the dev data, 2009-06-01..2018-12-31, chronos-t5-tiny architecture with RANDOM
weights on CPU, three seeds, next to top100_baseline and SPY: wall time and statistics.

These figures say nothing about pretrained Chronos (no checkpoint can be downloaded here); they
show the loop's cost and what the online learner does from a random start.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lean_local.data.importer import import_data  # noqa: E402
from lean_local.engine.runner import run_backtest  # noqa: E402
from machine import SHARED, summary_statistics, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (1, 2, 3)



if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    runs = {}
    with tempfile.TemporaryDirectory() as data:
        import_data(SHARED / "alphavantage_raw_ohlcv_1999_2018.csv.gz", SHARED / "sp500_membership_spells_to_2018.csv",
                    SHARED / "spy_daily_1993_2018.csv", data, start="2008-01-02")
        baseline = run_backtest(ROOT / "algorithms" / "top100_baseline", data_dir=data, progress=False, write=False)
        for seed in SEEDS:
            parameters = {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "seed": str(seed),
                          "fresh_start": "true"}
            began = time.perf_counter()
            result = run_backtest(ROOT / "algorithms" / "perl_portfolio", data_dir=data, parameters=parameters,
                                  progress=False, write=False)
            runs[f"seed{seed}"] = {"wall_seconds": round(time.perf_counter() - began, 1),
                                   "statistics": summary_statistics(result.statistics["algorithm"]),
                                   "runtime": result.algorithm.runtime_statistics}
            print(seed, runs[f"seed{seed}"], flush=True)
    write_result("perl_backtest", {
        "window": ["2009-06-01", "2018-12-31"], "backbone": "chronos-t5-tiny architecture, RANDOM weights, CPU fp32",
        "target_wall_seconds": 180, "perl_portfolio": runs,
        "top100_baseline": summary_statistics(baseline.statistics["algorithm"]),
        "spy": summary_statistics(baseline.statistics["benchmark"])})
