"""llm4fts_ranker on the dev data, 2013-01-01..2018-12-31, small RANDOM GPT-2 (6 layers, n_embd 64) on
CPU, three seeds, next to top100_baseline and SPY: wall time and statistics.

Each seed first runs the offline pre-training (SIPR + stage 1 on 2000-2012, the universe known at the
end of 2012) into the project's object store, then backtests with ``pretrain=require`` so the
algorithm uses exactly that artifact. Needs ``data/`` (``make data``). Random weights: these figures
say nothing about pretrained GPT-2; the spread over seeds is the point.

The ranker runs with its defaults (``RankerConfig``): next-day rank-normal labels, one stage-2 step per
trading day (two passes over the first year, then each month's new days), zero-initialised score head,
margin-hinge ranking term, the mean of the last 5 days' standardised predictions, monthly rebalance.
``--threads N`` sets ``torch_threads`` (0: torch's default).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from lean_local.engine.quantbook import QuantBook
from lean_local.engine.runner import run_backtest
from lean_local.engine.symbols import Resolution
from machine import summary_statistics, write_result
from models.llm4fts import RankerConfig
from models.llm4fts.research import pretrain_offline, research_panel

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SEEDS = (42, 7, 123)
WINDOW = ("2013-01-01", "2018-12-31")
STAGE1 = ("2000-01-01", "2012-12-31")
BACKBONE = {"model_id": "gpt2", "weights": "random", "gpt_width": "64", "gpt_heads": "4"}



def pretrain_seed(seed: int) -> dict:
    """What ``scripts/pretrain_llm4fts.py --model-id gpt2 --weights random --gpt-width 64 --gpt-heads 4`` does."""
    qb = QuantBook(DATA)
    panel, index_close, _ = research_panel(qb, DATA, *STAGE1, STAGE1[1], Resolution.DAILY)
    config = RankerConfig(model_id="gpt2", weights="random", gpt_width=64, gpt_heads=4, seed=seed)
    _, report = pretrain_offline(config, panel, index_close, *STAGE1, store=qb.object_store)
    return report


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    built = DATA / "lean_local_import.json"
    if not built.is_file() or "sp500_dev" not in json.loads(built.read_text()).get("sources", {}).get("prices", ""):
        raise SystemExit(f"{DATA} does not hold the dev data: run `make data` with ../shared beside the clone")
    baseline = run_backtest(ROOT / "algorithms" / "top100_baseline", data_dir=DATA, start=WINDOW[0], end=WINDOW[1],
                            progress=False, write=False)
    runs = {}
    for seed in SEEDS:
        stage1 = pretrain_seed(seed)
        parameters = {**BACKBONE, "seed": str(seed), "fresh_start": "true", "pretrain": "require",
                      "torch_threads": str(arguments.threads)}
        began = time.perf_counter()
        result = run_backtest(ROOT / "algorithms" / "llm4fts_ranker", data_dir=DATA, start=WINDOW[0], end=WINDOW[1],
                              parameters=parameters, progress=False, write=False)
        runs[f"seed{seed}"] = {"wall_seconds": round(time.perf_counter() - began, 1),
                               "stage1": {k: stage1[k] for k in ("sipr_seconds", "stage1_seconds", "stage1_first_loss",
                                                                 "stage1_last_loss", "trained_through")},
                               "statistics": summary_statistics(result.statistics["algorithm"]),
                               "runtime": result.algorithm.runtime_statistics}
        print(seed, runs[f"seed{seed}"], flush=True)
    write_result("llm4fts_backtest", {
        "window": list(WINDOW), "stage1_window": list(STAGE1),
        "backbone": "GPT-2 architecture, 6 layers, n_embd 64, 4 heads, RANDOM weights, CPU fp32",
        "llm4fts_ranker": runs, "top100_baseline": summary_statistics(baseline.statistics["algorithm"]),
        "spy": summary_statistics(baseline.statistics["benchmark"])})
