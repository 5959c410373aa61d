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
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd

from .errors import DataError, Problem
from .lean_format import INT64_LIMIT, MAX_PRICE, PRICE_SCALE, ticker_problem

PRICE_COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume"]
EVENT_COLUMNS = ["dividend_amount", "split_coefficient"]
ADJUSTED_COLUMNS = ["adj_close"]
OHLC = ["open", "high", "low", "close"]
Layout = Literal["events", "adjusted"]
FIX_ROWS = "Fix or remove these rows and run the import again; nothing was written."
MAX_SHOWN = 20  # problems listed per kind of check


@dataclass(frozen=True)
class PriceTable:
    """Validated daily bars of many tickers, sorted by ticker then date; ``line`` is each row's line in the file."""

    frame: pd.DataFrame
    layout: Layout
    source: str


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


# What a truncated or corrupt (gzip) file raises while being read.
UNREADABLE = (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)


def _unreadable(path: Path, exc: BaseException) -> DataError:
    kind = "gzip" if path.suffix == ".gz" else "text"
    return DataError(Problem(f"cannot read this {kind} file, truncated or corrupt ({type(exc).__name__}: {exc}); "
                             f"{'check it with `gzip -t`, then ' if kind == 'gzip' else ''}fetch or rebuild it",
                             file=str(path)))


def _header(path: Path) -> list[str]:
    try:
        with _open_text(path) as handle:
            first = handle.readline()
    except UNREADABLE as exc:
        raise _unreadable(path, exc) from exc
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
        for row in reader:
            line_no = reader.line_num
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
    """The file's rows with a ``line`` column (the physical line, header = 1); blank lines are dropped."""
    dtypes = {c: "float64" for c in numeric}
    dtypes.update({"ticker": "string", "date": "string"})
    try:
        # No usecols: with it pandas silently accepts rows with too many fields. Blank lines are kept as
        # empty rows so that row i is line i + 2, then dropped.
        frame = pd.read_csv(path, dtype=dtypes, engine="c", skip_blank_lines=False)
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        frame = frame[columns]
        frame.insert(0, "line", frame.index.to_numpy() + 2)
        frame = frame[~frame[columns].isna().all(axis=1)]
        frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    except UNREADABLE as exc:
        raise _unreadable(path, exc) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        try:
            problems = _locate_bad_lines(path, columns, numeric)
        except UNREADABLE as inner:
            raise _unreadable(path, inner) from inner
        if not problems:
            problems = [Problem(f"could not parse: {exc}", str(path))]
        raise DataError(problems, hint=FIX_ROWS) from exc
    if frame.empty:
        raise DataError(Problem("the file has no rows (only a header): nothing to import", file=str(path)))
    return frame.reset_index(drop=True)


class _Checks:
    """Collects located problems for the rows of one file, at most ``MAX_SHOWN`` per kind."""

    def __init__(self, frame: pd.DataFrame, path: Path) -> None:
        self.frame = frame
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, mask: np.ndarray, message: str | Callable[[pd.Series], str]) -> None:
        """A problem for each row where ``mask`` holds; ``message`` is a string or a function of the row."""
        for i in np.flatnonzero(mask)[:MAX_SHOWN]:
            row = self.frame.iloc[i]
            text = message(row) if callable(message) else message
            date = None if pd.isna(row["date"]) else str(row["date"])[:10]
            ticker = None if pd.isna(row["ticker"]) else str(row["ticker"])
            self.problems.append(Problem(text, self.path, int(row["line"]), ticker, date))


def _check_range(checks: _Checks, positive: list[str], non_negative: list[str]) -> None:
    """Present, finite, positive where required, and within what LEAN's integer files hold."""
    frame = checks.frame
    for col in positive + non_negative:
        values = frame[col].to_numpy(dtype=float)
        checks.add(np.isnan(values), f"missing value in column {col!r}")
        checks.add(np.isinf(values), lambda r, c=col: f"{c} {r[c]} is not a finite number")
    for col in positive:
        checks.add((frame[col] <= 0).to_numpy(), f"non-positive {col}; prices must be > 0")
    for col in non_negative:
        checks.add((frame[col] < 0).to_numpy(), f"negative {col}")
    for col in [c for c in OHLC + ["adj_close"] if c in frame]:
        values = frame[col].to_numpy(dtype=float)
        checks.add(np.isfinite(values) & (values > MAX_PRICE), lambda r, c=col: (
            f"{c} {r[c]} is above {MAX_PRICE:.6g}, the largest price LEAN's files hold (price x {PRICE_SCALE} "
            "as a 64-bit integer)"))
    volume = frame["volume"].to_numpy(dtype=float)
    checks.add(np.isfinite(volume) & (np.rint(volume) >= INT64_LIMIT),
               lambda r: f"volume {r['volume']} does not fit LEAN's 64-bit integer volume")


