"""Reading backtest folders for ``compare``: runs, optimizations (groups of seeds) and plain folders of runs.

A run is a folder the local runner published (``lean_local/engine/output_folder.py``): ``run.json`` (written last,
the completion marker, with ``status``), ``statistics.json``, ``equity.csv`` (one row per trading day: ``equity``
and ``benchmark`` after the 16:00 slice) and ``orders.csv`` (LEAN's order fields, UTC times). Any other folder given
is searched for run folders below it (an optimization folder holds one per parameter combination). Only runs whose
``run.json`` says ``completed`` are compared; the others are listed with the reason and skipped.

Grouping: within one input, runs of the same project whose parameters differ only by ``seed`` form a group of
seeds; any other parameter difference makes another group.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine.output_folder import MARKER, OLD, STAGING

log = logging.getLogger(__name__)

COMPARISON_KIND = "lean_local comparison"  # run.json "kind" of a comparison folder: never read back as a run
SEED = "seed"
EXCHANGE_TIME_ZONE = "America/New_York"


@dataclass
class Run:
    """One backtest folder; ``equity``/``orders`` are loaded only for completed runs."""

    path: Path
    source: Path  # the input argument it was found under
    info: dict[str, Any]
    label: str = ""
    group_label: str = ""  # the label without the seed: its seed group's name, kept as data (never parsed back)
    equity: pd.DataFrame | None = None  # index: trading dates; columns equity, benchmark
    orders: pd.DataFrame | None = None  # orders.csv as written
    statistics: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why it is skipped

    @property
    def loaded(self) -> pd.DataFrame:
        """The equity rows of a completed run (an error for a skipped one, which has none)."""
        if self.equity is None:
            raise ValueError(f"{self.path}: not a completed run ({self.problem})")
        return self.equity

    @property
    def project(self) -> str:
        return Path(str(self.info.get("project") or self.path.parent.parent.name)).name

    @property
    def parameters(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.info.get("parameters") or {}).items()}

    @property
    def seed(self) -> str | None:
        seed = self.info.get(SEED, self.parameters.get(SEED))
        return None if seed is None else str(seed)

    @property
    def group_key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """Same input, same project, same parameters but the seed."""
        rest = tuple(sorted((k, v) for k, v in self.parameters.items() if k != SEED))
        return str(self.source), self.project, rest

    @property
    def start_equity(self) -> float:
        """LEAN's starting capital (statistics.json), else the first close."""
        value = (self.statistics.get("algorithm") or {}).get("Start Equity")
        return float(value) if value else float(self.loaded["equity"].iloc[0])

    @property
    def data_folder(self) -> Path | None:
        folder = self.info.get("data_folder")
        return Path(folder) if folder else None


@dataclass
class Group:
    """Runs of one project and parameter set that differ only by seed (one run: a group of one)."""

    label: str
    runs: list[Run]

    @property
    def is_seed_group(self) -> bool:
        return len({r.seed for r in self.runs}) > 1


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot be read as JSON ({exc}); is the folder a complete backtest?") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _leftover(path: Path) -> bool:
    """A staging or moved-aside folder of a killed run (output_folder.py): never a result."""
    return any(STAGING in part or OLD in part for part in path.parts)


def find_run_folders(source: Path) -> list[Path]:
    """``source`` itself when it is a run folder, else every run folder below it (sorted), comparisons excluded."""
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: give a backtest folder, an optimization folder or a "
                                "folder of backtest folders")
    if (source / MARKER).is_file():
        if _read_json(source / MARKER).get("kind") == COMPARISON_KIND:
            raise ValueError(f"{source} is a comparison report, not a backtest")
        return [source]
    found = [p.parent for p in sorted(source.rglob(MARKER))
             if not _leftover(p.parent.relative_to(source)) and _read_json(p).get("kind") != COMPARISON_KIND]
    if not found:
        raise FileNotFoundError(f"{source}: no backtest folder (one with {MARKER}) in it or below it")
    return found


def _orders(path: Path) -> pd.DataFrame:
    orders = pd.read_csv(path, keep_default_na=False, na_values={"lastFillTime": [""], "canceledTime": [""]})
    missing = {"status", "lastFillTime", "quantity", "price", "orderFeeAmount", "symbol", "time"} - set(orders)
    if missing:
        raise ValueError(f"{path}: lacks the columns {sorted(missing)} of the runner's orders.csv")
    return orders


