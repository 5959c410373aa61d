"""Writes a run's outputs like the LEAN CLI's ``backtests/<timestamp>/`` folder."""
from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..data.lean_format import atomic_write_bytes  # noqa: E402
from .engine import BacktestRecord  # noqa: E402
from .orders import lean_orders_frame  # noqa: E402
from .statistics import backtest_statistics  # noqa: E402
from .tearsheet import write_tearsheet  # noqa: E402

VERSIONED = ["numpy", "pandas", "quantstats", "matplotlib", "torch", "transformers", "peft", "accelerate",
             "chronos-forecasting", "TA-Lib", "tslearn", "PyWavelets", "statsmodels", "scikit-learn"]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: Path) -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def frames(record: BacktestRecord) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    equity = pd.DataFrame(record.equity, columns=["date", "equity", "benchmark"]).set_index("date")
    equity.index = pd.DatetimeIndex(equity.index)
    orders = pd.DataFrame([{
        "id": o.id, "time": o.time, "symbol": o.symbol.value, "quantity": o.quantity, "type": o.type.name,
        "status": o.status.name, "fill_time": o.fill_time, "fill_price": o.fill_price, "fee": o.fee,
        "tag": o.tag, "message": o.message} for o in record.orders],
        columns=["id", "time", "symbol", "quantity", "type", "status", "fill_time", "fill_price", "fee", "tag", "message"])
    holdings = pd.DataFrame(record.holdings, columns=["date", "symbol", "weight"])
    return equity, orders, holdings


def compute_statistics(record: BacktestRecord, start: dt.date | None = None, end: dt.date | None = None,
                       data_root: str | Path | None = None, hourly_slices: bool = False) -> dict[str, Any]:
    """``statistics.json``: LEAN's statistics by LEAN's formulas (see :mod:`.statistics`). ``start``/``end`` are the
    algorithm's dates (LEAN samples from the start date's midnight); ``data_root`` holds the interest-rate file;
    ``hourly_slices``: LEAN steps hourly (a security benchmark's internal hour feed), not only at 16:00."""
    equity, orders, _ = frames(record)
    start_equity = record.start_equity or float(equity["equity"].iloc[0])  # LEAN: the cash set in initialize
    hours = tuple(range(10, 17)) if hourly_slices else (16,)
    return backtest_statistics(equity, orders, start_equity, start, end, data_root, slice_hours=hours)


def _chart(equity: pd.DataFrame, title: str, path: Path) -> None:
    norm = equity / equity.iloc[0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(norm.index, norm["equity"], label="strategy")
    top.plot(norm.index, norm["benchmark"], label="SPY (benchmark)", alpha=0.8)
    top.set_ylabel("growth of 1")
    top.set_title(title)
    top.legend(loc="upper left")
    for column, label in (("equity", "strategy"), ("benchmark", "SPY")):
        dd = norm[column] / norm[column].cummax() - 1.0
        bottom.fill_between(dd.index, dd, 0, alpha=0.4, label=label)
    bottom.set_ylabel("drawdown")
    bottom.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(out: Path, record: BacktestRecord, stats: dict[str, Any], run_info: dict[str, Any],
                  messages: list[str], title: str, tearsheet: bool = False,
                  baseline_backtests: Path | None = None, name: str = "strategy") -> None:
    """Write the run's files; with ``tearsheet`` also QuantStats' ``tearsheet.html`` (against SPY and, when
    ``baseline_backtests`` is given, the newest top100_baseline run covering the dates), timed in run.json."""
    out.mkdir(parents=True, exist_ok=True)
    equity, orders, holdings = frames(record)

    def put(name: str, text: str) -> None:
        atomic_write_bytes(out / name, text.encode())

    put("statistics.json", json.dumps(stats, indent=1, default=str))
    put("equity.csv", equity.rename_axis("date").to_csv(float_format="%.6f"))
    put("orders.csv", lean_orders_frame(record.orders).to_csv(index=False))  # LEAN's order field names
    put("holdings.csv", holdings.to_csv(index=False, float_format="%.8f"))
    put("log.txt", "\n".join(messages + [f"WARNING {w}" for w in record.warnings]) + "\n")
    if len(equity) > 1:
        _chart(equity, title, out / "equity.png")
    if tearsheet and len(equity) > 2:
        run_info["tearsheet"] = write_tearsheet(out / "tearsheet.html", equity, name, baseline_backtests)
    put("run.json", json.dumps(run_info, indent=1, default=str))  # last: the completion marker


def write_failure(out: Path, record: BacktestRecord | None, run_info: dict[str, Any], messages: list[str],
                  failure: str) -> None:
    """A crashed run's folder: ``log.txt`` (the algorithm's messages, the warnings, then the traceback), what it
    had recorded (equity, orders, holdings; no statistics, which would describe a run that did not finish) and
    ``run.json`` with ``status: failed``, written last. Writing the partial frames may itself fail (the record
    may be what broke); the log and run.json are written regardless."""
    out.mkdir(parents=True, exist_ok=True)
    warnings = [f"WARNING {w}" for w in record.warnings] if record is not None else []
    atomic_write_bytes(out / "log.txt", "\n".join(messages + warnings + [f"ERROR {failure}"]).encode() + b"\n")
    if record is not None:
        try:
            equity, _, holdings = frames(record)
            atomic_write_bytes(out / "equity.csv", equity.rename_axis("date").to_csv(float_format="%.6f").encode())
            atomic_write_bytes(out / "orders.csv", lean_orders_frame(record.orders).to_csv(index=False).encode())
            atomic_write_bytes(out / "holdings.csv", holdings.to_csv(index=False, float_format="%.8f").encode())
        except Exception as exc:  # noqa: BLE001 - the partial results are a courtesy; the log says what failed
            run_info["partial_results_error"] = f"{type(exc).__name__}: {exc}"
    atomic_write_bytes(out / "run.json", json.dumps(run_info, indent=1, default=str).encode())