def _check_ohlc(checks: _Checks) -> None:
    """high >= max(open, close) >= min(open, close) >= low, compared as LEAN stores them (deci-cents), so
    float noise such as a high 1e-15 below the close (the dev SPY file has it) is not an error."""
    frame = checks.frame
    with np.errstate(invalid="ignore", over="ignore"):
        o, h, l, c = (np.rint(frame[col].to_numpy(dtype=float) * PRICE_SCALE) for col in OHLC)
    usable = np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c)
    checks.add(usable & (h < np.maximum(o, c)), lambda r: (
        f"high {r['high']} is below max(open, close) {max(r['open'], r['close'])}; expected low <= open, close <= high"))
    checks.add(usable & (l > np.minimum(o, c)), lambda r: (
        f"low {r['low']} is above min(open, close) {min(r['open'], r['close'])}; expected low <= open, close <= high"))
    # high >= low follows from the two checks: a row that passes both has high >= max >= min >= low.


def _check_tickers(checks: _Checks) -> None:
    """Missing tickers, and tickers that cannot name a file (reported once each, at their first line)."""
    tickers = checks.frame["ticker"]
    checks.add((tickers.isna() | (tickers.str.strip() == "")).fillna(True).to_numpy(), "missing ticker")
    first_rows = tickers.dropna().drop_duplicates()
    bad = {t: ticker_problem(t) for t in first_rows if t.strip() and ticker_problem(t)}
    mask = tickers.isin(list(bad)).fillna(False).to_numpy() & ~tickers.duplicated().to_numpy()
    checks.add(mask, lambda r: bad[r["ticker"]])


def _check_values(frame: pd.DataFrame, path: Path, positive: list[str], non_negative: list[str]) -> list[Problem]:
    checks = _Checks(frame, path)
    _check_tickers(checks)
    checks.add(frame["date"].isna().to_numpy(), "missing date")
    _check_range(checks, positive, non_negative)
    _check_ohlc(checks)
    dup = frame.duplicated(["ticker", "date"], keep="first").to_numpy()
    checks.add(dup, "duplicated date for this ticker (each ticker needs one row per date)")
    return sorted(checks.problems, key=lambda p: p.line or 0)


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
        raise DataError(problems, hint=FIX_ROWS)
    frame = frame.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    return PriceTable(frame=frame, layout=layout, source=str(path))


def _membership_rows(path: Path) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """``(line, fields)`` of each non-blank row after the header; rows with the wrong field count are problems.
    Read with the csv module (the file is small), so every line number is the file's own."""
    rows: list[tuple[int, list[str]]] = []
    problems: list[Problem] = []
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            width = len(next(reader))
            for fields in reader:
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) != width:
                    problems.append(Problem(f"expected {width} fields, found {len(fields)}", str(path), reader.line_num,
                                            fields[0].strip().upper() or None))
                else:
                    rows.append((reader.line_num, fields))
    except UNREADABLE as exc:
        raise _unreadable(path, exc) from exc
    except csv.Error as exc:
        raise DataError(Problem(f"not a readable CSV ({exc})", str(path))) from exc
    return rows, problems


def read_membership(path: str | Path) -> pd.DataFrame:
    """Membership spells ``ticker,start_date,end_date``; an empty end means still a member."""
    path = Path(path)
    header = _header(path)
    if header[:3] != ["ticker", "start_date", "end_date"]:
        raise DataError(Problem(f"expected header ticker,start_date,end_date; found {header}", str(path), 1))
    rows, problems = _membership_rows(path)
    if not rows and not problems:
        raise DataError(Problem("the file has no rows (only a header): no index members to import", file=str(path)))
    tickers, starts, ends = [], [], []
    for line, fields in rows:
        ticker = fields[0].strip().upper()
        try:
            start = pd.Timestamp(fields[1]) if fields[1].strip() else pd.NaT
            end = pd.Timestamp(fields[2]) if fields[2].strip() else pd.NaT
        except ValueError:
            problems.append(Problem(f"unparseable date in {fields[1:3]}", str(path), line, ticker))
            continue
        if not ticker:
            problems.append(Problem("missing ticker", str(path), line))
        if pd.isna(start) or (not pd.isna(end) and end < start):
            problems.append(Problem("start_date missing or after end_date", str(path), line, ticker))
        tickers.append(ticker)
        starts.append(start)
        ends.append(end)
    if problems:
        raise DataError(sorted(problems, key=lambda p: p.line or 0), hint="Fix these membership rows; nothing was written.")
    return pd.DataFrame({"ticker": pd.Series(tickers, dtype="string"), "start": pd.Series(starts, dtype="datetime64[ns]"),
                         "end": pd.Series(ends, dtype="datetime64[ns]")})


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
