"""Regenerates Library/models/features/selected_42.py: the 42 features the models read.

Sample: every month start from 2009-06 to 2015-12, the point-in-time top-100 universe (the same rule
as the algorithms: constituents file of the previous trading day, largest weights), the indicator
panel from 300 bars of history ending before that day, and its last 21 masked-valid days per stock.
Filter: drop constant columns, then iterative VIF elimination, stopped at 42 features; their VIFs
must be below 20. The counts a plain threshold rule would keep (VIF < 5, 10, 20) are recorded too.

    .venv/bin/python scripts/select_features.py --data data [--write]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Library"))

from lean_local.engine.data_source import DataFolder  # noqa: E402
from lean_local.engine.history import daily_history  # noqa: E402
from lean_local.engine.symbols import Symbol  # noqa: E402
from models.features.catalog import candidate_names  # noqa: E402
from models.features.panel import SELECTED_PATH, indicator_panel  # noqa: E402
from models.features.selection import render_selection_module, select_by_vif  # noqa: E402
from models.universe import top_by_weight  # noqa: E402

WINDOW = ("2009-06-01", "2015-12-31")
HISTORY_BARS, ROWS_PER_MONTH, THRESHOLD, TARGET = 300, 21, 20.0, 42


def sample(data: DataFolder) -> tuple[np.ndarray, list[str]]:
    names = candidate_names()
    days = data.calendar[(data.calendar >= WINDOW[0]) & (data.calendar <= WINDOW[1])]
    month_starts = pd.Series(days, index=days).groupby([days.year, days.month]).first()
    blocks = []
    for day in month_starts:
        found = data.constituents_file_on_or_before("spy", day.date() - dt.timedelta(days=1))
        if found is None:
            continue
        members = top_by_weight(((r.ticker, r.weight) for r in found[1]), 100)
        now = dt.datetime.combine(day.date(), dt.time(10))
        history = daily_history(data, [Symbol(t) for t in members], now, count=HISTORY_BARS)
        panel = indicator_panel(history, names).window(ROWS_PER_MONTH)
        blocks.append(panel.values[panel.mask].astype(np.float64))
    return np.concatenate(blocks), names


def run(data_dir: Path) -> dict:
    x, names = sample(DataFolder(data_dir))
    selection = select_by_vif(x, names, THRESHOLD, TARGET)
    return {"features": selection.features, "threshold": THRESHOLD, "target": TARGET,
            "count_below_threshold": selection.count_below, "constant_dropped": selection.constant,
            "removed_in_order": selection.removed, "vif": selection.vif, "rows": int(len(x)),
            "sample": f"month starts {WINDOW[0]}..{WINDOW[1]}, point-in-time top-100, last {ROWS_PER_MONTH} valid "
                      f"days of a {HISTORY_BARS}-bar panel", "candidates": len(names)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "data"), help="LEAN data folder built from the dev data")
    parser.add_argument("--write", action="store_true", help=f"write {SELECTED_PATH.relative_to(ROOT)}")
    args = parser.parse_args()
    result = run(Path(args.data))
    print(json.dumps({k: v for k, v in result.items() if k not in ("vif", "removed_in_order")}, indent=1))
    if args.write:
        SELECTED_PATH.write_text(render_selection_module(result))
        print(f"written to {SELECTED_PATH}")
