"""``python -m lean_local compare``: runs side by side over their common dates, as one published folder.

The folder holds ``report.html`` (tables and charts, self-contained), ``comparison.json`` (everything, with the
conventions), ``runs.csv`` (one row per compared run) and ``groups.csv`` (seed groups), and ``run.json`` (what was
compared, written last: the completion marker). It is published like a backtest folder (staged beside its final
name, renamed under a lock: :class:`lean_local.engine.output_folder.BacktestOutput`).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from ..data.lean_format import atomic_write_bytes
from ..engine.output_folder import MARKER, BacktestOutput
from ..engine.project import find_cli_root
from . import inference
from .loading import COMPARISON_KIND, Group, Run, group_runs, load_inputs
from .window import common_dates, daily_returns, monthly_returns, run_window_statistics

log = logging.getLogger(__name__)

HEADLINE = ["Sharpe Ratio", "Compounding Annual Return", "Drawdown", "Portfolio Turnover", "Total Fees"]
REFERENCE_PROJECT = "top100_baseline"
CONVENTIONS = {
    "window": "the trading dates every compared run has an equity row for (intersection); statistics, tests and "
              "charts use only these dates",
    "lean_statistics": "LEAN's formulas and sampling (lean_local/engine/lean_statistics.py window_statistics) over "
                       "the window, as if each backtest had started on its first date with the previous close as "
                       "its capital (a run's own Start Equity when the window starts on its first day); Portfolio "
                       "Turnover, Total Fees and Total Orders are the window's; Win Rate etc. count the run's "
                       "transaction-record entries inside the window",
    "test_sharpe": "daily simple close-to-close returns on the window's dates, mean / std (ddof 1) x sqrt(252), no "
                   "risk-free rate: NOT LEAN's Sharpe Ratio (geometric annual mean less the Fed primary credit rate)",
    "sharpe_difference": "run minus reference; Ledoit & Wolf (2008, J. Empirical Finance 15, Section 3.1) HAC test "
                         "with a Bartlett kernel and floor(4 (T/100)^(2/9)) lags, and a stationary bootstrap "
                         "(Politis & Romano 1994; arch 8.0.0, Politis-White block length) with its 95% interval; "
                         "the difference is test_sharpe(run) - test_sharpe(reference) (ddof 1), the Ledoit-Wolf "
                         "standard error is the paper's moment formula; a run with flat equity (no variance) gets "
                         "no test, with the reason in 'note'",
    "multiple_testing": "lw_p_value is each run's own test against the reference; lw_p_value_holm adjusts them "
                        "across all runs of this report (Holm 1979, statsmodels multipletests, family-wise error). "
                        "Picking the best of many runs (an optimization's combinations) is not a single test: even "
                        "Holm only controls false rejections run by run; White's (2000) reality check or Hansen's "
                        "(2005) SPA test (arch.bootstrap.SPA) would test whether the best beats the reference, and "
                        "are not implemented here",
    "active_return": "monthly return (month-end closes in the window) of the run minus the reference's; mean, "
                     "Newey-West t-statistic (statsmodels OLS on a constant, cov_type HAC, Bartlett, "
                     "floor(4 (T/100)^(2/9)) lags) and two-sided p-value",
    "seed_groups": "runs of one project whose parameters differ only by 'seed': median across seeds and a "
                   "distribution-free interval for the median from order statistics [x(k), x(n+1-k)], whose exact "
                   "confidence 1 - 2 P(Binomial(n, 1/2) <= k - 1) is reported with it ('confidence'): the "
                   "narrowest such pair with confidence >= 95%, else min..max (1 - 2^(1-n): 75% for 3 seeds, "
                   "87.5% for 4, 93.75% for 5); a bootstrap of the median cannot reach 95% with so few seeds",
}


@dataclass
class Comparison:
    """Everything the report shows, computed once."""

    runs: list[Run]
    skipped: list[Run]
    groups: list[Group]
    reference: Run
    dates: pd.DatetimeIndex
    statistics: dict[str, dict[str, float | None]] = field(default_factory=dict)  # label -> LEAN statistics
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> tests against the reference
    group_summaries: list[dict[str, Any]] = field(default_factory=list)


def choose_reference(runs: list[Run], reference: str | Path | None) -> Run:
    """``--reference`` (a run folder or a label), else the first top100_baseline run, else the first run."""
    if reference is not None:
        wanted = Path(reference).resolve()
        for run in runs:
            if run.path.resolve() == wanted or run.label == str(reference):
                return run
        raise ValueError(f"--reference {reference} is none of the compared completed runs; give one of their "
                         f"folders or labels: {', '.join(r.label for r in runs)}")
    return next((r for r in runs if r.project == REFERENCE_PROJECT), runs[0])


def _tests_against(reference: Run, run: Run, daily: pd.DataFrame, monthly: pd.DataFrame, reps: int,
                   seed: int) -> dict[str, Any]:
    a, b = daily[run.label].to_numpy(float), daily[reference.label].to_numpy(float)
    lw = inference.ledoit_wolf_test(a, b)
    boot, interval = inference.bootstrap_test(a, b, reps=reps, seed=seed)
    active = monthly[run.label] - monthly[reference.label]
    nw = inference.newey_west_mean(active.to_numpy(float)) if len(active) >= 3 else None
    return {"test_sharpe": inference.sharpe(a), "reference_test_sharpe": inference.sharpe(b),
            "sharpe_difference": lw.difference, "ledoit_wolf": asdict(lw), "bootstrap": asdict(boot),
            "bootstrap_95": list(interval), "note": lw.note or boot.note,
            "monthly_active": asdict(nw) if nw else None}


def holm_adjusted(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment of the finite p-values (a flat run's NaN stays NaN and is not counted): testing
    every run against the reference is one family of tests, whose raw p-values overstate the evidence."""
    finite = {k: v for k, v in p_values.items() if v is not None and math.isfinite(v)}
    out = {k: math.nan for k in p_values}
    if finite:
        adjusted = multipletests(list(finite.values()), method="holm")[1]
        out.update(zip(finite, (float(x) for x in adjusted)))
    return out


