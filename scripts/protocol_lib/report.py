"""The selection choice, the model's report (seed-averaged series, HAC statistics, ablations as paired
differences, reversal yardsticks, runner backtests), the published files and the runtime estimate."""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lean_local.compare.loading import load_run
from lean_local.data.lean_format import atomic_write_bytes
from models.evaluation import (active_return_summary, forward_returns, ic_summary, newey_west_t, rank_ic_series,
                               reversal_signals)

from .scoring import from_columns
from .specs import ModelSpec

log = logging.getLogger("protocol")
ROOT = Path(__file__).resolve().parents[2]


def window(frame: pd.DataFrame, bounds: tuple[str, str]) -> pd.DataFrame:
    return frame[(frame.index >= pd.Timestamp(bounds[0])) & (frame.index <= pd.Timestamp(bounds[1]))]


def criterion_value(spec: ModelSpec, result: dict[str, Any], bounds: tuple[str, str]) -> float:
    """allocator: mean monthly net active return vs the equal-weight universe; ranker: mean daily rank IC.

    The window's last scored date is left out: its label runs past the window's end (the last decision's
    holding period into the next month, the last day's return to the next trading day), and selection may not
    see a single return of the report window. Every earlier date's label ends inside the window."""
    if spec.criterion == "daily_ic":
        return float(window(from_columns(result["daily"]), bounds)["ic"].iloc[:-1].mean())
    portfolio = window(from_columns(result["portfolio"]), bounds).iloc[:-1]
    return float((portfolio["net"] - portfolio["baseline_net"]).mean())


