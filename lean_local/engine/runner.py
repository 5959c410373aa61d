"""``run_backtest``: load a project, run it on a data folder, write LEAN-CLI-like outputs."""
from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import algorithm_imports
from .benchmark import SecurityBenchmark, hour_path
from .lean_statistics import lean_summary
from .data_source import DataFolder
from .engine import BacktestEngine, BacktestRecord
from .object_store import configured_store
from .output_folder import BacktestOutput
from .project import LeanProject, algorithm_class, load_project, project_imports
from .results import compute_statistics, git_commit, package_versions, write_failure, write_outputs

log = logging.getLogger(__name__)
SUMMARY_KEYS = ["Net Profit", "Compounding Annual Return", "Sharpe Ratio", "Sortino Ratio", "Drawdown",
                "Annual Standard Deviation", "Alpha", "Beta", "Information Ratio", "Total Fees", "Total Orders",
                "Portfolio Turnover"]


@dataclass
class RunResult:
    output_dir: Path
    statistics: dict[str, Any]
    record: BacktestRecord
    run_info: dict[str, Any]
    algorithm: Any

    def summary(self) -> str:
        """LEAN's report lines as LEAN prints them (statistics.json "lean"), the benchmark's beside them."""
        lean = self.statistics.get("lean", {})
        bench = {k: v for k, v in self.statistics["benchmark"].items() if v is not None}
        bench_text = lean_summary(bench, [], 0) if bench else {}
        lines = [f"{'statistic':<28}{'algorithm':>18}{'SPY':>18}"]
        for key in SUMMARY_KEYS:
            lines.append(f"{key:<28}{lean.get(key, ''):>18}{bench_text.get(key, '') if key in bench else '':>18}")
        lines.append(f"wall time {self.run_info['wall_seconds']:.1f} s")
        return "\n".join(lines)


def _parse_date(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"date {text!r}: expected YYYY-MM-DD, e.g. 2016-01-04") from None


@dataclass
class _Attempt:
    """What a run has built so far: the failure report of a crash uses whatever exists."""

    algorithm: Any = None
    engine: BacktestEngine | None = None


def run_backtest(project_path: str | Path, data_dir: str | Path | None = None, start: str | None = None,
                 end: str | None = None, parameters: dict[str, str] | None = None, output: str | Path | None = None,
                 fill_timing: str = "close", progress: bool = True, write: bool = True,
                 tearsheet: bool = False) -> RunResult:
    """Run ``project_path/main.py``; ``parameters`` replace config.json's as ``lean backtest --parameter`` does.
    ``tearsheet`` also writes QuantStats' tearsheet.html (10-15 s; the CLI's default, off here so tests stay fast).

    With ``write``, the output folder is a transaction (``output_folder.py``): ``output`` is checked before the
    algorithm runs, results appear whole under their final name, and a run that raises still publishes its
    ``log.txt`` and ``run.json`` (the exception is re-raised with a note saying where)."""
    project = load_project(project_path)
    data = DataFolder(data_dir or project.default_data_folder)
    _parse_date(start), _parse_date(end)  # a typo is refused here, before an output folder exists
    params = dict(parameters) if parameters is not None else project.parameters
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")  # lean-cli's backtests/<timestamp> name
    sink = BacktestOutput.begin(output, project.path / "backtests", stamp) if write else None
    attempt = _Attempt()
    began = time.perf_counter()
    try:
        result = _execute(project, data, params, start, end, fill_timing, progress, attempt)
        if sink is None:
            result.output_dir = Path(output) if output else project.path / "backtests" / stamp
            return result
        baseline = None if project.path.name == "top100_baseline" else \
            project.cli_root / "algorithms" / "top100_baseline" / "backtests"
        write_outputs(sink.staging, result.record, result.statistics, result.run_info, result.algorithm._messages,
                      f"{type(result.algorithm).__name__} vs SPY", tearsheet=tearsheet, baseline_backtests=baseline,
                      name=project.path.name)
        result.output_dir = sink.publish(succeeded=True)
        return result
    except BaseException as exc:
        if sink is not None:
            info = _base_info(project, data, params, start, end, fill_timing)
            _publish_failure(sink, exc, attempt, info, time.perf_counter() - began)
        raise