def load_run(folder: Path, source: Path) -> Run:
    """The run in ``folder``; a failed or unreadable one comes back with ``problem`` set."""
    run = Run(path=folder, source=source, info=_read_json(folder / MARKER))
    status = run.info.get("status")
    if status != "completed":
        run.problem = f"status {status!r}" + (f": {run.info['error']}" if run.info.get("error") else "")
        return run
    try:
        equity = pd.read_csv(folder / "equity.csv", index_col="date", parse_dates=["date"])
        if not {"equity", "benchmark"} <= set(equity.columns) or equity.empty:
            raise ValueError(f"{folder / 'equity.csv'}: expected rows of date,equity,benchmark")
        run.equity = equity.sort_index()
        run.orders = _orders(folder / "orders.csv")
        run.statistics = _read_json(folder / "statistics.json") if (folder / "statistics.json").is_file() else {}
    except (OSError, ValueError, KeyError) as exc:
        run.problem = f"unreadable: {exc}"
    return run


def load_inputs(paths: list[Path], names: dict[Path, str] | None = None) -> tuple[list[Run], list[Run]]:
    """All runs under ``paths``: (completed, skipped). ``names`` maps an input path (a run or a folder) to a label."""
    names = {Path(p).resolve(): n for p, n in (names or {}).items()}
    completed: list[Run] = []
    skipped: list[Run] = []
    seen: set[Path] = set()
    for source in paths:
        for folder in find_run_folders(Path(source)):
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            run = load_run(folder, Path(source))
            (skipped if run.problem else completed).append(run)
            if run.problem:
                log.warning("skipping %s: %s", folder, run.problem)
    _label(completed + skipped, names)
    return completed, skipped


def _varying(runs: list[Run]) -> set[str]:
    """Parameter names whose values differ between runs of the same project."""
    keys = {k for r in runs for k in r.parameters}
    return {k for k in keys if len({r.parameters.get(k) for r in runs}) > 1}


def _describe(run: Run, varying: set[str], project: bool = True) -> str:
    """``project k=v ... seed=s`` over the varying parameters (the seed last, only when it varies)."""
    parts = [f"{k}={run.parameters.get(k, '')}" for k in sorted(varying) if k != SEED]
    if SEED in varying and run.seed is not None:
        parts.append(f"seed={run.seed}")
    return " ".join([run.project, *parts] if project else parts)


def _label(runs: list[Run], names: dict[Path, str]) -> None:
    """Labels: a --name given for the run or its input, else the project and the parameters that vary among the
    runs of that project; duplicates get their folder name."""
    by_project: dict[str, list[Run]] = {}
    for run in runs:
        by_project.setdefault(run.project, []).append(run)
    for same in by_project.values():
        varying = _varying(same)
        for run in same:
            given = names.get(run.path.resolve()) or names.get(run.source.resolve())
            if given and run.path.resolve() == run.source.resolve():
                run.label = run.group_label = given
                continue
            prefix = [given] if given else [run.project]
            run.label = " ".join([*prefix, _describe(run, varying, project=False)]).strip()
            run.group_label = " ".join([*prefix, _describe(run, varying - {SEED}, project=False)]).strip()
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.label] = counts.get(run.label, 0) + 1
    for run in runs:
        if counts[run.label] > 1:
            run.label = f"{run.label} ({run.path.name})"
    taken: set[str] = set()
    for run in runs:  # still equal (same folder names in different places): number them
        label, n = run.label, 1
        while run.label in taken:
            n += 1
            run.label = f"{label} #{n}"
        taken.add(run.label)


def group_runs(runs: list[Run]) -> list[Group]:
    """Seed groups (see the module docstring), in the order their first run appears."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.group_key, []).append(run)
    out = []
    for members in groups.values():
        label = members[0].group_label if len(members) > 1 else members[0].label
        out.append(Group(label=label, runs=members))
    return out


def fills(orders: pd.DataFrame) -> pd.DataFrame:
    """The filled orders of ``orders.csv`` as ``time, symbol, quantity, price, fee`` in fill order, times in the
    exchange's local time (what :mod:`lean_local.engine.lean_statistics` indexes sales and profits by)."""
    filled = orders[orders["status"] == "Filled"]
    times = pd.to_datetime(filled["lastFillTime"], utc=True).dt.tz_convert(EXCHANGE_TIME_ZONE).dt.tz_localize(None)
    frame = pd.DataFrame({"time": times, "symbol": filled["symbol"].astype(str),
                          "quantity": filled["quantity"].astype(float), "price": filled["price"].astype(float),
                          "fee": filled["orderFeeAmount"].astype(float)})
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def order_times(orders: pd.DataFrame) -> pd.DatetimeIndex:
    """Submission times of every order (LEAN's Total Orders counts them all), local exchange time."""
    times = pd.to_datetime(orders["time"], utc=True).dt.tz_convert(EXCHANGE_TIME_ZONE).dt.tz_localize(None)
    return pd.DatetimeIndex(times)
