"""Parse and validate the vendor CSVs the importer accepts.

Prices come in one of two layouts:

* ``events``: raw (unadjusted) OHLCV plus ``dividend_amount`` and ``split_coefficient`` on
  ex-dates (the AlphaVantage layout). This is what LEAN's files need: raw prices and factors.
* ``adjusted``: split-adjusted OHLCV plus a dividend-and-split-adjusted ``adj_close`` (the Yahoo
  layout). Splits are already folded into the prices, so the written "raw" prices are
  split-adjusted and only dividend factors can be recovered.

Parsing is fast (typed ``pandas.read_csv``) and falls back to a line-by-line pass only to
locate problems, so every error names the file and line.
"""
from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .errors import DataError, Problem

PRICE_COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume"]
EVENT_COLUMNS = ["dividend_amount", "split_coefficient"]
ADJUSTED_COLUMNS = ["adj_close"]
Layout = Literal["events", "adjusted"]


@dataclass(frozen=True)
class PriceTable:
    """Validated daily bars of many tickers, sorted by ticker then date."""

    frame: pd.DataFrame
    layout: Layout
    source: str


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def _header(path: Path) -> list[str]:
    with _open_text(path) as handle:
        first = handle.readline()
    if not first.strip():
        raise DataError(Problem("file is empty; expected a CSV header", file=str(path), line=1))
    return [c.strip().lower() for c in first.strip().split(",")]


def _locate_bad_lines(path: Path, columns: list[str], numeric: list[str]) -> list[Problem]:
    """Slow pass that names each malformed line; only run after the fast parse failed."""
    problems: list[Problem] = []
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = [c.strip().lower() for c in next(reader)]
        index = {c: header.index(c) for c in columns}
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                problems.append(Problem(f"expected {len(header)} fields, found {len(row)}", str(path), line_no))
                continue
            ticker = row[index["ticker"]] if "ticker" in index else None
            date = row[index["date"]]
            try:
                pd.Timestamp(date)
            except ValueError:
                problems.append(Problem(f"unparseable date {date!r}", str(path), line_no, ticker))
            for col in numeric:
                value = row[index[col]]
                try:
                    float(value)
                except ValueError:
                    problems.append(Problem(f"column {col!r}: {value!r} is not a number", str(path), line_no, ticker, date))
            if len(problems) >= 50:
                break
    return problems


def _read_typed(path: Path, columns: list[str], numeric: list[str]) -> pd.DataFrame:
    dtypes = {c: "float64" for c in numeric}
    dtypes.update({"ticker": "string", "date": "string"})
    try:
        # No usecols: with it pandas silently accepts rows with too many fields.
        frame = pd.read_csv(path, dtype=dtypes, engine="c")
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        frame = frame[columns]
        frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    except (ValueError, pd.errors.ParserError) as exc:
        problems = _locate_bad_lines(path, columns, numeric)
        if not problems:
            problems = [Problem(f"could not parse: {exc}", str(path))]
        raise DataError(problems, hint="Fix or remove these rows and run the import again; nothing was written.") from exc
    return frame


