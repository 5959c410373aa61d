"""Loading each phase's data once, running one (model, phase, setting, seed) unit, and the protocol's order:
selection units -> frozen choice -> report and ablation units -> the model's report.

A unit's file is ``units/<model>/<phase>-<setting>-s<seed>-<hash>.json``, published atomically; the hash covers
the unit's config, windows, cost and the code it ran (:func:`code_digest`), so a rerun skips exactly the finished
units of the same protocol and code.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lean_local.data.lean_format import atomic_write_bytes

from .scoring import period_returns, score_unit, top_fraction_weights
from .specs import ModelSpec

log = logging.getLogger("protocol")
MARGIN = pd.Timedelta(days=45)  # bars after a window's end: the last decision's holding period
_DATA: dict[tuple, Any] = {}  # per process: each phase's data is loaded once


@dataclass(frozen=True)
class Unit:
    model: str
    phase: str  # "select" | "report"
    setting: str
    seed: int
    overrides: dict[str, Any]
    end: str  # last decision day of the run


def config_class(model: str) -> type:
    if model == "allocator":
        from models.allocator import AllocatorConfig
        return AllocatorConfig
    from models.llm4fts import RankerConfig
    return RankerConfig


def missing_fields(model: str, overrides: dict[str, Any]) -> list[str]:
    """Options this checkout's config does not have (a variant that needs them is reported, not run)."""
    names = {f.name for f in fields(config_class(model))}
    return sorted(set(overrides) - names)


def build_config(spec: ModelSpec, unit: Unit) -> Any:
    return config_class(spec.model)(**{**spec.base, **unit.overrides, "seed": unit.seed})


ROOT = Path(__file__).resolve().parents[2]
_CODE: dict[str, str] = {}


def code_digest(model: str) -> str:
    """SHA-256 of the code a unit's numbers depend on (the model's package, the features, the shared model
    modules and this harness), so a rerun after a code change recomputes units instead of reusing stale ones."""
    if model not in _CODE:
        package = "allocator" if model == "allocator" else "llm4fts"
        files = sorted((ROOT / "Library" / "models" / package).rglob("*.py"))
        files += sorted((ROOT / "Library" / "models" / "features").rglob("*.py"))
        files += sorted((ROOT / "Library" / "models").glob("*.py"))
        files += [ROOT / "scripts" / "protocol_lib" / name for name in ("runs.py", "scoring.py")]
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
        _CODE[model] = digest.hexdigest()
    return _CODE[model]


