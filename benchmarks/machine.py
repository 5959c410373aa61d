"""Machine and package facts written next to every benchmark result."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from lean_local.engine.results import git_commit, package_versions
from lean_local.engine.runner import SUMMARY_KEYS

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sp500_dev"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def summary_statistics(stats: dict[str, Any]) -> dict[str, Any]:
    """The statistics a backtest benchmark reports (the runner's summary keys; None where absent, e.g. SPY's beta)."""
    return {k: stats.get(k) for k in SUMMARY_KEYS}


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), "packages": package_versions(),
               "git_commit": git_commit(RESULTS), **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(json.dumps(result, indent=1, default=str))
    print(f"written to {path}")
    return path
