"""LLM4FTS speed: SIPR on SPY's daily closes 2000-2018 (cold = with numba compilation, warm), and
stage-1 / stage-2 training throughput of a GPT-2 configuration on this machine's device.

    .venv/bin/python benchmarks/llm4fts.py [--width 64 --heads 4 --layers 6] [--device cuda]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from machine import SHARED, write_result
from models.llm4fts import CrossSection, LLM4FTSRanker, RankerConfig, SiprConfig, fit_sipr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    spy = pd.read_csv(SHARED / "spy_daily_1993_2018.csv", parse_dates=["date"])
    closes = spy.loc[(spy.date >= "2000-01-01") & (spy.date <= "2018-12-31"), "close"].to_numpy()
    timings = {}
    for run in ("cold", "warm"):
        t0 = time.perf_counter()
        library = fit_sipr(closes, SiprConfig())
        timings[f"sipr_{run}_s"] = time.perf_counter() - t0
    config = RankerConfig(model_id="gpt2", weights="random", gpt_width=args.width, gpt_heads=args.heads,
                          gpt_layers=args.layers, device=args.device)
    ranker = LLM4FTSRanker.from_config(config, library)
    rng = np.random.default_rng(0)
    starts = ranker.plan(closes[-config.lookback_days:])
    series = rng.normal(size=(config.pretrain_batch, config.lookback_days + config.patch_stride)).astype(np.float32)
    ranker.pretrain_step(series, starts)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        ranker.pretrain_step(series, starts)
    _sync(args.device)
    stage1 = (time.perf_counter() - t0) / args.steps
    section = CrossSection(rng.normal(size=(100, 5, config.lookback_days)).astype(np.float32), starts,
                           rng.normal(0, 0.05, 100))
    ranker.finetune([section])
    t0 = time.perf_counter()
    ranker.finetune([section] * args.steps)
    _sync(args.device)
    stage2 = (time.perf_counter() - t0) / args.steps
    write_result(f"llm4fts_{args.device}_w{args.width}_l{args.layers}", {
        "sipr": {"points": len(closes), "config": "K 12, l 8-16, 10 iterations, 3 restarts", **timings},
        "backbone": f"GPT-2 architecture, {args.layers} layers, n_embd {args.width}, {args.heads} heads, random",
        "device": str(ranker.device), "stage1_seconds_per_step": stage1,
        "stage1_sequences_per_s": config.pretrain_batch / stage1,
        "stage2_seconds_per_cross_section_of_100": stage2, "threads": torch.get_num_threads()})


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