def unit_path(out: Path, spec: ModelSpec, unit: Unit, cost: float) -> Path:
    config = build_config(spec, unit).to_dict()
    key = json.dumps({"config": config, "run_from": spec.run_from, "end": unit.end, "pretrain": spec.pretrain,
                      "sipr": spec.sipr, "size": spec.universe_size, "top": spec.top_fraction, "cost": cost,
                      "code": code_digest(spec.model)}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return out / "units" / spec.model / f"{unit.phase}-{unit.setting}-s{unit.seed}-{digest}.json"


# --- data --------------------------------------------------------------------------------

def _quantbook(data: Path) -> Any:
    from lean_local.engine.quantbook import QuantBook
    return QuantBook(data)


def allocator_data(data: Path, spec: ModelSpec, end: str) -> tuple[list, pd.DataFrame]:
    """Month inputs (``research_months``) to ``end`` and the members' daily closes."""
    key = ("allocator", str(data), spec.run_from, end, spec.universe_size)
    if key not in _DATA:
        from lean_local.engine.symbols import Resolution
        from models.allocator.walk_forward import research_months

        months, _ = research_months(_quantbook(data), data, spec.run_from, end, 21, Resolution.DAILY,
                                    size=spec.universe_size)
        tickers = sorted({s for m in months for s in m.symbols})
        qb = _quantbook(data)
        for ticker in tickers:
            qb.add_equity(ticker, Resolution.DAILY)
        history = qb.history(tickers, months[0].decision - pd.Timedelta(days=20), pd.Timestamp(end) + MARGIN,
                             Resolution.DAILY)
        closes = history["close"].unstack(0)
        closes.columns = [getattr(s, "value", s) for s in closes.columns]
        closes.index = pd.DatetimeIndex(closes.index).normalize()
        _DATA[key] = (months, closes.sort_index())
    return _DATA[key]


def ranker_data(data: Path, spec: ModelSpec, end: str) -> tuple[Any, pd.Series, dict]:
    """The price panel from stage 1's start to ``end`` (+ the margin) and the universes of decisions to ``end``."""
    key = ("ranker", str(data), spec.pretrain, spec.run_from, end, spec.universe_size)
    if key not in _DATA:
        from lean_local.engine.symbols import Resolution
        from models.llm4fts.research import research_panel

        last = str((pd.Timestamp(end) + MARGIN).date())
        panel, index_close, universes = research_panel(_quantbook(data), data, spec.pretrain[0], last, spec.run_from,
                                                       Resolution.DAILY, size=spec.universe_size)
        universes = {d: members for d, members in universes.items() if d <= pd.Timestamp(end)}
        _DATA[key] = (panel, index_close, universes)
    return _DATA[key]


# --- one unit ----------------------------------------------------------------------------

def run_allocator(spec: ModelSpec, unit: Unit, data: Path, cost: float) -> dict[str, Any]:
    """``run_online``; the signal is the month's weights (a softmax of the scores: the same ranks)."""
    from models.allocator import OnlineAllocator
    from models.allocator.walk_forward import run_online

    months, closes = allocator_data(data, spec, unit.end)
    summary, weights = run_online(OnlineAllocator.from_config(build_config(spec, unit)), months)
    members = pd.DataFrame({m.decision: pd.Series(True, index=m.symbols) for m in months}).T.eq(True)
    held = pd.DataFrame({m.decision: m.held.reindex(m.symbols) for m in months}).T
    signal = weights.where(members.reindex(index=weights.index, columns=weights.columns, fill_value=False))
    out = score_unit(closes, cost, signal, held, weights, held, members, 12)
    out["learner"] = {"loss": [float(x) for x in summary["loss"]], "skipped_steps": int(summary["skipped_steps"].sum())}
    return out


def run_ranker(spec: ModelSpec, unit: Unit, data: Path, cost: float) -> dict[str, Any]:
    """Stage 1, then month by month: stage 2 at the decision (``finetune_until``), a prediction every trading day
    until the next decision with that month's weights (the daily IC), and the traded score at each rebalance
    (``decision_scores`` where this checkout has it: the ``prediction_days`` smoothing the algorithm trades)."""
    from models.llm4fts.training import finetune_until

    panel, index_close, universes = ranker_data(data, spec, unit.end)
    config = build_config(spec, unit)
    days = sorted(universes)
    ranker, stage1 = stage_one(spec, config, panel, index_close, universes[days[0]])
    daily_rebalance = getattr(config, "rebalance", "monthly") == "daily"
    predictions, traded, members, decisions = {}, {}, {}, []
    for day, following in zip(days, days[1:] + [None]):
        row = panel.position(day)
        stop = panel.position(following) if following is not None else min(row + 22, panel.position(unit.end) + 1)
        finetune_until(ranker, panel, index_close, row, universes[day])
        decisions.append(panel.dates[row])
        for r in range(row, max(stop, row + 1)):
            date = panel.dates[r]
            members[date] = pd.Series(True, index=universes[day])
            predictions[date] = day_predictions(ranker, panel, index_close, r, universes[day])
            if r == row or daily_rebalance:
                traded[date] = traded_scores(ranker, panel, index_close, r, universes[day], predictions[date])
    member_frame = pd.DataFrame(members).T.eq(True)
    member_frame.index = pd.DatetimeIndex(member_frame.index)
    closes = panel.frames["close"]
    daily = pd.DataFrame(predictions).T.reindex(columns=closes.columns)
    daily.index = pd.DatetimeIndex(daily.index)
    scores = pd.DataFrame(traded).T.reindex(columns=closes.columns)
    scores.index = pd.DatetimeIndex(scores.index)
    at_decisions = pd.DatetimeIndex(decisions)
    weights = pd.DataFrame({d: top_fraction_weights(scores.loc[d], spec.top_fraction) for d in scores.index}).T
    out = score_unit(closes, cost, scores.reindex(at_decisions), period_returns(closes, at_decisions, member_frame),
                     weights, period_returns(closes, scores.index, member_frame), member_frame,
                     252 if daily_rebalance else 12, daily_signal=daily)
    out["stage1"] = stage1
    return out


def stage_one(spec: ModelSpec, config: Any, panel: Any, index_close: pd.Series, symbols: list) -> tuple[Any, dict]:
    """``research.pretrain_offline``'s two steps, with the SIPR library fitted once per process: it depends only
    on the index's closes in the stage-1 window and ``spec.sipr`` (seeded), not on the unit's settings.
    Stage 1 sees the universe known at the first decision only (no stocks that joined later)."""
    from models.llm4fts.ranker import LLM4FTSRanker
    from models.llm4fts.sipr import SiprConfig, fit_sipr
    from models.llm4fts.training import pretrain

    key = ("sipr", id(index_close), spec.pretrain, json.dumps(spec.sipr, sort_keys=True))
    start, end = (pd.Timestamp(t) for t in spec.pretrain)
    if key not in _DATA and config.use_sipr:  # without SIPR the grid plans the patches: no library to fit
        closes = index_close[(index_close.index >= start) & (index_close.index <= end)]
        _DATA[key] = fit_sipr(closes.to_numpy(), SiprConfig(**spec.sipr),
                              fitted_on={"series": "index close", "start": str(closes.index[0].date()),
                                         "end": str(closes.index[-1].date()), "points": len(closes)})
    ranker = LLM4FTSRanker.from_config(config, _DATA.get(key))
    first, last = max(panel.position(start), 0), panel.position(end)
    started = time.perf_counter()
    losses = pretrain(ranker, panel, index_close, first, last, config.pretrain_steps, config.seed, symbols=symbols)
    return ranker, {"seconds": time.perf_counter() - started, "first_loss": float(np.nanmean(losses[:20])),
                    "last_loss": float(np.nanmean(losses[-20:])),
                    "trained_through": str(panel.dates[last].date()), "weights": ranker.weights_info.describe()}


def day_predictions(ranker: Any, panel: Any, index_close: pd.Series, row: int, symbols: list) -> pd.Series:
    """The network's prediction per stock at ``row`` (inputs to that close only)."""
    from models.llm4fts.training import cross_section

    section, names, _ = cross_section(ranker, panel, index_close, row, symbols)
    return pd.Series(ranker.predict(section) if len(names) else [], index=names, dtype=float)


def traded_scores(ranker: Any, panel: Any, index_close: pd.Series, row: int, symbols: list,
                  today: pd.Series) -> pd.Series:
    """What the algorithm ranks on at ``row``: ``decision_scores`` over ``prediction_days`` when this checkout's
    ranker has them, else today's predictions."""
    from models.llm4fts import training

    days = getattr(ranker.config, "prediction_days", 1)
    if days == 1 or not hasattr(training, "decision_scores"):
        return today
    values, names, _ = training.decision_scores(ranker, panel, index_close, row, symbols, days)
    return pd.Series(values, index=names, dtype=float)


def execute(spec: ModelSpec, unit: Unit, data: Path, out: Path, cost: float) -> Path:
    """Run one unit unless its file exists; publish the file atomically. Returns its path."""
    path = unit_path(out, spec, unit, cost)
    if path.exists():
        return path
    (allocator_data if spec.model == "allocator" else ranker_data)(data, spec, unit.end)  # loaded once, not timed
    started = time.perf_counter()
    runner = run_allocator if spec.model == "allocator" else run_ranker
    result = runner(spec, unit, data, cost)
    result.update({"unit": asdict(unit), "config": build_config(spec, unit).to_dict(),
                   "seconds": time.perf_counter() - started, "threads": _threads()})
    atomic_write_bytes(path, json.dumps(result, default=str).encode())
    log.info("%s %s %s seed %d: %.0f s -> %s", unit.model, unit.phase, unit.setting, unit.seed,
             result["seconds"], path.name)
    return path


def _threads() -> int:
    import torch
    return torch.get_num_threads()


def _single_thread() -> None:
    import torch
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


def execute_all(spec: ModelSpec, units: list[Unit], data: Path, out: Path, cost: float, jobs: int) -> list[Path]:
    """Every unit, in order (``jobs`` == 1) or in ``jobs`` processes with one torch thread each."""
    if jobs <= 1 or len(units) <= 1:
        return [execute(spec, u, data, out, cost) for u in units]
    with ProcessPoolExecutor(max_workers=jobs, initializer=_single_thread) as pool:
        return list(pool.map(execute, [spec] * len(units), units, [data] * len(units), [out] * len(units),
                             [cost] * len(units)))


def read_unit(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# --- the protocol's order ---------------------------------------------------------------

def selection_units(spec: ModelSpec) -> list[Unit]:
    return [Unit(spec.model, "select", name, seed, overrides, spec.select[1])
            for name, overrides in spec.grid.items() for seed in spec.selection_seeds]


def variants(spec: ModelSpec, frozen: dict[str, Any]) -> tuple[dict[str, dict], dict[str, str]]:
    """The frozen setting and its ablation variants (name -> overrides), and the variants this checkout
    cannot run (name -> why)."""
    runnable, unavailable = {"frozen": dict(frozen)}, {}
    defaults = {f.name: f.default for f in fields(config_class(spec.model))}
    current = {**defaults, **spec.base, **frozen}
    for ablation in spec.ablations:
        for arm in ablation.arms:
            if all(current.get(k, object()) == v for k, v in arm.items()):
                continue  # this arm is the frozen setting itself
            name = ",".join(f"{k}={v}" for k, v in arm.items())
            lacking = missing_fields(spec.model, arm)
            if lacking:
                unavailable[name] = f"this checkout's config has no {', '.join(lacking)}"
            else:
                runnable[name] = {**frozen, **arm}
    return runnable, unavailable


def report_units(spec: ModelSpec, settings: dict[str, dict]) -> list[Unit]:
    """Every report seed for the frozen setting; the first ``ablation_seeds`` (all when 0) for each ablation."""
    ablation_seeds = spec.report_seeds[:spec.ablation_seeds] if spec.ablation_seeds else spec.report_seeds
    return [Unit(spec.model, "report", name, seed, overrides, spec.report[1])
            for seed in spec.report_seeds for name, overrides in settings.items()
            if name == "frozen" or seed in ablation_seeds]


def run_model(spec: ModelSpec, data: Path, out: Path, cost: float, jobs: int, runner: dict[str, str],
              quick: bool = False) -> dict[str, Any]:
    """Selection, freeze, report: returns the model's report (``report.model_report``)."""
    from .report import choose, model_report

    lacking = {name: missing_fields(spec.model, o) for name, o in spec.grid.items() if missing_fields(spec.model, o)}
    if lacking:
        raise SystemExit(f"{spec.model}: the candidate grid needs options this checkout lacks: {lacking}")
    units = selection_units(spec)
    selection_paths = execute_all(spec, units, data, out, cost, jobs)
    selection = choose(spec, units, [read_unit(p) for p in selection_paths])
    atomic_write_bytes(out / "units" / spec.model / "selection.json", json.dumps(selection, indent=1).encode())
    log.info("%s: frozen %s (%s)", spec.model, selection["chosen"], selection["criterion"])
    settings, unavailable = variants(spec, spec.grid[selection["chosen"]])
    units = report_units(spec, settings)
    paths = execute_all(spec, units, data, out, cost, jobs)
    results = [read_unit(p) for p in paths]
    closes_panel = _report_closes(spec, data)
    return model_report(spec, selection, units, results, unavailable, closes_panel, cost, runner, quick)


def _report_closes(spec: ModelSpec, data: Path) -> tuple[pd.DataFrame, dict[pd.Timestamp, list], pd.DataFrame | None]:
    """Closes, universes and (allocator) the held returns the model is scored on, for the reversal yardsticks."""
    if spec.model == "allocator":
        months, closes = allocator_data(data, spec, spec.report[1])
        held = pd.DataFrame({m.decision: m.held.reindex(m.symbols) for m in months}).T
        return closes, {m.decision: list(m.symbols) for m in months}, held
    panel, _, universes = ranker_data(data, spec, spec.report[1])
    return panel.frames["close"], universes, None


def probe(spec: ModelSpec, data: Path, out: Path, cost: float, months: int) -> Path:
    """One full-size unit (the first candidate, seed 1) over the first ``months`` decisions: its seconds per
    month (and stage 1's) feed ``report.estimate_runtime``."""
    end = str((pd.Timestamp(spec.run_from) + pd.offsets.MonthEnd(months)).date())
    name, overrides = next(iter(spec.grid.items()))
    return execute(spec, Unit(spec.model, "select", name, 1, overrides, end), data, out, cost)
