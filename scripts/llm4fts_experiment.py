"""LLM4FTS on the dev data: stage 1 on 2000-2012, stage 2 walk-forward monthly over 2013-2018, with
the paper's ablations (no SIPR patching, no wavelet module). Writes IC / RankIC / ICIR per variant.

Several seeds (``--seeds``) because one seed's differences between variants are within noise; the file is rewritten
after every run so a long sweep that is stopped keeps what it finished. Small random GPT-2 on CPU: these numbers
say nothing about pretrained GPT-2.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from lean_local.data.lean_format import atomic_write_bytes
from lean_local.engine.quantbook import QuantBook
from lean_local.engine.results import package_versions
from lean_local.engine.symbols import Resolution
from models.llm4fts import RankerConfig, summarise, walk_forward
from models.llm4fts.research import pretrain_offline, research_panel

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTION = {"data": "dev data (LEAN format from ../shared/data/sp500_dev)", "stage1": "2000-01-01..2012-12-31",
               "walk_forward": "monthly decisions 2013-01..2018-12, returns to the next decision; a decision whose "
                               "returns run past the data is left out",
               "backbone": "GPT-2 architecture, 6 layers, n_embd 64, 4 heads, RANDOM weights"}
VARIANTS = {"full": {}, "no_sipr": {"use_sipr": False}, "no_wavelet": {"use_wavelet": False}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 123])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=ROOT / "research" / "results" / "llm4fts_experiment.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    panel, index_close, universes = research_panel(QuantBook(args.data), args.data, "2000-01-01", "2018-12-31",
                                                   "2013-01-01", Resolution.DAILY)
    universes = {d: members for d, members in universes.items() if d.year <= 2018}
    load_seconds = time.perf_counter() - started
    first_decision = min(universes)  # stage 1 sees the universe known then, not stocks that joined later
    results: dict[str, dict] = {name: {"seeds": {}} for name in args.variants}
    for seed in args.seeds:
        for name in args.variants:
            config = RankerConfig(model_id="gpt2", weights="random", gpt_width=64, gpt_heads=4, seed=seed,
                                  **VARIANTS[name])
            t0 = time.perf_counter()
            ranker, report = pretrain_offline(config, panel, index_close, "2000-01-01", "2012-12-31",
                                              symbols=universes[first_decision])
            months = walk_forward(ranker, panel, index_close, universes, config.top_fraction)
            results[name]["seeds"][str(seed)] = {
                "summary": summarise(months), "stage1": report, "seconds": time.perf_counter() - t0,
                "monthly": months.reset_index().astype({"decision": str}).to_dict(orient="records")}
            results[name]["across_seeds"] = across_seeds(results[name]["seeds"])
            logging.info("%s seed %d: %s", name, seed, results[name]["seeds"][str(seed)]["summary"])
            payload = {**DESCRIPTION, "seeds": args.seeds, "load_seconds": load_seconds,
                       "packages": package_versions(), "variants": results}
            atomic_write_bytes(args.out, json.dumps(payload, indent=1, default=float).encode())
    print(json.dumps({k: v["across_seeds"] for k, v in results.items()}, indent=1))


def across_seeds(runs: dict[str, dict]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of each summary figure, and the ICIR of all seeds'
    monthly ICs pooled. The spread over seeds is the yardstick for the ablation: a gap between
    variants smaller than it is noise."""
    table = pd.DataFrame([run["summary"] for run in runs.values()]).drop(columns="months")
    monthly_ic = pd.concat([pd.DataFrame(run["monthly"])["ic"] for run in runs.values()]).dropna()
    return {"seeds": len(runs), "mean": table.mean().to_dict(),
            "std": table.std().to_dict() if len(runs) > 1 else None,
            "pooled_icir": float(monthly_ic.mean() / monthly_ic.std())}

if __name__ == "__main__":
    main()
