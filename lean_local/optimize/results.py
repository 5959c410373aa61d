"""The optimization's table (CSV + JSON, published atomically), its best combination, and the same grid as
``lean optimize`` / ``lean cloud optimize`` inputs.

``results.json`` and ``results.csv`` hold one row per combination in grid order: its number (LEAN's parameter set
ids count 1, 2, ... in grid order, ``Optimizer/Strategies/StepBaseOptimizationStrategy.cs:178-186``), folder,
status (completed / failed / pending), the error of a failed one, its parameters, whether it meets the
constraints, the target's value and every statistic in its statistics.json ``algorithm`` section (LEAN's names,
fractions). LEAN's own optimizer keeps only the best (``Optimizer/LeanOptimizer.cs:170-185`` logs "ParameterSet:
(...) backtestId '...'", which lean-cli reads back, ``lean/commands/optimize.py:369-387``); the table is ours.
"""
from __future__ import annotations

import csv
import io
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.lean_format import atomic_write_bytes
from .grid import Parameter, StepParameter, ValuesParameter, invariant_string, lean_decimal
from .targets import Constraint, Target

GRID_SEARCH = "QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy"
CLOUD_NODE = "O2-8"  # lean/components/config/optimizer_config_manager.py:38-45: 1-24 parallel nodes
CLOUD_MAX_NODES = 24


@dataclass
class Row:
    index: int
    folder: str
    parameters: dict[str, str]
    status: str = "pending"
    error: str | None = None
    statistics: dict[str, Any] = field(default_factory=dict)  # the whole statistics.json


def evaluate(row: Row, target: Target, constraints: list[Constraint]) -> tuple[bool, float | None]:
    """(meets every constraint, target value) of a finished row; a failed one meets nothing (LEAN skips
    failed backtests, GridSearchOptimizationStrategy.cs:40-44)."""
    if row.status != "completed":
        return False, None
    return all(c.is_met(row.statistics) for c in constraints), target.statistic.value(row.statistics)


def best_row(rows: list[Row], target: Target, constraints: list[Constraint]) -> Row | None:
    """LEAN's rule (StepBaseOptimizationStrategy.cs:157-171): among rows meeting the constraints and having the
    target, the first strictly better one wins, rows taken in grid order."""
    best, best_value = None, None
    for row in sorted(rows, key=lambda r: r.index):
        meets, value = evaluate(row, target, constraints)
        if meets and value is not None and target.better(best_value, value):
            best, best_value = row, value
    return best


def table(rows: list[Row], target: Target, constraints: list[Constraint]) -> list[dict[str, Any]]:
    out = []
    for row in sorted(rows, key=lambda r: r.index):
        meets, value = evaluate(row, target, constraints)
        record: dict[str, Any] = {"index": row.index, "folder": row.folder, "status": row.status, "error": row.error}
        record |= {f"parameter:{k}": v for k, v in row.parameters.items()}
        record |= {"meets_constraints": meets if row.status == "completed" else None, "target": value}
        record |= dict(row.statistics.get("algorithm") or {})
        out.append(record)
    return out


def publish_table(folder: Path, rows: list[Row], target: Target, constraints: list[Constraint],
                  extra: dict[str, Any]) -> dict[str, Any]:
    """Write results.json and results.csv, each atomically (a reader sees the old or the new table, whole)."""
    records = table(rows, target, constraints)
    best = best_row(rows, target, constraints)
    document = {"target": {"statistic": target.statistic.given, "path": target.statistic.path,
                           "direction": target.direction},
                "constraints": [str(c) for c in constraints],
                "counts": {s: sum(r.status == s for r in rows) for s in ("completed", "failed", "pending")},
                "best": None if best is None else next(r for r in records if r["index"] == best.index),
                **extra, "rows": records}
    atomic_write_bytes(folder / "results.json", json.dumps(document, indent=1, default=str).encode())
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(records)
    atomic_write_bytes(folder / "results.csv", buffer.getvalue().encode())
    return document


# ---- the same grid for lean-cli ---------------------------------------------------------------------------------
def _as_step(parameter: ValuesParameter, value: str) -> StepParameter | None:
    """A fixed value as ``--parameter NAME v v 1`` when LEAN would hand the algorithm exactly that string."""
    try:
        number = lean_decimal(value)
    except ValueError:
        return None
    return StepParameter(parameter.name, number, number, lean_decimal("1")) if invariant_string(number) == value \
        else None


def lean_variants(parameters: list[Parameter]) -> list[dict[str, str]]:
    """LEAN has no list of values: each combination of the multi-valued ``--parameter-values`` lists is one
    ``lean optimize`` run with those values fixed."""
    from .grid import combinations

    lists = [p for p in parameters if isinstance(p, ValuesParameter) and len(p.choices) > 1]
    return list(combinations(lists)) if lists else [{}]


