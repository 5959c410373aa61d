"""A QuantStats tear sheet of a run (``tearsheet.html``), under QuantStats' name and with its conventions stated.

The tear sheet is QuantStats' view, not LEAN's: its Sharpe, CAGR and drawdown use QuantStats' conventions (listed
on the page) and differ from the LEAN statistics in ``statistics.json``. It compares the run with SPY and, for a
model algorithm (any project but ``top100_baseline``), with the newest ``top100_baseline`` run in
``algorithms/top100_baseline/backtests/`` whose ``equity.csv`` covers the run's dates, and says which one.
QuantStats renders about twenty charts (some 10-15 s on two cores), so ``--no-tearsheet`` skips it.
"""
from __future__ import annotations

import html
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)
BASELINE = "top100_baseline"
QUANTSTATS_CONVENTIONS = ("QuantStats {version} conventions, not LEAN's: simple returns of the daily 16:00 equity "
                          "(trading days only, no weekend samples), 252 periods a year, risk-free rate 0, compounded "
                          "returns; LEAN's statistics for this run, by LEAN's formulas, are in statistics.json.")


@dataclass(frozen=True)
class BaselineRun:
    """A top100_baseline run used for comparison: its folder and its equity over the compared dates."""

    folder: Path
    equity: pd.Series


def _finished(folder: Path) -> bool:
    try:
        return json.loads((folder / "run.json").read_text()).get("status") != "failed"
    except (OSError, ValueError, AttributeError):
        return False


def find_baseline_run(backtests: Path, first: pd.Timestamp, last: pd.Timestamp) -> BaselineRun | None:
    """The newest run (by ``equity.csv`` modification time) in ``backtests`` whose equity covers first..last.
    Only finished, successful runs count: ``run.json`` (written last) present and not ``"status": "failed"``, so a
    run still being written or one that crashed part way is never the comparison (``output_folder.py``)."""
    if not backtests.is_dir():
        return None
    candidates = sorted((p for p in backtests.glob("*/equity.csv") if _finished(p.parent)),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            equity = pd.read_csv(path, parse_dates=["date"], index_col="date")["equity"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: not a readable equity.csv (%s); skipped as a comparison run", path, exc)
            continue
        if len(equity) and equity.index[0] <= first and equity.index[-1] >= last:
            return BaselineRun(path.parent, equity.loc[first:last])
    return None


def _note(text: str, page: str) -> str:
    """Insert a paragraph under QuantStats' header (before its first rule), or at the top of the body."""
    paragraph = f'<p style="color:#555">{html.escape(text)}</p>\n'
    at = page.find("<hr>")
    return page[:at] + paragraph + page[at:] if at >= 0 else paragraph + page


def write_tearsheet(path: Path, equity: pd.DataFrame, name: str, baseline_backtests: Path | None) -> str:
    """Write ``path`` (QuantStats HTML) for the run's ``equity`` frame (``equity``, ``benchmark`` per trading day);
    ``baseline_backtests`` is where top100_baseline runs live (None for the baseline itself). Returns what happened
    (seconds taken, or why there is no tear sheet): a QuantStats failure never fails the backtest."""
    began = time.perf_counter()
    try:
        _render(path, equity, name, baseline_backtests)
    except Exception as exc:  # noqa: BLE001 - QuantStats raises anything on short or degenerate series
        log.warning("no tearsheet.html: QuantStats failed on this run's returns (%s: %s); statistics.json is "
                    "unaffected", type(exc).__name__, exc)
        return f"not written: QuantStats failed ({type(exc).__name__}: {exc})"
    return f"written in {time.perf_counter() - began:.1f} s"


def _render(path: Path, equity: pd.DataFrame, name: str, baseline_backtests: Path | None) -> None:
    import quantstats as qs  # imported here: QuantStats is only needed for the tear sheet

    returns = pd.DataFrame({name: equity["equity"].pct_change()})
    notes = [QUANTSTATS_CONVENTIONS.format(version=qs.__version__)]
    if baseline_backtests is not None:
        found = find_baseline_run(baseline_backtests, equity.index[0], equity.index[-1])
        if found is None:
            notes.append(f"No {BASELINE} run in {baseline_backtests} covers {equity.index[0].date()}.."
                         f"{equity.index[-1].date()}; compared with SPY only.")
        else:
            returns[BASELINE] = found.equity.reindex(equity.index).pct_change()
            notes.append(f"{BASELINE} column: the run in {found.folder}, over the same dates.")
    returns = returns.iloc[1:].fillna(0.0)
    benchmark = None
    if (equity["benchmark"] > 0).all():
        benchmark = equity["benchmark"].pct_change().iloc[1:].rename("SPY")
    else:
        notes.append("The benchmark column is not a positive price series (a security benchmark without LEAN's "
                     "hourly feed stays at 0), so there is no SPY comparison.")
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)  # QuantStats asks for Arial, which most Linux machines lack
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qs.reports.html(returns if returns.shape[1] > 1 else returns[name], benchmark, rf=0.0,
                            title=f"{name} (QuantStats tear sheet)", output=str(path), periods_per_year=252,
                            compounded=True, benchmark_title="SPY", strategy_title=name)
    finally:
        font_log.setLevel(level)
    path.write_text(_note(" ".join(notes), path.read_text()))
