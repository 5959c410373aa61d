"""``run_backtest``: load a project, run it on a data folder, write LEAN-CLI-like outputs."""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import algorithm_imports
from .data_source import DataFolder
from .engine import BacktestEngine, BacktestRecord
from .project import algorithm_class, load_project, project_imports
from .results import compute_statistics, git_commit, package_versions, write_outputs

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
        algo, bench = self.statistics["algorithm"], self.statistics["benchmark"]
        lines = [f"{'statistic':<28}{'algorithm':>16}{'SPY':>16}"]
        for key in SUMMARY_KEYS:
            a, b = algo.get(key), bench.get(key)
            fmt = (lambda v: "" if v is None else f"{v:,.4f}")
            lines.append(f"{key:<28}{fmt(a):>16}{fmt(b):>16}")
        lines.append(f"wall time {self.run_info['wall_seconds']:.1f} s")
        return "\n".join(lines)


def _parse_date(text: str | None) -> dt.datetime | None:
    return dt.datetime.strptime(text, "%Y-%m-%d") if text else None


def run_backtest(project_path: str | Path, data_dir: str | Path | None = None, start: str | None = None,
                 end: str | None = None, parameters: dict[str, str] | None = None, output: str | Path | None = None,
                 fill_timing: str = "close", progress: bool = True, write: bool = True) -> RunResult:
    """Run ``project_path/main.py``; ``parameters`` replace config.json's as ``lean backtest --parameter`` does."""
    project = load_project(project_path)
    data = DataFolder(data_dir or project.default_data_folder)
    params = dict(parameters) if parameters is not None else project.parameters
    began = time.perf_counter()
    with project_imports(project, algorithm_imports):
        cls = algorithm_class(project)
        algorithm = cls()
        algorithm._parameters = params
        algorithm.object_store.root = project.storage
        engine = BacktestEngine(algorithm, data, fill_timing=fill_timing, progress=progress)
        engine.date_overrides = (_parse_date(start), _parse_date(end))
        record = engine.run()
    wall = time.perf_counter() - began
    stats = compute_statistics(record) if len(record.equity) > 1 else {"algorithm": {}, "benchmark": {}}
    stats["runtime"] = dict(algorithm.runtime_statistics)
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(output) if output else project.path / "backtests" / stamp
    run_info = {
        "project": str(project.path.relative_to(project.cli_root)), "algorithm_class": cls.__name__,
        "parameters": params, "seed": params.get("seed"), "data_folder": str(data.root.resolve()),
        "start": str(algorithm.start_date.date()), "end": str(algorithm.end_date.date()),
        "fill_timing": fill_timing, "runtime_statistics": dict(algorithm.runtime_statistics),
        "skipped_symbols": record.skipped_symbols, "packages": package_versions(),
        "git_commit": git_commit(project.cli_root), "wall_seconds": wall, "runner": "lean_local",
    }
    if write:
        write_outputs(out, record, stats, run_info, algorithm._messages, f"{cls.__name__} vs SPY")
    return RunResult(out, stats, record, run_info, algorithm)
