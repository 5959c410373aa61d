"""The risk-free rate file LEAN's statistics read: ``alternative/interest-rate/usa/interest-rate.csv``.

LEAN's ``InterestRateProvider`` (``Lean:Common/Data/InterestRateProvider.cs``) reads the Federal Reserve's
primary credit rate from this file: a header line, then ``yyyy-MM-dd,rate in percent`` for each change; without
the file every date gets its default of 1%. The Sharpe, Sortino, Alpha, Treynor and Probabilistic Sharpe ratios
use the average of this rate over the backtest.

The figures shipped in ``fed_primary_credit_rate.csv`` are the changes of the primary credit rate
(Board of Governors of the Federal Reserve System, series PCREDIT8 on FRED, https://fred.stlouisfed.org/series/PCREDIT8;
public domain), 2003-01-09 to 2023-07-27: the same changes as the file in LEAN's repository (Data/alternative/
interest-rate/usa/interest-rate.csv at QuantConnect/Lean 2486390), so the runner's ratios use the rate LEAN uses.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .lean_format import atomic_write_bytes

RELATIVE_PATH = Path("alternative") / "interest-rate" / "usa" / "interest-rate.csv"
SOURCE = ("Fed primary credit rate changes 2003-01-09..2023-07-27 (FRED PCREDIT8, Board of Governors of the "
          "Federal Reserve System), as in LEAN's Data/alternative/interest-rate/usa/interest-rate.csv")


def primary_credit_rate_csv() -> bytes:
    """The shipped rate table, in LEAN's format (``DATE,PCREDIT8`` header, one change per line)."""
    return resources.files(__package__).joinpath("fed_primary_credit_rate.csv").read_bytes()


def write_interest_rates(data_dir: str | Path) -> Path:
    """Write LEAN's interest-rate file into the data folder ``data_dir``; returns its path."""
    path = Path(data_dir) / RELATIVE_PATH
    atomic_write_bytes(path, primary_credit_rate_csv())
    return path
