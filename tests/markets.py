"""Hand-built markets whose P&L can be worked out on paper, written through the real importer."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd

from lean_local.data.importer import import_data
from lean_local.engine.runner import RunResult, run_backtest

DAYS = pd.bdate_range("2020-01-01", "2020-03-31")  # plain weekdays: the calendar of these markets


def bars(ticker: str, closes: list[float], start: int = 0, opens: list[float] | None = None,
         dividends: dict[int, float] | None = None, splits: dict[int, float] | None = None,
         volume: float = 1_000_000) -> pd.DataFrame:
    """Raw daily bars from day index ``start`` on; high/low bracket open and close."""
    n = len(closes)
    opens = opens or closes
    frame = pd.DataFrame({
        "date": DAYS[start:start + n].strftime("%Y-%m-%d"), "ticker": ticker, "open": opens,
        "high": [max(o, c) for o, c in zip(opens, closes)], "low": [min(o, c) for o, c in zip(opens, closes)],
        "close": closes, "volume": volume, "dividend_amount": 0.0, "split_coefficient": 1.0})
    for i, amount in (dividends or {}).items():
        frame.loc[i, "dividend_amount"] = amount
    for i, ratio in (splits or {}).items():
        frame.loc[i, "split_coefficient"] = ratio
    return frame


def write_market(folder: Path, frames: list[pd.DataFrame], members: list[tuple[str, str, str]] | None = None,
                 spy_closes: list[float] | None = None) -> Path:
    """Write vendor CSVs for ``frames`` and import them into ``folder/data``; returns the data folder."""
    folder.mkdir(parents=True, exist_ok=True)
    prices = pd.concat(frames, ignore_index=True)
    prices.to_csv(folder / "prices.csv", index=False)
    tickers = sorted(prices["ticker"].unique())
    members = members or [(t, str(DAYS[0].date()), "") for t in tickers]
    pd.DataFrame(members, columns=["ticker", "start_date", "end_date"]).to_csv(folder / "members.csv", index=False)
    closes = spy_closes or [100.0 + i for i in range(len(DAYS))]
    pd.DataFrame({"date": DAYS[:len(closes)].strftime("%Y-%m-%d"), "ticker": "SPY", "open": closes, "high": closes,
                  "low": closes, "close": closes, "volume": 1e8, "dividends": 0.0, "stock_splits": 0.0,
                  "capital_gains": 0.0}).to_csv(folder / "spy.csv", index=False)
    data = folder / "data"
    import_data(folder / "prices.csv", folder / "members.csv", folder / "spy.csv", data)
    return data


def write_project(root: Path, name: str, main_py: str, parameters: dict | None = None,
                  libraries: bool = True) -> Path:
    """A LEAN CLI root with one project; the real Library/ is linked in so the skeleton is importable."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "lean.json").write_text('{\n  // test root\n  "data-folder": "data"\n}\n')
    repo_library = Path(__file__).resolve().parents[1] / "Library"
    if libraries and not (root / "Library").exists():
        (root / "Library").symlink_to(repo_library, target_is_directory=True)
    project = root / "algorithms" / name
    project.mkdir(parents=True, exist_ok=True)
    (project / "main.py").write_text(textwrap.dedent(main_py))
    config = {"algorithm-language": "Python", "parameters": parameters or {},
              "libraries": [{"name": "models", "path": "Library/models"}, {"name": "skeleton", "path": "Library/skeleton"}]}
    (project / "config.json").write_text(json.dumps(config))
    return project


def first_backtest(root: Path, name: str, main_py: str, parameters: dict, market: Path, start: str,
                   end: str) -> tuple[Path, Path, RunResult]:
    """A CLI root with one project and its first backtest (written to ``root/out1``): the starting point
    of the end-to-end tests that save state to the object store and resume it in a later run."""
    project = write_project(root, name, main_py, parameters)
    result = run_backtest(project, data_dir=market, start=start, end=end, progress=False, output=root / "out1")
    return root, project, result
