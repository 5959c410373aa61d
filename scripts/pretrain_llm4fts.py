"""Offline LLM4FTS pre-training: SIPR patterns on SPY and stage-1 next-patch training, written to
the object store (storage/) where algorithms/llm4fts_ranker loads them.

    .venv/bin/python scripts/pretrain_llm4fts.py --weights random --gpt-width 64 --gpt-heads 4
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from lean_local.engine.quantbook import QuantBook
from lean_local.engine.symbols import Resolution
from models.llm4fts import RankerConfig
from models.llm4fts.research import pretrain_offline, research_panel

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--start", default="2000-01-01")
    parser.add_argument("--end", default="2012-12-31")
    parser.add_argument("--model-id", default="openai-community/gpt2")
    parser.add_argument("--weights", choices=("pretrained", "random"), default="pretrained")
    parser.add_argument("--gpt-layers", type=int, default=6)
    parser.add_argument("--gpt-width", type=int, default=0)
    parser.add_argument("--gpt-heads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = RankerConfig(model_id=args.model_id, weights=args.weights, gpt_layers=args.gpt_layers,
                          gpt_width=args.gpt_width, gpt_heads=args.gpt_heads, seed=args.seed, pretrain_steps=args.steps)
    qb = QuantBook(args.data)
    panel, index_close, _ = research_panel(qb, args.data, args.start, args.end, args.end, Resolution.DAILY)
    _, report = pretrain_offline(config, panel, index_close, args.start, args.end, store=qb.object_store,
                                 progress=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
