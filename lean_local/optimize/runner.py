"""An optimization folder: the grid, one backtest folder per combination, the table, resume.

Layout (``<project>/optimizations/<%Y-%m-%d_%H-%M-%S>/``, lean-cli's default ``--output``,
``lean/commands/optimize.py:211-212`` with ``OUTPUT_DIRECTORY_NAME_FORMAT``, ``lean/constants.py:124``)::

    optimization.json            the grid, target, constraints, data and dates (what --resume reads)
    optimizer-config.json        the same grid as lean-cli's optimizer config (+ -2, -3 ... per categorical value)
    lean-commands.json / .sh     the equivalent `lean optimize` / `lean cloud optimize` command lines
    <name>=<value>,..._<hash>/   one backtest folder per combination (the runner's: run.json, statistics.json ...)
    results.json / results.csv   every combination with its status and statistics, and the best one

Resume: a rerun into the same folder (``--resume FOLDER``, or ``--output FOLDER`` with the same grid) keeps every
combination whose folder holds a successful ``run.json`` and runs the rest; a combination that failed before is
run again (its old folder deleted first). Target and constraints may change between runs (the table is
recomputed from the stored statistics); the grid, project, data and dates may not.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..data.lean_format import atomic_write_bytes
from ..engine.output_folder import MARKER, is_complete
from ..engine.project import load_project
from .grid import Parameter, combinations, from_spec, grid_size, to_spec
from .pool import Outcome, Task, run_processes, run_serial
from .results import Row, best_row, publish_table, write_lean_equivalents
from .targets import Constraint, Target

log = logging.getLogger(__name__)
SPEC = "optimization.json"
LOCK = ".optimize.lock"
PUBLISH_EVERY_S = 2.0


@dataclass
class OptimizationSpec:
    """What defines the backtests (``project`` .. ``fill_timing``) and how they are ranked."""

    project: Path
    parameters: list[Parameter]
    target: Target
    constraints: list[Constraint]
    data: str | None = None
    start: str | None = None
    end: str | None = None
    fill_timing: str = "close"

    def runs(self) -> dict[str, Any]:
        """The part that decides what each backtest is: a resume must match it, including config.json's other
        parameters (they reach every combination) and the code (the project's and its libraries' .py files)."""
        return {"project": str(self.project.resolve()), "grid": to_spec(self.parameters),
                "data": str(Path(self.data).resolve()) if self.data else None, "start": self.start, "end": self.end,
                "fill_timing": self.fill_timing, "config_parameters": load_project(self.project).parameters,
                "code": code_digest(self.project)}

    def to_json(self) -> dict[str, Any]:
        return self.runs() | {"target": self.target.statistic.given, "target_direction": self.target.direction,
                              "constraints": [str(c) for c in self.constraints]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "OptimizationSpec":
        return cls(Path(doc["project"]), from_spec(doc["grid"]), Target.parse(doc["target"], doc["target_direction"]),
                   [Constraint.parse(c) for c in doc["constraints"]], doc.get("data"), doc.get("start"),
                   doc.get("end"), doc.get("fill_timing", "close"))


def code_digest(project: Path) -> str:
    """SHA-256 of the project's .py files and of every library it lists (config.json ``libraries``)."""
    loaded = load_project(project)
    roots = [loaded.path] + list(loaded.library_paths)
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            if "optimizations" in path.parts or "backtests" in path.parts:
                continue
            digest.update(str(path.relative_to(loaded.cli_root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """One optimize process per folder: a second one (say, a --resume while the first still runs) is refused
    instead of running the same combinations twice and racing on the table. The kernel drops the lock when
    the holder dies, so a killed run never blocks the resume."""
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"--output {folder} is a file: give a folder")
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{folder}: another optimize process is running there; wait for it or stop it") from None
        yield
    finally:
        os.close(fd)


def load_spec(folder: Path) -> OptimizationSpec:
    path = folder / SPEC
    if not path.is_file():
        raise FileNotFoundError(f"--resume {folder}: no {SPEC} there (not an optimization folder)")
    return OptimizationSpec.from_json(json.loads(path.read_text()))


def combination_name(parameters: dict[str, str]) -> str:
    """A readable folder name that stays the same for the same values whatever the grid around them."""
    digest = hashlib.sha1(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9._=,-]", "-", ",".join(f"{k}={v}" for k, v in parameters.items()))[:80]
    return f"{slug}_{digest}"


def _new_folder(project: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    parent = project / "optimizations"
    for n in range(1, 1000):
        folder = parent / (stamp if n == 1 else f"{stamp}_{n}")
        if not folder.exists():
            return folder
    raise FileExistsError(f"{parent}: no free name for {stamp}")


def prepare_folder(spec: OptimizationSpec, folder: Path) -> Path:
    """The optimization folder (call holding :func:`exclusive`): new, or an earlier one of the same grid
    (resumed); anything else is refused."""
    if (folder / SPEC).is_file():
        earlier = json.loads((folder / SPEC).read_text())
        if {k: earlier.get(k) for k in spec.runs()} != spec.runs():
            changed = sorted(k for k in spec.runs() if earlier.get(k) != spec.runs()[k])
            raise ValueError(f"{folder} holds an optimization whose {', '.join(changed)} differ from this one (the "
                             "code and config.json's parameters count too): give a new folder")
        log.info("resuming the optimization in %s", folder)
    elif any(p.name != LOCK for p in folder.iterdir()):
        raise FileExistsError(f"--output {folder} is not empty and holds no {SPEC}: choose a new or empty folder")
    atomic_write_bytes(folder / SPEC, json.dumps(spec.to_json(), indent=1).encode())
    return folder


def _statistics(folder: Path) -> dict[str, Any]:
    path = folder / "statistics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def existing_row(row: Row, folder: Path) -> Row:
    """A combination's state from its folder: completed (kept), or pending (a failed run's folder is deleted)."""
    if not is_complete(folder):
        if folder.exists():  # no marker: not a finished run (e.g. its run.json was removed); never half-kept
            log.warning("%s has no %s: running that combination again", folder, MARKER)
            shutil.rmtree(folder)
        return row
    info = json.loads((folder / MARKER).read_text())
    given = info.get("parameters") or {}
    if any(given.get(k) != v for k, v in row.parameters.items()):
        raise ValueError(f"{folder}: its run.json has parameters {given}, not {row.parameters}; move it away")
    if info.get("status") == "completed":
        row.status, row.statistics = "completed", _statistics(folder)
        return row
    (folder / MARKER).unlink()  # marker first: a kill half way leaves an incomplete folder, run again next time
    shutil.rmtree(folder)
    return row


@dataclass
class Optimization:
    folder: Path
    rows: list[Row]
    best: Row | None
    commands: list[dict[str, Any]]


class _Progress:
    """Collects outcomes: the row, a one-line message per failure, the progress bar, the table (throttled)."""

    def __init__(self, spec: OptimizationSpec, folder: Path, rows: list[Row], bar: tqdm, extra: dict[str, Any]):
        self.spec, self.folder, self.rows, self.bar, self.extra = spec, folder, {r.index: r for r in rows}, bar, extra
        self.last_publish = 0.0

    def __call__(self, outcome: Outcome) -> None:
        row = self.rows[outcome.index]
        row.status, row.error = outcome.status, outcome.error
        row.statistics = _statistics(Path(outcome.folder)) if outcome.status == "completed" else {}
        if outcome.status == "failed":
            values = ", ".join(f"{k}={v}" for k, v in row.parameters.items())
            log.warning("combination %d (%s) failed: %s", row.index, values, outcome.error)
        self.bar.update(1)
        best = best_row(list(self.rows.values()), self.spec.target, self.spec.constraints)
        if best is not None:
            self.bar.set_postfix_str(f"best #{best.index} {self.spec.target.statistic.given}="
                                     f"{self.spec.target.statistic.value(best.statistics):.4g}")
        if time.monotonic() - self.last_publish >= PUBLISH_EVERY_S:
            self.publish()

    def publish(self) -> dict[str, Any]:
        self.last_publish = time.monotonic()
        return publish_table(self.folder, list(self.rows.values()), self.spec.target, self.spec.constraints,
                             self.extra)


def build_rows(spec: OptimizationSpec, folder: Path) -> list[Row]:
    rows = []
    for index, parameters in enumerate(combinations(spec.parameters), start=1):  # LEAN numbers sets from 1
        name = combination_name(parameters)
        rows.append(existing_row(Row(index, name, parameters), folder / name))
    return rows


def run_optimization(spec: OptimizationSpec, output: str | Path | None = None, workers: int = 1,
                     ray_address: str | None = None, progress: bool = True) -> Optimization:
    """Run every combination not finished yet in ``output`` (default: a new ``<project>/optimizations/<stamp>``);
    returns the folder, every row and the best. A KeyboardInterrupt still publishes the table (unfinished rows
    pending), so the folder can be resumed."""
    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more")
    project = load_project(spec.project)
    size = grid_size(spec.parameters)
    folder = Path(output) if output is not None else _new_folder(spec.project)
    with exclusive(folder):
        prepare_folder(spec, folder)
        return _run_in(spec, project, folder, size, workers, ray_address, progress)


def _run_in(spec: OptimizationSpec, project: Any, folder: Path, size: int, workers: int, ray_address: str | None,
            progress: bool) -> Optimization:
    relative = str(project.path.resolve().relative_to(project.cli_root.resolve()))
    commands = write_lean_equivalents(folder, relative, spec.parameters, spec.target, spec.constraints, workers)
    rows = build_rows(spec, folder)
    todo = [r for r in rows if r.status == "pending"]
    log.info("%s: %d combinations, %d finished earlier, %d to run", folder, size, size - len(todo), len(todo))
    data = str(Path(spec.data).resolve()) if spec.data else None  # Ray nodes resolve nothing against our cwd
    tasks = [Task(r.index, str(project.path.resolve()), data, spec.start, spec.end, project.parameters | r.parameters,
                  str((folder / r.folder).resolve()), spec.fill_timing) for r in todo]  # Config.cs:57-71 merges
    extra = {"optimization": spec.to_json(), "lean_equivalents": commands}
    with logging_redirect_tqdm(), tqdm(total=size, initial=size - len(todo), disable=not progress, unit="backtest",
                                       desc="optimize") as bar:
        collector = _Progress(spec, folder, rows, bar, extra)
        try:
            if ray_address:
                from .ray_backend import run_ray
                run_ray(tasks, ray_address, workers, collector)
            elif workers == 1:
                run_serial(tasks, collector)
            else:
                run_processes(tasks, workers, collector)
        finally:
            document = collector.publish()
    best = best_row(rows, spec.target, spec.constraints)
    _report(folder, document, commands)
    return Optimization(folder, rows, best, commands)


def _report(folder: Path, document: dict[str, Any], commands: list[dict[str, Any]]) -> None:
    counts, best = document["counts"], document["best"]
    log.info("%d completed, %d failed, %d not run; table: %s", counts["completed"], counts["failed"],
             counts["pending"], folder / "results.csv")
    if best is None:
        log.info("no optimal parameter combination: no successful backtest meets all constraints")
    else:
        values = ", ".join(f"{k.removeprefix('parameter:')}: {v}" for k, v in best.items() if k.startswith("parameter:"))
        log.info("optimal parameters: %s (combination %d, %s = %s) in %s", values, best["index"],
                 document["target"]["statistic"], best["target"], folder / best["folder"])
    for entry in commands:
        log.info("same grid with lean-cli: %s", entry["lean_optimize"])
        log.info("in QuantConnect's cloud: %s", entry["lean_cloud_optimize"] or entry["cloud_note"])