MEDIAN_CONFIDENCE = 0.95


def order_statistic_rank(n: int, level: float = MEDIAN_CONFIDENCE) -> tuple[int, float]:
    """The largest k (1-based) whose [x(k), x(n+1-k)] covers the median with probability >= ``level``, and that
    exact probability 1 - 2 P(Binomial(n, 1/2) <= k - 1); k = 1 (min..max) when even that falls short, as it does
    for n <= 5. Distribution-free: it needs only independent seeds, unlike a bootstrap of 3-5 values."""
    k = 1
    while k + 1 <= (n + 1) // 2 and 1 - 2 * scipy_stats.binom.cdf(k, n, 0.5) >= level:
        k += 1
    return k, float(1 - 2 * scipy_stats.binom.cdf(k - 1, n, 0.5))


def median_interval(values: list[float | None]) -> dict[str, Any]:
    """Median across seeds and its order-statistic interval with the interval's exact confidence
    (:func:`order_statistic_rank`); no interval below two values."""
    clean = np.sort(np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float))
    if not len(clean):
        return {"median": None, "low": None, "high": None, "n": 0, "confidence": None}
    median = float(np.median(clean))
    if len(clean) < 2:
        return {"median": median, "low": None, "high": None, "n": 1, "confidence": None}
    k, confidence = order_statistic_rank(len(clean))
    return {"median": median, "low": float(clean[k - 1]), "high": float(clean[len(clean) - k]),
            "n": len(clean), "confidence": confidence}


