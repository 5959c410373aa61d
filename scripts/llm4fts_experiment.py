"""LLM4FTS on the dev data: stage 1 on 2000-2012, stage 2 walk-forward monthly over 2013-2018, with
the paper's ablations (no SIPR patching, no wavelet module). Writes IC / RankIC / ICIR per variant.

Small random GPT-2 on CPU: these numbers say nothing about pretrained GPT-2.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from lean_local.engine.quantbook import QuantBook
from lean_local.engine.results import package_versions
from lean_local.engine.symbols import Resolution
from models.llm4fts import RankerConfig, summarise, walk_forward
from models.llm4fts.research import pretrain_offline, research_panel

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"full": {}, "no_sipr": {"use_sipr": False}, "no_wavelet": {"use_wavelet": False}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=ROOT / "research" / "results" / "llm4fts_experiment.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    panel, index_close, universes = research_panel(QuantBook(args.data), args.data, "2000-01-01", "2018-12-31",
                                                   "2013-01-01", Resolution.DAILY)
    universes = {d: members for d, members in universes.items() if d.year <= 2018}
    load_seconds = time.perf_counter() - started
    results = {}
    for name in args.variants:
        config = RankerConfig(model_id="gpt2", weights="random", gpt_width=64, gpt_heads=4, seed=args.seed,
                              **VARIANTS[name])
        t0 = time.perf_counter()
        ranker, report = pretrain_offline(config, panel, index_close, "2000-01-01", "2012-12-31")
        months = walk_forward(ranker, panel, index_close, universes, config.top_fraction)
        results[name] = {"summary": summarise(months), "stage1": report, "seconds": time.perf_counter() - t0,
                         "monthly": months.reset_index().astype({"decision": str}).to_dict(orient="records")}
        logging.info("%s: %s", name, results[name]["summary"])
    payload = {"data": "dev data (LEAN format from ../shared/data/sp500_dev)", "stage1": "2000-01-01..2012-12-31",
               "walk_forward": "monthly decisions 2013-01..2018-12, returns to the next decision",
               "backbone": "GPT-2 architecture, 6 layers, n_embd 64, 4 heads, RANDOM weights", "seed": args.seed,
               "load_seconds": load_seconds, "packages": package_versions(), "variants": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, default=float))
    print(json.dumps({k: v["summary"] for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
