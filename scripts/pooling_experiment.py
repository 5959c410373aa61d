"""Which summary of a stock's sequence feeds the score head: the decoder's first step or the
masked mean of the encoder states? Runs the online loop (``models.allocator.walk_forward``) on the
dev data for both, with several seeds, and writes ``research/results/pooling_experiment.json``.

The window is 2009-06..2015-12 (the feature-selection window), leaving 2016-2018 unused by every
design decision. Backbone: chronos-t5-tiny architecture with RANDOM weights (no checkpoint can be
downloaded here), so this compares the two read-outs as trainable architectures, not pretrained Chronos.

    .venv/bin/python scripts/pooling_experiment.py --data data
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lean_local.engine.quantbook import QuantBook
from lean_local.engine.symbols import Resolution
from models.allocator import AllocatorConfig, OnlineAllocator
from models.allocator.walk_forward import research_months, run_online

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("pooling_experiment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--start", default="2009-06-01")
    parser.add_argument("--end", default="2015-12-31")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=ROOT / "research" / "results" / "pooling_experiment.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("models.allocator.learner").setLevel(logging.ERROR)

    started = time.perf_counter()
    months, _ = research_months(QuantBook(args.data), args.data, args.start, args.end, AllocatorConfig().lookback_days,
                                Resolution.DAILY)
    log.info("%d months of inputs in %.1f s", len(months), time.perf_counter() - started)
    results = []
    for pooling in ("encoder_mean", "decoder_first"):
        for seed in args.seeds:
            config = AllocatorConfig(model_id="amazon/chronos-t5-tiny", weights="random", seed=seed, pooling=pooling)
            learner = OnlineAllocator.from_config(config)
            params = sum(p.numel() for p in learner.model.parameters())
            t0 = time.perf_counter()
            summary, _ = run_online(learner, months)
            seconds = time.perf_counter() - t0
            active = summary.portfolio_return - summary.equal_weight_return
            row = {"pooling": pooling, "seed": seed, "months": len(summary), "parameters": params,
                   "seconds_per_month": seconds / len(summary),
                   "mean_monthly_return": summary.portfolio_return.mean(),
                   "mean_active_return_vs_equal_weight": active.mean(),
                   "active_t_stat": active.mean() / (active.std(ddof=1) / np.sqrt(len(active))),
                   "mean_loss": summary.loss.mean(), "mean_effective_n": summary.effective_n.mean(),
                   "mean_turnover": summary.turnover.mean()}
            results.append(row)
            log.info("%s", {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()})
    frame = pd.DataFrame(results)
    by_pooling = frame.groupby("pooling").mean(numeric_only=True).drop(columns="seed")
    payload = {"window": [args.start, args.end], "backbone": "chronos-t5-tiny architecture, RANDOM weights",
               "runs": results, "mean_by_pooling": by_pooling.to_dict(orient="index")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, default=float))
    print(by_pooling.to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
