"""Wall time of converting all of ../shared/data/sp500_dev (AlphaVantage raw, 1999-2018) to LEAN's format.

The floor is reading the gzipped CSV with pandas alone (the importer must read it at least once).
"""
from __future__ import annotations

import logging
import tempfile
import time

import pandas as pd

from lean_local.data.importer import import_data
from machine import SHARED, write_result

if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    prices = SHARED / "alphavantage_raw_ohlcv_1999_2018.csv.gz"
    began = time.perf_counter()
    pd.read_csv(prices)
    floor = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as out:
        began = time.perf_counter()
        report = import_data(prices, SHARED / "sp500_membership_spells_to_2018.csv", SHARED / "spy_daily_1993_2018.csv", out)
        wall = time.perf_counter() - began
    write_result("import_dev_data", {
        "wall_seconds": round(wall, 2), "read_csv_floor_seconds": round(floor, 2), "ratio_to_floor": round(wall / floor, 1),
        "tickers": report.tickers_written, "universe_files": report.universe_files, "target_seconds": 120})
