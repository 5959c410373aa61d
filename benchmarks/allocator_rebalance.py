"""One monthly rebalance of the Chronos-LoRA allocator with 100 stocks: feature panel, forward
(allocate), one training step (learn), peak memory, per model size and precision.

Each (size, precision) runs in its own process so peak RSS / peak CUDA memory belong to it alone.
Backbones have RANDOM weights of the exact architecture (speed does not depend on the values).

    .venv/bin/python benchmarks/allocator_rebalance.py                         # CPU: tiny, mini, small in fp32
    python benchmarks/allocator_rebalance.py --device cuda --sizes base large --precisions bf16 fp16

``--replay 0 12 24``: the month-end update (``learn``) with a full replay buffer of that many months
(``replay_months``; each step then runs forward and backward over 1 + R months), timed per rebalance;
the buffer is filled with copies of a closed month, since the cost depends on its size only.

    .venv/bin/python benchmarks/allocator_rebalance.py --sizes tiny small --replay 0 12 24

Writes ``results/allocator_rebalance_<device>.json``. Model FLOPs: forward = 2 x (encoder
parameters without embeddings) x tokens + attention (4 x layers x T^2 x d_model per sequence);
a LoRA training step = 3 x forward (activation gradients ~ 2 x forward; frozen weights get none).
MFU = model FLOPs / time / the device's dense peak for the dtype (GPU only).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Library"))
sys.path.insert(0, str(ROOT / "benchmarks"))

N_STOCKS, LOOKBACK, FEATURES = 100, 21, 42
PEAK_TFLOPS = {"H200": {"bf16": 989, "fp16": 989, "fp32": 67}, "H100": {"bf16": 989, "fp16": 989, "fp32": 67},
               "A100": {"bf16": 312, "fp16": 312, "fp32": 19.5}, "V100": {"fp16": 125, "fp32": 15.7}}


def synthetic_history(n: int, bars: int, seed: int = 0):
    """LEAN-shaped daily bars for the feature step (random walks; the panel's cost does not depend on values)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    times = pd.bdate_range("2015-01-02", periods=bars) + pd.Timedelta(hours=16)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, (n, bars)), axis=1))
    frames = {f"S{i:03d}": pd.DataFrame({"close": close[i], "high": close[i] * 1.01, "low": close[i] * 0.99,
                                         "open": close[i], "volume": rng.integers(1e5, 1e6, bars).astype(float)},
                                        index=times) for i in range(n)}
    return pd.concat(frames, names=["symbol", "time"])


def model_flops(learner, tokens_per_seq: int, sequences: int) -> float:
    t5 = learner.model.base_model.model.encoder
    params = sum(p.numel() for n, p in t5.named_parameters() if "embed_tokens" not in n and "lora_" not in n)
    cfg = t5.config
    attention = 4 * cfg.num_layers * tokens_per_seq ** 2 * cfg.d_model * sequences
    return 2 * params * tokens_per_seq * sequences + attention


def measure(size: str, precision: str, device: str, repeat: int, replay: int = 0) -> dict:
    import torch

    from models.allocator import AllocatorConfig, OnlineAllocator
    from models.features import indicator_panel, selected_features, warmup_bars

    names = selected_features()
    history = synthetic_history(N_STOCKS, warmup_bars(names) + LOOKBACK + 5)
    config = AllocatorConfig(model_id=f"amazon/chronos-t5-{size}", weights="random", precision=precision,
                             device=device, replay_months=replay)
    learner = OnlineAllocator.from_config(config)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rng = np.random.default_rng(1)
    returns = {f"S{i:03d}": float(r) for i, r in enumerate(rng.normal(0.01, 0.05, N_STOCKS))}
    timings: dict[str, list[float]] = {"features": [], "forward": [], "train_step": []}
    for i in range(repeat + 1):  # the first round warms up kernels and allocators
        t0 = time.perf_counter()
        panel = indicator_panel(history, names).window(LOOKBACK)
        t1 = time.perf_counter()
        learner.allocate(panel.values, panel.mask, panel.symbols)
        sync()
        t2 = time.perf_counter()
        learner.learn(returns)
        sync()
        t3 = time.perf_counter()
        while 0 < len(learner.replay.months) < replay:  # a full buffer from the first round on
            learner.replay.add(learner.replay.months[-1])
        if i:
            timings["features"].append(t1 - t0)
            timings["forward"].append(t2 - t1)
            timings["train_step"].append(t3 - t2)
    median = {k: statistics.median(v) for k, v in timings.items()}
    tokens = N_STOCKS * LOOKBACK
    flops = model_flops(learner, LOOKBACK, N_STOCKS)
    out = {"size": size, "precision": learner.precision.name, "device": device, "replay_months": replay,
           "seconds_median": median, "seconds_all": timings,
           "rebalance_seconds": sum(median.values()),
           "tokens_per_second_forward": tokens / median["forward"],
           "tokens_per_second_train": tokens / median["train_step"],
           "model_tflops": {"forward": flops / 1e12, "train_step": 3 * flops / 1e12},
           "trainable_parameters": sum(p.numel() for p in learner.model.parameters() if p.requires_grad),
           "parameters": sum(p.numel() for p in learner.model.parameters()),
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device == "cuda":
        name = torch.cuda.get_device_name()
        out["device_name"] = name
        out["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), {}).get(learner.precision.name)
        if peak:
            out["mfu"] = {"forward": flops / median["forward"] / (peak * 1e12),
                          "train_step": 3 * flops / median["train_step"] / (peak * 1e12), "peak_tflops": peak}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "mini", "small"])
    parser.add_argument("--precisions", nargs="+", default=["fp32"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--replay", nargs="+", type=int, default=[0], help="replay_months values to time")
    parser.add_argument("--one", nargs=3, metavar=("SIZE", "PRECISION", "REPLAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.device, args.repeat, int(args.one[2]))))
        return
    runs = []
    for size, precision, replay in ((s, p, r) for s in args.sizes for p in args.precisions for r in args.replay):
        cmd = [sys.executable, __file__, "--device", args.device, "--repeat", str(args.repeat), "--one", size,
               precision, str(replay)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            runs.append({"size": size, "precision": precision, "replay_months": replay, "error": done.stderr[-2000:]})
            continue
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = runs[-1]
        print(f"{size:>6} {row['precision']:>5} replay {replay:>2}: features "
              f"{row['seconds_median']['features']:.3f} s, forward {row['seconds_median']['forward']:.3f} s, month-end update "
              f"{row['seconds_median']['train_step']:.3f} s, peak RSS {row['peak_rss_mib']:.0f} MiB", flush=True)
    from machine import write_result

    write_result(f"allocator_rebalance_{args.device}", {"stocks": N_STOCKS, "lookback": LOOKBACK, "runs": runs})


if __name__ == "__main__":
    main()
