"""``lean_local data import``: vendor CSVs -> a LEAN data folder.

Everything is read and validated before the first file is written, so a bad input row stops
the import with its file and line and leaves the data folder as it was. Incomplete data (gaps
in a ticker's dates, index members without prices) is reported, not fatal.

An import is a transaction (:mod:`lean_local.data.transaction`): it owns the whole output folder,
writes a new one beside it with the report ``lean_local_import.json`` (the completion marker) last,
and swaps it in by renames; a kill at any moment leaves the previous complete folder or the new one.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import factors as fx
from .errors import DataError, Problem
from .lean_format import (atomic_write_bytes, universe_dir, universe_file_text, write_daily_zip,
                          write_factor_file, write_map_file)
from .market_files import write_market_hours, write_symbol_properties
from .interest_rate import SOURCE as INTEREST_RATE_SOURCE, write_interest_rates
from .sid import equity_sid
from .transaction import MARKER, ImportTransaction, pause_point
from .vendor_csv import PriceTable, read_benchmark, read_membership, read_prices

log = logging.getLogger(__name__)

WEIGHT_WINDOW = 63
REPORT_NAME = MARKER  # the report is the completion marker: written last, readers require it


@dataclass
class ImportReport:
    """What the import wrote and what it could not use; saved next to the data."""

    sources: dict[str, str]
    layout: str
    start: str
    end: str
    tickers_written: int = 0
    delisted: list[str] = field(default_factory=list)
    members_without_prices: list[str] = field(default_factory=list)
    gaps: dict[str, list[str]] = field(default_factory=dict)
    ignored_events: list[str] = field(default_factory=list)
    universe_files: int = 0
    weight_proxy: str = (f"trailing {WEIGHT_WINDOW}-day mean dollar volume (close x volume) among that day's "
                         "members with a bar that day, using data up to and including that day, normalised to 1")
    notes: list[str] = field(default_factory=list)


def _find_gaps(frame: pd.DataFrame, calendar: pd.DatetimeIndex) -> dict[str, list[str]]:
    gaps: dict[str, list[str]] = {}
    cal = calendar.to_numpy()
    for ticker, dates in frame.groupby("ticker", sort=False)["date"]:
        d = dates.to_numpy()
        inside = cal[(cal >= d[0]) & (cal <= d[-1])]
        if len(inside) != len(d):
            missing = np.setdiff1d(inside, d)
            gaps[str(ticker)] = [str(x)[:10] for x in missing]
    return gaps


def _off_calendar(frame: pd.DataFrame, calendar: pd.DatetimeIndex, source: str) -> list[Problem]:
    bad = frame[~frame["date"].isin(calendar)].sort_values("line")
    return [Problem("date is not a trading day of the benchmark calendar", source, int(r.line), str(r.ticker),
                    str(r.date)[:10]) for r in bad.head(20).itertuples(index=False)]


def _ticker_factors(layout: str, ticker: str, bars: pd.DataFrame, skipped: list[Problem],
                    source: str) -> list[fx.FactorRow]:
    dates = bars["date"].to_numpy()
    if layout == "events":
        return fx.factors_from_events(ticker, dates, bars["close"].to_numpy(), bars["dividend_amount"].to_numpy(),
                                      bars["split_coefficient"].to_numpy(), skipped, lines=bars["line"].to_numpy(),
                                      source=source)
    return fx.factors_from_adjusted_close(dates, bars["close"].to_numpy(), bars["adj_close"].to_numpy())


def membership_matrix(members: pd.DataFrame, dates: pd.DatetimeIndex, tickers: pd.Index) -> np.ndarray:
    """Boolean (dates x tickers): member on day D when start <= D < end (end exclusive, empty = open)."""
    mask = np.zeros((len(dates), len(tickers)), dtype=bool)
    col = {t: i for i, t in enumerate(tickers)}
    d = dates.to_numpy()
    for spell in members.itertuples(index=False):
        j = col.get(spell.ticker)
        if j is None:
            continue
        inside = d >= np.datetime64(spell.start)
        if not pd.isna(spell.end):
            inside &= d < np.datetime64(spell.end)
        mask[:, j] |= inside
    return mask


def universe_weights(dollar_volume: pd.DataFrame, member: np.ndarray) -> pd.DataFrame:
    """Weight proxy per day: trailing mean dollar volume of members trading that day, summing to 1.

    ``dollar_volume`` is (dates x tickers) with NaN where a ticker has no bar. The rolling mean at
    row D uses rows up to D only, so the file for D never sees later data.
    """
    trailing = dollar_volume.rolling(WEIGHT_WINDOW, min_periods=1).mean()
    eligible = member & dollar_volume.notna().to_numpy()
    raw = np.where(eligible, trailing.to_numpy(), 0.0)
    totals = raw.sum(axis=1, keepdims=True)
    weights = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
    return pd.DataFrame(weights, index=dollar_volume.index, columns=dollar_volume.columns)


def _write_universe(out: Path, weights: pd.DataFrame, sids: dict[str, str], etf: str) -> int:
    tickers = weights.columns.to_numpy()
    values = weights.to_numpy()
    folder = universe_dir(out, etf)
    count = 0
    for i, day in enumerate(tqdm(weights.index, desc="universe files", unit="day", leave=False, disable=None)):
        nz = np.flatnonzero(values[i] > 0)
        if len(nz) == 0:
            continue
        order = nz[np.argsort(-values[i, nz], kind="stable")]
        text = universe_file_text([str(t) for t in tickers[order]], [sids[t] for t in tickers[order]],
                                  day.date(), values[i, order])
        atomic_write_bytes(folder / f"{day:%Y%m%d}.csv", text.encode())
        count += 1
    return count


def _write_benchmark(out: Path, bench: pd.DataFrame) -> None:
    divisor = fx.raw_from_total_return(bench["close"].to_numpy(), bench["dividends"].to_numpy())
    raw = bench.copy()
    for col in ["open", "high", "low", "close"]:
        raw[col] = bench[col] / divisor
    rows = fx.factors_from_events("SPY", raw["date"].to_numpy(), raw["close"].to_numpy(),
                                  bench["dividends"].to_numpy(), np.ones(len(raw)))
    write_daily_zip(out, "SPY", raw)
    write_factor_file(out, "SPY", rows)
    write_map_file(out, "SPY", raw["date"].iloc[0].date(), None, exchange="P")


def import_data(prices_path: str | Path, membership_path: str | Path, benchmark_path: str | Path,
                out: str | Path, start: str | None = None, end: str | None = None, etf: str = "spy",
                strict_gaps: bool = False) -> ImportReport:
    """Validate all inputs, then replace the LEAN data folder ``out`` whole; returns (and saves) the report.

    ``out`` must be new, empty or an earlier import's folder: everything in it is replaced, including files a
    user added. A failure or kill leaves the previous complete folder (see :mod:`.transaction`)."""
    with ImportTransaction(out) as tx:
        table: PriceTable = read_prices(prices_path)
        members = read_membership(membership_path)
        bench = read_benchmark(benchmark_path)
        lo = pd.Timestamp(start) if start else table.frame["date"].min()
        hi = pd.Timestamp(end) if end else bench["date"].max()
        bench = bench[(bench["date"] >= lo) & (bench["date"] <= hi)].reset_index(drop=True)
        frame = table.frame[(table.frame["date"] >= lo) & (table.frame["date"] <= hi)]
        if bench.empty or frame.empty:
            empty = benchmark_path if bench.empty else prices_path
            raise DataError(Problem(f"no rows between {lo.date()} and {hi.date()}; check --start and --end",
                                    file=str(empty)))
        calendar = pd.DatetimeIndex(bench["date"])
        problems = _off_calendar(frame, calendar, table.source)
        if problems:
            raise DataError(problems, hint="Every price date must be a benchmark trading day; nothing was written.")
        gaps = _find_gaps(frame, calendar)
        if gaps and strict_gaps:
            raise DataError([Problem(f"{len(v)} missing trading days, first {v[0]}", symbol=k) for k, v in gaps.items()],
                            hint="Run without --strict-gaps to import anyway (missing bars are simply absent).")
        report = ImportReport(sources={"prices": str(prices_path), "membership": str(membership_path),
                                       "benchmark": str(benchmark_path)},
                              layout=table.layout, start=str(lo.date()), end=str(hi.date()), gaps=gaps)
        if table.layout == "adjusted":
            report.notes.append("adjusted layout: written prices are split-adjusted, factor files carry dividends only")
        _write_folder(tx.begin(), report, table, frame, members, bench, calendar, etf)
        tx.commit()
    _log_incomplete(report, prices_path)
    return report


def _write_folder(out: Path, report: ImportReport, table: PriceTable, frame: pd.DataFrame, members: pd.DataFrame,
                  bench: pd.DataFrame, calendar: pd.DatetimeIndex, etf: str) -> None:
    """Write every file of the data folder into the (staging) folder ``out``, the report last."""
    # Factors come from in-window bars only: an event before `start` scales no bar inside the window.
    sids: dict[str, str] = {}
    skipped: list[Problem] = []
    last_day = calendar[-1]
    for ticker, bars in tqdm(frame.groupby("ticker", sort=True), desc="tickers", unit="ticker", leave=False, disable=None):
        bars = bars.reset_index(drop=True)
        rows = _ticker_factors(table.layout, str(ticker), bars, skipped, table.source)
        first, last = bars["date"].iloc[0].date(), bars["date"].iloc[-1]
        delisted = last < last_day
        write_daily_zip(out, str(ticker), bars)
        write_factor_file(out, str(ticker), rows)
        write_map_file(out, str(ticker), first, last.date() if delisted else None)
        sids[str(ticker)] = equity_sid(str(ticker), first)
        if delisted:
            report.delisted.append(str(ticker))
    pause_point("writing")
    report.tickers_written = len(sids)
    report.ignored_events = [str(p) for p in skipped]
    for problem in skipped:
        log.warning("%s", problem)
    _write_benchmark(out, bench)
    dollar_volume = (frame.assign(dv=frame["close"] * frame["volume"])
                     .pivot(index="date", columns="ticker", values="dv").reindex(calendar))
    member = membership_matrix(members, calendar, dollar_volume.columns)
    lo, hi = pd.Timestamp(report.start), pd.Timestamp(report.end)
    report.members_without_prices = sorted(
        set(members.loc[(members["start"] <= hi) & (members["end"].isna() | (members["end"] > lo)), "ticker"])
        - set(sids))
    weights = universe_weights(dollar_volume, member)
    report.universe_files = _write_universe(out, weights, sids, etf)
    write_market_hours(out, calendar)
    write_symbol_properties(out)
    write_interest_rates(out)  # the risk-free rate of LEAN's statistics
    report.notes.append(f"alternative/interest-rate/usa/interest-rate.csv: {INTEREST_RATE_SOURCE}")
    atomic_write_bytes(out / REPORT_NAME, json.dumps(asdict(report), indent=1).encode())  # last: the marker


def _log_incomplete(report: ImportReport, prices_path: str | Path) -> None:
    if report.members_without_prices:
        shown = ", ".join(report.members_without_prices[:10])
        log.warning("%d index members have no prices in %s and are left out of the universe files (%s%s); "
                    "the full list is in %s", len(report.members_without_prices), prices_path, shown,
                    ", ..." if len(report.members_without_prices) > 10 else "", REPORT_NAME)
    for ticker, missing in report.gaps.items():
        log.warning("%s: %d trading days without a bar (first %s)", ticker, len(missing), missing[0])