def _check_values(frame: pd.DataFrame, path: Path, positive: list[str], non_negative: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    line = frame.index.to_numpy() + 2  # header is line 1

    def add(mask: np.ndarray, message: str) -> None:
        for i in np.flatnonzero(mask)[:20]:
            row = frame.iloc[i]
            problems.append(Problem(message, str(path), int(line[i]), str(row["ticker"]), str(row["date"])[:10]))

    for col in positive + non_negative:
        add(frame[col].isna().to_numpy(), f"missing value in column {col!r}")
    for col in positive:
        add((frame[col] <= 0).to_numpy(), f"non-positive {col}; prices must be > 0")
    for col in non_negative:
        add((frame[col] < 0).to_numpy(), f"negative {col}")
    add(frame["ticker"].isna().to_numpy() | (frame["ticker"].str.strip() == "").fillna(True).to_numpy(), "missing ticker")
    dup = frame.duplicated(["ticker", "date"], keep="first").to_numpy()
    add(dup, "duplicated date for this ticker (each ticker needs one row per date)")
    return problems


def read_prices(path: str | Path) -> PriceTable:
    """Read a long price CSV in either layout; raise :class:`DataError` naming every bad row."""
    path = Path(path)
    header = _header(path)
    missing = [c for c in PRICE_COLUMNS if c not in header]
    if missing:
        raise DataError(Problem(f"missing columns {missing}; found {header}", str(path), 1))
    if all(c in header for c in EVENT_COLUMNS):
        layout: Layout = "events"
        extra = EVENT_COLUMNS
    elif all(c in header for c in ADJUSTED_COLUMNS):
        layout = "adjusted"
        extra = ADJUSTED_COLUMNS
    else:
        raise DataError(Problem(
            "cannot tell the layout: expected either dividend_amount,split_coefficient (raw prices with "
            "corporate-action events) or adj_close (split-adjusted prices with a dividend-adjusted close)",
            str(path), 1))
    numeric = ["open", "high", "low", "close", "volume"] + extra
    frame = _read_typed(path, ["date", "ticker"] + numeric, numeric)
    frame["ticker"] = frame["ticker"].str.strip().str.upper()
    positive = ["open", "high", "low", "close"] + (["adj_close"] if layout == "adjusted" else ["split_coefficient"])
    non_negative = ["volume"] + (["dividend_amount"] if layout == "events" else [])
    problems = _check_values(frame, path, positive, non_negative)
    if problems:
        raise DataError(problems, hint="Fix or remove these rows and run the import again; nothing was written.")
    frame = frame.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    return PriceTable(frame=frame, layout=layout, source=str(path))


def read_membership(path: str | Path) -> pd.DataFrame:
    """Membership spells ``ticker,start_date,end_date``; an empty end means still a member."""
    path = Path(path)
    header = _header(path)
    if header[:3] != ["ticker", "start_date", "end_date"]:
        raise DataError(Problem(f"expected header ticker,start_date,end_date; found {header}", str(path), 1))
    frame = pd.read_csv(path, dtype="string", keep_default_na=False)
    problems: list[Problem] = []
    starts, ends = [], []
    for i, row in frame.iterrows():
        line = int(i) + 2
        try:
            start = pd.Timestamp(row["start_date"])
            end = pd.Timestamp(row["end_date"]) if row["end_date"].strip() else pd.NaT
        except ValueError:
            problems.append(Problem("unparseable date", str(path), line, row["ticker"]))
            continue
        if pd.isna(start) or (not pd.isna(end) and end < start):
            problems.append(Problem("start_date missing or after end_date", str(path), line, row["ticker"]))
        starts.append(start)
        ends.append(end)
    if problems:
        raise DataError(problems, hint="Fix these membership rows; nothing was written.")
    return pd.DataFrame({"ticker": frame["ticker"].str.strip().str.upper(), "start": starts, "end": ends})


def read_benchmark(path: str | Path) -> pd.DataFrame:
    """The benchmark's daily bars (``spy_daily_1993_2018.csv`` columns): total-return OHLC plus dividends."""
    path = Path(path)
    header = _header(path)
    need = ["date", "open", "high", "low", "close", "volume", "dividends"]
    missing = [c for c in need if c not in header]
    if missing:
        raise DataError(Problem(f"benchmark file lacks columns {missing}", str(path), 1))
    numeric = ["open", "high", "low", "close", "volume", "dividends"]
    frame = _read_typed(path, ["date"] + numeric, numeric)
    frame["ticker"] = "SPY"
    problems = _check_values(frame, path, ["open", "high", "low", "close"], ["volume", "dividends"])
    if problems:
        raise DataError(problems, hint="Fix the benchmark file; nothing was written.")
    return frame.sort_values("date").reset_index(drop=True)