def optimizer_config(parameters: list[Parameter], fixed: dict[str, str], target: Target,
                     constraints: list[Constraint], workers: int) -> dict[str, Any]:
    """What lean-cli writes to optimizer-config.json (lean/commands/optimize.py:250-265); a fixed value is LEAN's
    static parameter ``{"name", "value"}`` (OptimizationParameterJsonConverter.cs:103-106)."""
    entries: list[dict[str, object]] = []
    for p in parameters:
        if isinstance(p, StepParameter):
            entries.append(p.to_lean())
        else:
            entries.append({"name": p.name, "value": fixed.get(p.name, p.choices[0])})
    return {"optimization-strategy": GRID_SEARCH,
            "optimization-strategy-settings": {
                "$type": "QuantConnect.Optimizer.Strategies.StepBaseOptimizationStrategySettings, QuantConnect.Optimizer",
                "default-segment-amount": 10},
            "optimization-criterion": {"target": target.statistic.path, "extremum": target.direction},
            "parameters": entries, "constraints": [c.to_lean() for c in constraints],
            "maximum-concurrent-backtests": workers}


def _number(value: object) -> str:
    """A value for a lean-cli command line with every digit (``repr``; whole numbers without ``.0``)."""
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else repr(number)


def command_parameters(parameters: list[Parameter], fixed: dict[str, str]) -> list[str] | None:
    """``--parameter`` arguments, or None when a fixed value has no ``--parameter`` form (not a number as LEAN
    would write it back)."""
    args: list[str] = []
    for p in parameters:
        step = p if isinstance(p, StepParameter) else _as_step(p, fixed.get(p.name, p.choices[0]))
        if step is None:
            return None
        args += ["--parameter", step.name, _number(step.min), _number(step.max), _number(step.step)]
    return args


def lean_commands(project: str, parameters: list[Parameter], target: Target, constraints: list[Constraint],
                  workers: int, config_files: list[str]) -> list[dict[str, Any]]:
    """One entry per LEAN variant: its optimizer-config file, the ``lean optimize`` command (non-interactive via
    --strategy, lean/commands/optimize.py:228-235) and the ``lean cloud optimize`` one (non-interactive via
    --target; --node and --parallel-nodes required, Grid Search only: lean/commands/cloud/optimize.py:227-240),
    or why the cloud cannot run it."""
    out = []
    objectives = ["--target", target.statistic.given, "--target-direction", target.direction]
    for c in constraints:
        objectives += ["--constraint", str(c)]
    for fixed, config_file in zip(lean_variants(parameters), config_files):
        args = command_parameters(parameters, fixed)
        local = ["lean", "optimize", project, "--optimizer-config", config_file] if args is None else \
            ["lean", "optimize", project, "--strategy", "Grid Search", *objectives, *args,
             "--max-concurrent-backtests", str(workers)]
        cloud_problems = [f"{s.given} ({s.path})" for s in [target.statistic] + [c.statistic for c in constraints]
                          if not s.cloud_supported]
        entry: dict[str, Any] = {"fixed": fixed, "optimizer_config": config_file, "lean_optimize": shlex.join(local)}
        if args is None:
            entry["lean_cloud_optimize"] = None
            entry["cloud_note"] = "a fixed value is not a number lean-cli's --parameter can carry: set it in " \
                                  "config.json's parameters, push, and optimize the rest"
        elif cloud_problems:
            entry["lean_cloud_optimize"] = None
            entry["cloud_note"] = "the cloud reads only Sharpe Ratio, Compounding Annual Return, Probabilistic " \
                                  f"Sharpe Ratio and Drawdown (lean/commands/cloud/optimize.py:83-92): {cloud_problems}"
        else:
            cloud = ["lean", "cloud", "optimize", project, *objectives, *args, "--node", CLOUD_NODE,
                     "--parallel-nodes", str(min(max(workers, 1), CLOUD_MAX_NODES))]
            entry["lean_cloud_optimize"] = shlex.join(cloud)
        out.append(entry)
    return out


def write_lean_equivalents(folder: Path, project: str, parameters: list[Parameter], target: Target,
                           constraints: list[Constraint], workers: int) -> list[dict[str, Any]]:
    """optimizer-config.json (one per variant: ``-2``, ``-3`` ...) and lean-commands.json / .sh in ``folder``."""
    variants = lean_variants(parameters)
    names = ["optimizer-config.json" if i == 0 else f"optimizer-config-{i + 1}.json" for i in range(len(variants))]
    for fixed, name in zip(variants, names):
        config = optimizer_config(parameters, fixed, target, constraints, workers)
        atomic_write_bytes(folder / name, (json.dumps(config, indent=4) + "\n").encode())
    commands = lean_commands(project, parameters, target, constraints, workers, [str(folder / n) for n in names])
    atomic_write_bytes(folder / "lean-commands.json", json.dumps(commands, indent=1).encode())
    lines = ["#!/bin/sh", "# The same grid with lean-cli (run from the CLI root). lean optimize runs the dates in "
             "main.py and lean.json's data folder."]
    for entry in commands:
        lines.append(entry["lean_optimize"])
        lines.append(entry["lean_cloud_optimize"] or f"# lean cloud optimize: {entry['cloud_note']}")
    atomic_write_bytes(folder / "lean-commands.sh", ("\n".join(lines) + "\n").encode())
    return commands