def summarize_group(group: Group, statistics: dict[str, dict[str, float | None]],
                    tests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A seed group's headline statistics (and test Sharpe difference) across its seeds."""
    out: dict[str, Any] = {"group": group.label, "seeds": [r.seed for r in group.runs],
                           "runs": [r.label for r in group.runs]}
    for name in HEADLINE:
        out[name] = median_interval([statistics[r.label].get(name) for r in group.runs])
    out["sharpe_difference"] = median_interval([tests[r.label]["sharpe_difference"] for r in group.runs
                                                if r.label in tests])
    return out


def compare(inputs: list[str | Path], reference: str | Path | None = None, names: dict[Path, str] | None = None,
            bootstrap_reps: int = 1000, seed: int = 0) -> Comparison:
    """Load, align and compute (no files written)."""
    runs, skipped = load_inputs([Path(p) for p in inputs], names)
    if not runs:
        raise ValueError("no completed run to compare: " + "; ".join(f"{r.path}: {r.problem}" for r in skipped))
    ref = choose_reference(runs, reference)
    dates = common_dates(runs)
    result = Comparison(runs, skipped, group_runs(runs), ref, dates)
    for run in runs:
        result.statistics[run.label] = run_window_statistics(run, dates)
    daily, monthly = daily_returns(runs, dates), monthly_returns(runs, dates)
    for run in runs:
        if run is not ref:
            result.tests[run.label] = _tests_against(ref, run, daily, monthly, bootstrap_reps, seed)
    holm = holm_adjusted({label: test["ledoit_wolf"]["p_value"] for label, test in result.tests.items()})
    for label, adjusted in holm.items():
        result.tests[label]["lw_p_value_holm"] = adjusted
    result.group_summaries = [summarize_group(g, result.statistics, result.tests)
                              for g in result.groups if g.is_seed_group]
    return result


def runs_table(result: Comparison) -> pd.DataFrame:
    """One row per compared run: LEAN's statistics on the window and the tests against the reference."""
    group_of = {r.label: g.label for g in result.groups for r in g.runs}
    rows = []
    for run in result.runs:
        test = result.tests.get(run.label, {})
        active = test.get("monthly_active") or {}
        own = run.statistics.get("algorithm") or {}  # the run's own statistics.json, over its own dates
        rows.append({
            "run": run.label, "group": group_of[run.label], "seed": run.seed, "path": str(run.path),
            "own_first_date": str(run.loaded.index[0].date()), "own_last_date": str(run.loaded.index[-1].date()),
            "reference": run is result.reference, **result.statistics[run.label],
            "run Portfolio Turnover": own.get("Portfolio Turnover"), "run Total Fees": own.get("Total Fees"),
            "test_sharpe": test["test_sharpe"] if "test_sharpe" in test else _test_sharpe(run, result.dates),
            "sharpe_difference": test.get("sharpe_difference"),
            "lw_p_value": (test.get("ledoit_wolf") or {}).get("p_value"),
            "lw_p_value_holm": test.get("lw_p_value_holm"),
            "bootstrap_p_value": (test.get("bootstrap") or {}).get("p_value"),
            "bootstrap_95_low": (test.get("bootstrap_95") or [None, None])[0],
            "bootstrap_95_high": (test.get("bootstrap_95") or [None, None])[1],
            "monthly_active_mean": active.get("mean"), "monthly_active_t": active.get("t_stat"),
            "monthly_active_p_value": active.get("p_value"), "note": test.get("note")})
    return pd.DataFrame(rows)


def _test_sharpe(run: Run, dates: pd.DatetimeIndex) -> float:
    """The test Sharpe of a run without tests (the reference), computed only for it: the others carry theirs."""
    return inference.sharpe(daily_returns([run], dates)[run.label].to_numpy(float))


def groups_table(result: Comparison) -> pd.DataFrame:
    rows = []
    for summary in result.group_summaries:
        row: dict[str, Any] = {"group": summary["group"], "seeds": " ".join(str(s) for s in summary["seeds"])}
        for name in [*HEADLINE, "sharpe_difference"]:
            cell = summary[name]
            row.update({f"{name} median": cell["median"], f"{name} low": cell["low"],
                        f"{name} high": cell["high"], f"{name} confidence": cell["confidence"]})
        rows.append(row)
    return pd.DataFrame(rows)


def to_json(result: Comparison) -> dict[str, Any]:
    return {
        "window": {"first": str(result.dates[0].date()), "last": str(result.dates[-1].date()),
                   "trading_days": len(result.dates)},
        "reference": result.reference.label,
        "runs": runs_table(result).to_dict(orient="records"),
        "statistics": result.statistics, "tests": result.tests, "seed_groups": result.group_summaries,
        "skipped": [{"path": str(r.path), "problem": r.problem} for r in result.skipped],
        "conventions": CONVENTIONS}


def _default_parent(result: Comparison) -> Path:
    """``comparisons/`` at the LEAN CLI root of the first run (the repository), else the working folder."""
    root = find_cli_root(result.runs[0].path.resolve()) or Path.cwd()
    return root / "comparisons"


def write_report(result: Comparison, out: str | Path | None = None, argv: list[str] | None = None) -> Path:
    """Write and publish the report folder; returns its final path."""
    from .html import render_html  # matplotlib only when writing

    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    sink = BacktestOutput.begin(out, _default_parent(result), stamp)
    try:
        payload = to_json(result)

        def put(name: str, data: bytes) -> None:
            atomic_write_bytes(sink.staging / name, data)

        put("comparison.json", json.dumps(_finite(payload), indent=1, default=_json_default,
                                          allow_nan=False).encode())
        put("runs.csv", runs_table(result).to_csv(index=False).encode())
        put("groups.csv", groups_table(result).to_csv(index=False).encode())
        put("report.html", render_html(result, payload).encode())
        put(MARKER, json.dumps({"kind": COMPARISON_KIND, "status": "completed", "argv": argv,
                                "inputs": [str(r.path) for r in result.runs],
                                "skipped": payload["skipped"]}, indent=1).encode())
    except BaseException:
        sink.discard()
        raise
    return sink.publish(True)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null (a flat series' t-statistic, an empty interval)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return str(value)
