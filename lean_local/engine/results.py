"""Writes a run's outputs like the LEAN CLI's ``backtests/<timestamp>/`` folder."""
from __future__ import annotations

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
from .statistics import CONVENTIONS, series_statistics, trading_statistics  # noqa: E402

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


def compute_statistics(record: BacktestRecord) -> dict[str, Any]:
    equity, orders, _ = frames(record)
    algo = series_statistics(equity["equity"], equity["benchmark"])
    algo.update(trading_statistics(orders, equity["equity"]))
    if record.start_equity:  # LEAN: Start Equity is the cash set in initialize, not the first close
        algo["Start Equity"] = record.start_equity
        algo["Net Profit"] = equity["equity"].iloc[-1] / record.start_equity - 1.0
    bench_equity = equity["benchmark"] / equity["benchmark"].iloc[0] * equity["equity"].iloc[0]
    bench = series_statistics(bench_equity)
    return {"algorithm": algo, "benchmark": bench, "conventions": CONVENTIONS}


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
                  messages: list[str], title: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    equity, orders, holdings = frames(record)

    def put(name: str, text: str) -> None:
        atomic_write_bytes(out / name, text.encode())

    put("statistics.json", json.dumps(stats, indent=1, default=str))
    put("equity.csv", equity.rename_axis("date").to_csv(float_format="%.6f"))
    put("orders.csv", orders.to_csv(index=False))
    put("holdings.csv", holdings.to_csv(index=False, float_format="%.8f"))
    put("log.txt", "\n".join(messages + [f"WARNING {w}" for w in record.warnings]) + "\n")
    put("run.json", json.dumps(run_info, indent=1, default=str))
    if len(equity) > 1:
        _chart(equity, title, out / "equity.png")
