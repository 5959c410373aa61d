"""Wall time of top100_baseline, 2009-06-01..2018-12-31 on the dev data, with a profile of where it goes."""
from __future__ import annotations

import cProfile
import io
import logging
import pstats
import re
import tempfile
import time
from pathlib import Path

from lean_local.data.importer import import_data
from lean_local.engine.runner import run_backtest
from machine import SHARED, write_result

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as data:
        import_data(SHARED / "alphavantage_raw_ohlcv_1999_2018.csv.gz", SHARED / "sp500_membership_spells_to_2018.csv",
                    SHARED / "spy_daily_1993_2018.csv", data, start="2008-01-02")
        began = time.perf_counter()
        result = run_backtest(ROOT / "algorithms" / "top100_baseline", data_dir=data, progress=False, write=False)
        wall = time.perf_counter() - began
        profiler = cProfile.Profile()
        profiler.enable()
        run_backtest(ROOT / "algorithms" / "top100_baseline", data_dir=data, progress=False, write=False)
        profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    top = [re.sub(r"\S*/(site-packages|python3\.\d+)/", "", line.replace(str(ROOT) + "/", ""))
           for line in text.getvalue().splitlines() if line.strip()][:40]
    write_result("baseline_backtest", {
        "wall_seconds": round(wall, 2), "target_seconds": 30, "trading_days": len(result.record.equity),
        "orders": len(result.record.orders),
        # LEAN's statistics step (lean_local/engine/lean_statistics.py): budget 5% of the backtest's wall time
        "statistics_seconds": round(result.run_info["statistics_seconds"], 3),
        "statistics_budget_seconds": round(0.05 * wall, 3),
        "lean_statistics": result.statistics["lean"], "statistics": result.statistics["algorithm"],
        "benchmark_statistics": result.statistics["benchmark"], "profile_cumulative_top": top})
