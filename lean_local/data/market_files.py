"""The market-hours and symbol-properties entries LEAN needs for US equities.

Holidays are derived from the benchmark's calendar (weekdays without a benchmark bar), so the
data folder is self-consistent. Early closes cannot be derived from daily bars and are left
out; with daily data they change nothing in a backtest (bars are stamped at the close either way).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .lean_format import atomic_write_bytes

_SESSION = [
    {"start": "04:00:00", "end": "09:30:00", "state": "premarket"},
    {"start": "09:30:00", "end": "16:00:00", "state": "market"},
    {"start": "16:00:00", "end": "20:00:00", "state": "postmarket"},
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def holidays_from_calendar(trading_days: pd.DatetimeIndex) -> list[pd.Timestamp]:
    weekdays = pd.bdate_range(trading_days.min(), trading_days.max())
    return list(weekdays.difference(trading_days))


def market_hours_entry(trading_days: pd.DatetimeIndex) -> dict:
    entry: dict = {"dataTimeZone": "America/New_York", "exchangeTimeZone": "America/New_York",
                   "sunday": [], "saturday": []}
    for day in _DAYS:
        entry[day] = [dict(s) for s in _SESSION]
    entry["holidays"] = [f"{d.month}/{d.day}/{d.year}" for d in holidays_from_calendar(trading_days)]
    entry["earlyCloses"] = {}
    return entry


def write_market_hours(data_dir: Path, trading_days: pd.DatetimeIndex) -> None:
    document = {"entries": {"Equity-usa-[*]": market_hours_entry(trading_days)}}
    path = data_dir / "market-hours" / "market-hours-database.json"
    atomic_write_bytes(path, json.dumps(document, indent=1).encode())


def write_symbol_properties(data_dir: Path) -> None:
    text = ("market,symbol,type,description,quote_currency,contract_multiplier,minimum_price_variation,"
            "lot_size,market_ticker,minimum_order_size,price_magnifier,strike_multiplier\n"
            "usa,[*],equity,,USD,1,0.01,1\n")
    atomic_write_bytes(data_dir / "symbol-properties" / "symbol-properties-database.csv", text.encode())