def _execute(project: LeanProject, data: DataFolder, params: dict[str, str], start: str | None, end: str | None,
             fill_timing: str, progress: bool, attempt: _Attempt) -> RunResult:
    """Load the algorithm, run it and compute its statistics (nothing written)."""
    began = time.perf_counter()
    with project_imports(project, algorithm_imports):
        cls = algorithm_class(project)
        algorithm = attempt.algorithm = cls()
        algorithm._parameters = params
        # <cli_root>/storage with lean.json's quota; over it LEAN's ErrorRaised becomes a Debug line (Engine.cs L139)
        algorithm.object_store = configured_store(project.cli_root, on_error=algorithm.debug)
        engine = attempt.engine = BacktestEngine(algorithm, data, fill_timing=fill_timing, progress=progress)
        engine.date_overrides = (_parse_date(start), _parse_date(end))
        record = engine.run()
    wall = time.perf_counter() - began
    stats_began = time.perf_counter()
    hourly = isinstance(engine.benchmark, SecurityBenchmark) and hour_path(data, algorithm.benchmark_ticker).exists()
    stats = compute_statistics(record, algorithm.start_date.date(), algorithm.end_date.date(), data.root, hourly) \
        if len(record.equity) > 1 else {"algorithm": {}, "benchmark": {}, "lean": {}}
    stats_seconds = time.perf_counter() - stats_began
    stats["runtime"] = dict(algorithm.runtime_statistics)
    run_info = _base_info(project, data, params, start, end, fill_timing) | {
        "status": "completed", "algorithm_class": cls.__name__,
        "start": str(algorithm.start_date.date()), "end": str(algorithm.end_date.date()),
        **_requested_window(engine), "runtime_statistics": dict(algorithm.runtime_statistics),
        "skipped_symbols": record.skipped_symbols, "wall_seconds": wall, "statistics_seconds": stats_seconds,
        "benchmark": engine.benchmark.description, "lean_time_limit": engine.time_budget.report(),
    }
    return RunResult(project.path, stats, record, run_info, algorithm)


def _base_info(project: LeanProject, data: DataFolder, params: dict[str, str], start: str | None, end: str | None,
               fill_timing: str) -> dict[str, Any]:
    """What run.json says whether or not the run finished."""
    return {"project": str(project.path.relative_to(project.cli_root)), "parameters": params,
            "seed": params.get("seed"), "data_folder": str(data.root.resolve()), "start": start, "end": end,
            "fill_timing": fill_timing, "packages": package_versions(), "git_commit": git_commit(project.cli_root),
            "runner": "lean_local"}


def _requested_window(engine: BacktestEngine) -> dict[str, str]:
    """The dates asked for, where the data made the run use others (see ``window.py``)."""
    requested = getattr(engine, "requested_window", None)
    if requested is None:
        return {}
    algorithm = engine.algorithm
    out = {}
    if requested[0] != algorithm.start_date.date():
        out["requested_start"] = str(requested[0])
    if requested[1] != algorithm.end_date.date():
        out["requested_end"] = str(requested[1])
    return out


def _publish_failure(sink: BacktestOutput, exc: BaseException, attempt: _Attempt, info: dict[str, Any],
                     wall: float) -> None:
    """Publish the crashed run's log and run.json; never hides ``exc`` (a failure here is added as a note)."""
    failure = "".join(traceback.format_exception(exc)).rstrip()
    algorithm, engine = attempt.algorithm, attempt.engine
    info |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": failure,
             "wall_seconds": wall}
    if algorithm is not None:
        info |= {"algorithm_class": type(algorithm).__name__, "failed_at": str(getattr(algorithm, "_time", "")),
                 "start": str(algorithm.start_date.date()), "end": str(algorithm.end_date.date()),
                 "runtime_statistics": dict(getattr(algorithm, "runtime_statistics", {}))}
    try:
        write_failure(sink.staging, engine.record if engine is not None else None, info,
                      list(getattr(algorithm, "_messages", [])), failure)
        folder = sink.publish(succeeded=False)
        exc.add_note(f"lean_local: the failed run's log.txt and run.json are in {folder}")
    except Exception as write_error:  # noqa: BLE001 - the run's own exception is the one to raise
        log.exception("could not write the failed run's outputs")
        exc.add_note(f"lean_local: the failed run's outputs could not be written ({write_error}); see "
                     f"{sink.staging}")
