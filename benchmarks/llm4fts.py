"""LLM4FTS speed: SIPR on SPY's daily closes 2000-2018 (cold = with numba compilation, warm), and
stage-1 / stage-2 training throughput of a GPT-2 configuration on this machine's device, plus the daily
stage-2 schedule end to end (windows, SIPR plans, one step per trading-day cross-section of 100 stocks).

    .venv/bin/python benchmarks/llm4fts.py [--width 64 --heads 4 --layers 6] [--device cuda] [--threads 1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from machine import SHARED, write_result
from models.llm4fts import CrossSection, LLM4FTSRanker, PricePanel, RankerConfig, SiprConfig, finetune_until, fit_sipr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--daily-days", type=int, default=42, help="trading days the daily-schedule timing trains on")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
    daily = daily_throughput(ranker, args.daily_days)
    write_result(f"llm4fts_{args.device}_w{args.width}_l{args.layers}", {
        "sipr": {"points": len(closes), "config": "K 12, l 8-16, 10 iterations, 3 restarts", **timings},
        "backbone": f"GPT-2 architecture, {args.layers} layers, n_embd {args.width}, {args.heads} heads, random",
        "device": str(ranker.device), "stage1_seconds_per_step": stage1,
        "stage1_sequences_per_s": config.pretrain_batch / stage1,
        "stage2_seconds_per_cross_section_of_100": stage2, "stage2_daily": daily, "threads": torch.get_num_threads()})


def daily_throughput(ranker: LLM4FTSRanker, days: int, stocks: int = 100) -> dict:
    """``finetune_until`` with ``finetune_schedule=daily`` over ``days`` trading days of a random-walk panel of
    ``stocks``: everything the algorithm's stage 2 does per day (windows, rank-normal labels, SIPR plan, step)."""
    rng = np.random.default_rng(1)
    rows = days + ranker.config.lookback_days + 5
    dates = pd.bdate_range("2015-01-02", periods=rows)
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (rows, stocks)), 0)), index=dates,
                         columns=[f"S{i}" for i in range(stocks)])
    panel = PricePanel({"close": close, "open": close * 1.001, "high": close * 1.01, "low": close * 0.99,
                        "volume": close * 0 + 1e6})
    ranker.config.finetune_schedule, ranker.config.finetune_epochs = "daily", 1
    ranker.config.finetune_window_days = days
    ranker.finetuned_through = None
    wall, cpu = time.perf_counter(), time.process_time()
    report = finetune_until(ranker, panel, close.mean(axis=1), rows - 1, panel.symbols)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = max(len(report.losses), 1)
    return {"cross_sections": len(report.losses), "stocks": stocks, "wall_seconds": wall, "cpu_seconds": cpu,
            "cross_sections_per_s": steps / wall, "seconds_per_cross_section": wall / steps,
            "cpu_seconds_per_cross_section": cpu / steps}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