def choose(spec: ModelSpec, units: list, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate with the best criterion averaged over the selection seeds (grid order breaks ties)."""
    table: dict[str, dict[str, Any]] = {name: {"overrides": o, "per_seed": {}} for name, o in spec.grid.items()}
    for unit, result in zip(units, results):
        table[unit.setting]["per_seed"][str(unit.seed)] = criterion_value(spec, result, spec.select)
    for row in table.values():
        row["mean"] = float(np.nanmean(list(row["per_seed"].values())))
    scored = [(row["mean"], -i, name) for i, (name, row) in enumerate(table.items()) if math.isfinite(row["mean"])]
    chosen = max(scored)[2] if scored else next(iter(spec.grid))
    return {"criterion": spec.criterion, "window": list(spec.select), "seeds": list(spec.selection_seeds),
            "table": table, "chosen": chosen, "frozen_overrides": spec.grid[chosen]}


def seed_frames(results: list[dict[str, Any]], key: str, bounds: tuple[str, str]) -> list[pd.DataFrame]:
    return [window(from_columns(r[key]), bounds) for r in results if key in r]


def seed_mean(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per date, the mean over seeds (seeds share the market: the statistics run on this one series)."""
    return pd.concat(frames).groupby(level=0).mean().sort_index()


def ic_block(frames: list[pd.DataFrame], horizon: int = 1) -> dict[str, Any]:
    averaged = seed_mean(frames)
    out: dict[str, Any] = {}
    for column in ("ic", "partial_ic"):
        out[column] = ic_summary(averaged[column], horizon=horizon)
        per_seed = [float(f[column].mean()) for f in frames]
        out[column]["per_seed_mean"] = per_seed
        out[column]["seed_std"] = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else float("nan")
    return out


def portfolio_block(frames: list[pd.DataFrame], periods: int = 12) -> dict[str, Any]:
    averaged = seed_mean(frames)
    return {"effective_n": float(averaged["effective_n"].mean()), "turnover": float(averaged["turnover"].mean()),
            "baseline_turnover": float(averaged["baseline_turnover"].mean()),
            "active_gross": active_return_summary(averaged["gross"], averaged["baseline_gross"], periods),
            "active_net": active_return_summary(averaged["net"], averaged["baseline_net"], periods),
            "per_seed_active_net": [float((f["net"] - f["baseline_net"]).mean() * periods) for f in frames]}


def setting_block(spec: ModelSpec, results: list[dict[str, Any]]) -> dict[str, Any]:
    periods = int(results[0].get("periods_per_year", 12))
    out = {"seeds": [r["unit"]["seed"] for r in results],
           "monthly": ic_block(seed_frames(results, "monthly", spec.report)),
           "portfolio": portfolio_block(seed_frames(results, "portfolio", spec.report), periods),
           "periods_per_year": periods, "seconds": [r["seconds"] for r in results]}
    daily = seed_frames(results, "daily", spec.report)
    if daily:
        out["daily"] = ic_block(daily)
    return out


def paired_difference(spec: ModelSpec, variant: list[dict], frozen: list[dict]) -> dict[str, Any]:
    """Variant minus frozen, date by date on the seed-averaged series of the seeds both ran, with the HAC t."""
    seeds = {r["unit"]["seed"] for r in variant}
    frozen = [r for r in frozen if r["unit"]["seed"] in seeds]
    out = {}
    for key, column in (("monthly", "ic"), ("daily", "ic"), ("portfolio", "net")):
        a, b = seed_frames(variant, key, spec.report), seed_frames(frozen, key, spec.report)
        if a and b:
            diff = (seed_mean(a)[column] - seed_mean(b)[column]).dropna()
            out[f"{key}_{column}"] = newey_west_t(diff)
    return out


def yardsticks(spec: ModelSpec, closes: pd.DataFrame, universes: dict[pd.Timestamp, list],
               model_held: pd.DataFrame | None = None) -> dict[str, Any]:
    """The reversal signals' own rank ICs over the report window's dates and universes: monthly (against the
    returns the model is scored on: ``model_held``, else decision close to next decision close) and, for the
    ranker, daily (next-day return, the governing decision's members)."""
    days = sorted(d for d in universes if pd.Timestamp(spec.report[0]) <= d <= pd.Timestamp(spec.report[1]))
    signals = reversal_signals(closes)
    rows = pd.DatetimeIndex([closes.index[closes.index.searchsorted(d, side="right") - 1] for d in days])
    mask = pd.DataFrame(False, index=rows, columns=closes.columns)
    for row, day in zip(rows, days):
        mask.loc[row, [s for s in universes[day] if s in mask.columns]] = True
    following = closes.reindex(rows[1:]).to_numpy()
    held = pd.DataFrame(np.vstack([following, np.full((1, closes.shape[1]), np.nan)]) / closes.reindex(rows).to_numpy()
                        - 1.0, index=rows, columns=closes.columns).where(mask)
    if model_held is not None:
        held = model_held.reindex(index=days, columns=closes.columns).set_axis(rows, axis=0).where(mask)
    out: dict[str, Any] = {}
    for name, signal in signals.items():
        out[f"{name}_monthly"] = ic_summary(rank_ic_series(signal.reindex(rows).where(mask), held))
    if spec.model == "ranker":
        daily = window(closes, spec.report)
        governing = mask.reindex(daily.index, method="ffill").eq(True)
        realised = forward_returns(closes, 1).reindex(daily.index)
        for name, signal in signals.items():
            out[f"{name}_daily"] = ic_summary(rank_ic_series(signal.reindex(daily.index).where(governing), realised))
    return out


def runner_block(runner: dict[str, str], bounds: tuple[str, str], model: str) -> dict[str, Any] | None:
    """Monthly returns of local-runner backtests (fees, rounding, LEAN's fills) over the report window."""
    if model not in runner:
        return None
    monthly = {}
    out: dict[str, Any] = {}
    for name in (model, "baseline"):
        if name not in runner:
            continue
        folder = Path(runner[name])
        # the compare command's loader: only a completed run (its run.json marker) is read, never a failed one
        run = load_run(folder, folder)
        if run.problem:
            raise SystemExit(f"--runner {name}={folder}: {run.problem}; rerun that backtest to completion")
        month_end = run.loaded["equity"].resample("ME").last()
        monthly[name] = window(month_end.pct_change().to_frame("r"), bounds)["r"].dropna()
        stats = run.statistics.get("algorithm") or {}  # numbers; LEAN's formatted strings are under "lean"
        out[name] = {"folder": str(folder), "statistics": {k: stats.get(k) for k in (
            "Compounding Annual Return", "Sharpe Ratio", "Total Fees", "Drawdown", "Portfolio Turnover")
            if k in stats}, "mean_monthly": float(monthly[name].mean())}
    if "baseline" in monthly:
        out["active_vs_baseline_after_fees"] = active_return_summary(monthly[model], monthly["baseline"])
    return out


def model_report(spec: ModelSpec, selection: dict, units: list, results: list[dict], unavailable: dict[str, str],
                 closes_universes: tuple, cost: float, runner: dict[str, str], quick: bool) -> dict[str, Any]:
    by_setting: dict[str, list[dict]] = {}
    for unit, result in zip(units, results):
        by_setting.setdefault(unit.setting, []).append(result)
    settings = {name: setting_block(spec, rs) for name, rs in by_setting.items()}
    ablations = {name: {"difference_vs_frozen": paired_difference(spec, rs, by_setting["frozen"]),
                        "overrides": units[[u.setting for u in units].index(name)].overrides}
                 for name, rs in by_setting.items() if name != "frozen"}
    return {"model": spec.model, "quick": quick, "protocol": protocol_text(spec, cost),
            "windows": {"run_from": spec.run_from, "select": spec.select, "report": spec.report,
                        "pretrain": spec.pretrain},
            "base_config": spec.base, "grid": spec.grid, "selection": selection,
            "frozen_config": results[0]["config"] if results else None, "report_seeds": list(spec.report_seeds),
            "settings": settings, "ablations": ablations, "unavailable_ablations": unavailable,
            "yardsticks": yardsticks(spec, *closes_universes), "cost_model": cost_text(cost),
            "runner": runner_block(runner, spec.report, spec.model), "environment": environment()}


def cost_text(cost: float) -> str:
    return (f"research loop: {cost * 1e4:g} bps of traded value per rebalance (cost * sum|dw|), for the model and "
            "the equal-weight baseline alike; NOT LEAN's fee model: --runner gives the runner's fees")


def protocol_text(spec: ModelSpec, cost: float) -> str:
    pre = f"stage 1 on {spec.pretrain[0]}..{spec.pretrain[1]}; " if spec.pretrain else ""
    return (f"{pre}runs from {spec.run_from}; candidates {list(spec.grid)} scored on "
            f"{spec.select[0]}..{spec.select[1]} "
            f"by {spec.criterion} over seeds {list(spec.selection_seeds)}; frozen; reported on "
            f"{spec.report[0]}..{spec.report[1]} over seeds {list(spec.report_seeds)}; {cost_text(cost)}")


def environment() -> dict[str, Any]:
    from lean_local.engine.results import git_commit, package_versions

    import os
    return {"git_commit": git_commit(ROOT), "packages": package_versions(), "machine": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


MODELS = ("allocator", "ranker")


def publish(target: Path, results: dict[str, dict]) -> None:
    """``{model}.json`` and ``protocol.md``, each written atomically. ``protocol.md`` covers every model with a
    published report, so running one model keeps the other's section (its JSON is read back as published)."""
    for name, report in results.items():
        atomic_write_bytes(target / f"{name}.json", json.dumps(report, indent=1, default=str).encode())
    published = {name: results.get(name) or json.loads((target / f"{name}.json").read_text())
                  for name in MODELS if name in results or (target / f"{name}.json").exists()}
    atomic_write_bytes(target / "protocol.md", markdown(published).encode())


def _f(x: Any, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _ic_cells(block: dict[str, Any]) -> str:
    return (f"{_f(block['mean'])} | {_f(block['t_hac'], 2)} (lag {block['lags']}) | {_f(block['t_naive'], 2)} | "
            f"{block['n']} / {_f(block['n_effective'], 0)}")


def markdown(results: dict[str, dict]) -> str:
    lines = ["# Research protocol results", ""]
    for name, report in results.items():
        selection = report["selection"]
        candidates = ", ".join(f"{k}={_f(v['mean'], 5)}" for k, v in selection["table"].items())
        lines += [f"## {name}", "", report["protocol"], "",
                  f"Selection ({selection['criterion']}): chosen **{selection['chosen']}** from {candidates}", "",
                  "| setting | series | mean rank IC | HAC t | naive t | N / N_eff | partial IC | partial HAC t |",
                  "|---|---|---|---|---|---|---|---|"]
        for setting, block in report["settings"].items():
            for series in ("daily", "monthly"):
                if series in block:
                    b = block[series]
                    lines.append(f"| {setting} | {series} | {_ic_cells(b['ic'])} | {_f(b['partial_ic']['mean'])} | "
                                 f"{_f(b['partial_ic']['t_hac'], 2)} |")
        for key, y in report["yardsticks"].items():
            lines.append(f"| yardstick {key} | | {_ic_cells(y)} | | |")
        lines += ["", "| setting | effective N | turnover | baseline turnover | active gross (ann.) | active net "
                  "(ann.) | net HAC t |", "|---|---|---|---|---|---|---|"]
        for setting, block in report["settings"].items():
            p = block["portfolio"]
            lines.append(f"| {setting} | {_f(p['effective_n'], 1)} | {_f(p['turnover'], 3)} | "
                         f"{_f(p['baseline_turnover'], 3)} | {_f(p['active_gross']['annualised'])} | "
                         f"{_f(p['active_net']['annualised'])} | {_f(p['active_net']['t_hac'], 2)} |")
        lines += ["", f"Costs: {report['cost_model']}.", "",
                  "Ablations, variant minus frozen on the same seeds (mean difference per date, HAC t):", "",
                  "| variant | daily IC | monthly IC | net return per rebalance |", "|---|---|---|---|"]
        for variant, block in report["ablations"].items():
            cells = [block["difference_vs_frozen"].get(k) for k in ("daily_ic", "monthly_ic", "portfolio_net")]
            text = ["n/a" if c is None else f"{_f(c['mean'])} (t {_f(c['t_hac'], 2)})" for c in cells]
            lines.append(f"| {variant} | " + " | ".join(text) + " |")
        lines.append("")
        for ablation, why in report["unavailable_ablations"].items():
            lines.append(f"- ablation {ablation}: not run ({why})")
        if report.get("runner"):
            lines += ["", "Local-runner backtests: " + json.dumps(report["runner"], default=str)]
        lines.append("")
    return "\n".join(lines)


def full_plan(models: list[str], seeds: int = 5, ablation_seeds: int = 0) -> dict[str, dict[str, int]]:
    """Units and decision-months of the full protocol (worst case: every ablation available)."""
    from .specs import full_specs

    plan = {}
    for name in models:
        spec = full_specs(seeds)[name]
        select_months = _months(spec.run_from, spec.select[1])
        report_months = _months(spec.run_from, spec.report[1])
        variants = sum(len(a.arms) - 1 for a in spec.ablations)
        plan[name] = {"select_units": len(spec.grid) * len(spec.selection_seeds), "select_months": select_months,
                      "report_units": len(spec.report_seeds) + variants * (ablation_seeds or len(spec.report_seeds)),
                      "report_months": report_months}
    return plan


def _months(start: str, end: str) -> int:
    return len(pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M"))


def _rates(folder: Path) -> dict[str, list[tuple[float, float]]]:
    """setting -> [(seconds per decision-month excluding stage 1, stage-1 seconds)] of the finished units."""
    rates: dict[str, list[tuple[float, float]]] = {}
    for path in sorted(folder.glob("*-s*-*.json")):
        unit = json.loads(path.read_text())
        months = max(len(unit["monthly"]["date"]), 1)
        stage1 = float(unit.get("stage1", {}).get("seconds", 0.0))
        setting = unit["unit"]["setting"] if unit["unit"]["phase"] == "report" else "candidate"
        rates.setdefault(setting, []).append(((unit["seconds"] - stage1) / months, stage1))
    return rates


def estimate_runtime(out: Path, models: list[str], seeds: int = 5, ablation_seeds: int = 0) -> dict[str, Any]:
    """Single-process seconds of the full protocol: the full-size probe's seconds per decision-month
    (``--probe``; else quick units scaled linearly to 100 stocks, a rough guess) times the planned
    unit-months, each ablation weighted by its cost relative to the frozen setting in the quick units (replay
    months cost more), plus stage 1 per ranker unit. Measured on whatever machine ran the units."""
    estimate: dict[str, Any] = {}
    for name, plan in full_plan(models, seeds, ablation_seeds).items():
        probe, quick = _rates(out / "probe" / "units" / name), _rates(out / "quick" / "units" / name)
        base = probe.get("candidate") or probe.get("frozen")
        scale = 1.0 if base else 100 / 30
        base = base or quick.get("frozen") or quick.get("candidate")
        if not base:
            estimate[name] = "no finished unit yet: run --probe 3 (or --quick) first"
            continue
        month_rate = float(np.median([r for r, _ in base])) * scale
        stage1 = float(np.median([s for _, s in base]))
        frozen_quick = float(np.median([r for r, _ in quick["frozen"]])) if quick.get("frozen") else None
        weights = [float(np.median([r for r, _ in v])) / frozen_quick for k, v in quick.items()
                   if frozen_quick and k not in ("frozen", "candidate")]
        variant_factor = (1 + sum(weights)) / (1 + len(weights)) if weights else 1.0
        seconds = (month_rate * (plan["select_units"] * plan["select_months"]
                                 + variant_factor * plan["report_units"] * plan["report_months"])
                   + stage1 * (plan["select_units"] + plan["report_units"]))
        estimate[name] = {"seconds_per_month": round(month_rate, 2), "stage1_seconds": round(stage1, 1),
                          "ablation_cost_factor": round(variant_factor, 2), "from": "probe" if scale == 1 else
                          "quick x 100/30", "hours_one_process": round(seconds / 3600, 1), **plan}
    return estimate
