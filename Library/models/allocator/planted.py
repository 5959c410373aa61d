"""Planted-signal harness: can the allocator's learner find a signal that is known to be there?

Features are REAL: the 42 selected indicators (:mod:`models.features`) of dev-data stocks, windowed
at each month's first trading day exactly as the algorithm sees them (bars before the decision day).
Returns are PLANTED: ``r_i = m_t + b * z_i + e_i`` with ``z`` the cross-sectional z-score of one
feature at the window's last step (so the model can see it), a common month return ``m_t`` and noise
``e ~ N(0, noise_sd)``. ``b`` follows from the target information coefficient
``IC = corr(z, r | m_t) = b / sqrt(b^2 + noise_sd^2)``. Direction is the month's Spearman rank
correlation between the weights and ``z``; size is effective N (1 / sum w^2) and the largest weight.

Cheaper path than :func:`models.allocator.walk_forward.month_inputs`: the indicators of a fixed set of
stocks are computed once over the whole period (yahoo adjusted OHLCV) and windowed per month; the
recursive indicators then differ slightly from a per-month recomputation, which does not matter here.

``python -m models.allocator.planted`` (from ``Library/``) measures how ``replay_months``,
``steps_per_update`` and ``lr`` change size and direction and writes
``research/results/allocator_planted.json``.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import logging
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Hashable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..features import indicator_panel, selected_features, warmup_bars
from ..universe import decision_days
from .config import AllocatorConfig
from .learner import OnlineAllocator

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[3]
DEV_DATA = ROOT.parent / "shared" / "data" / "sp500_dev"
NOISE_SD = 0.07
SIGNAL_FEATURE = 0  # index into the 42 selected features
# The small random Chronos-T5 of the tests: the learner's behaviour, not the backbone's quality, is measured.
TINY = {"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 4, "d_kv": 8, "vocab_size": 64, "dropout_rate": 0.0}


@dataclass
class RealPanel:
    """Real feature windows of a fixed set of stocks at each decision day."""

    decisions: list[pd.Timestamp]
    symbols: list[str]
    features: np.ndarray  # (months, N, lookback, F) float32
    masks: np.ndarray  # (months, N, lookback) bool


@dataclass
class PlantedMonth:
    decision: pd.Timestamp
    symbols: list[str]
    features: np.ndarray
    mask: np.ndarray
    z: np.ndarray  # (N,) the planted signal (0 where the stock is masked)
    returns: dict[Hashable, float]


def signal_coefficient(ic: float, noise_sd: float = NOISE_SD) -> float:
    """``b`` giving ``corr(b*z + e, z) = ic`` for unit-variance ``z``."""
    return ic * noise_sd / math.sqrt(1.0 - ic * ic)


def load_real_panel(start: str = "2009-06-01", end: str = "2012-06-30", n_stocks: int = 60, lookback: int = 21,
                    data_dir: Path = DEV_DATA, cache: Path | None = None) -> RealPanel:
    """Features of ``n_stocks`` S&P 500 members (present over the whole period, a seeded draw) at every
    first trading day of a month in [start, end]; ``cache``: an ``.npz`` reused when present."""
    if cache is not None and cache.exists():
        saved = np.load(cache, allow_pickle=False)
        return RealPanel([pd.Timestamp(str(d)) for d in saved["decisions"]], [str(s) for s in saved["symbols"]],
                         saved["features"], saved["masks"])
    names = selected_features()
    first = pd.Timestamp(start) - pd.Timedelta(days=int(1.6 * (warmup_bars(names) + lookback)) + 60)
    prices = pd.read_csv(data_dir / "yahoo_adjusted_ohlcv_2000_2018.csv.gz", parse_dates=["date"])
    prices = prices[(prices.date >= first) & (prices.date <= pd.Timestamp(end))]
    days = pd.DatetimeIndex(sorted(prices.date.unique()))
    full = prices.groupby("ticker").date.count()
    members = _members_throughout(data_dir, start, end)
    candidates = sorted(t for t in full.index[full == len(days)] if t in members)
    chosen = sorted(np.random.default_rng(0).choice(candidates, size=min(n_stocks, len(candidates)), replace=False))
    panel = indicator_panel(_lean_history(prices[prices.ticker.isin(chosen)]), names)
    decisions = decision_days(days, start, end)
    cut = [int(np.searchsorted(panel.times, d)) for d in decisions]  # windows end the day before each decision
    features = np.stack([panel.values[:, c - lookback:c] for c in cut])
    masks = np.stack([panel.mask[:, c - lookback:c] for c in cut])
    out = RealPanel(decisions, [str(s) for s in panel.symbols], features, masks)
    if cache is not None:
        np.savez(cache, decisions=np.array([str(d.date()) for d in decisions]), symbols=np.array(out.symbols),
                 features=features, masks=masks)
    return out


def _members_throughout(data_dir: Path, start: str, end: str) -> set[str]:
    spells = pd.read_csv(data_dir / "sp500_membership_spells_to_2018.csv", parse_dates=["start_date", "end_date"])
    began, ended = spells.start_date <= pd.Timestamp(start), spells.end_date.isna() | (spells.end_date >= end)
    return set(spells.ticker[began & ended])


def _lean_history(prices: pd.DataFrame) -> pd.DataFrame:
    """Yahoo rows -> LEAN's history shape, prices adjusted by adj_close / close."""
    factor = prices.adj_close / prices.close
    frame = pd.DataFrame({"symbol": prices.ticker, "time": prices.date, "open": prices.open * factor,
                          "high": prices.high * factor, "low": prices.low * factor, "close": prices.adj_close,
                          "volume": prices.volume.astype(float)})
    return frame.set_index(["symbol", "time"]).sort_index()


def planted_months(panel: RealPanel, ic: float, seed: int, feature: int = SIGNAL_FEATURE,
                   noise_sd: float = NOISE_SD, signal: str = "last", shuffle: bool = False) -> list[PlantedMonth]:
    """Planted returns for every month of ``panel`` (seeded: market, noise). ``signal``: ``last`` (the
    feature's value at the window's last step) or ``mean`` (its mean over the valid steps of the window).

    ``shuffle`` (default False): each month, ``z`` is permuted across the visible stocks before the returns
    are planted, so the returns keep the same distribution but nothing the model sees says which stock gets
    which ``z``; the placebo a learning criterion must fail. The permutation has its own seeded generator,
    so market and noise draws are the same as without ``shuffle``. ``PlantedMonth.z`` is the ``z`` the
    returns were planted with (the permuted one)."""
    rng = np.random.default_rng(seed)
    permuter = np.random.default_rng([seed, 1])
    b = signal_coefficient(ic, noise_sd)
    months = []
    for decision, x, mask in zip(panel.decisions, panel.features, panel.masks):
        visible = mask[:, -1]
        if signal == "mean":
            raw = (x[:, :, feature] * mask).sum(1) / np.maximum(mask.sum(1), 1)
        else:
            raw = x[:, -1, feature]
        z = np.zeros(len(raw))
        if visible.sum() > 1 and raw[visible].std() > 0:
            z[visible] = (raw[visible] - raw[visible].mean()) / raw[visible].std()
        if shuffle:
            z[visible] = permuter.permutation(z[visible])
        r = rng.normal(0.01, 0.04) + b * z + rng.normal(0.0, noise_sd, len(z))
        returns: dict[Hashable, float] = dict(zip(panel.symbols, r.tolist()))
        months.append(PlantedMonth(decision, panel.symbols, x, mask, z, returns))
    return months


def tiny_config(**changes: Any) -> AllocatorConfig:
    settings: dict[str, Any] = dict(model_id="amazon/chronos-t5-tiny", weights="random", seed=7, device="cpu",
                                    backbone_overrides=dict(TINY))
    settings.update(changes)
    return AllocatorConfig(**settings)


def run_planted(config: AllocatorConfig, months: Sequence[PlantedMonth]) -> pd.DataFrame:
    """Allocate then learn month by month; one row per month: rank corr(weights, z), effective N, max weight."""
    learner = OnlineAllocator.from_config(config)
    rows = []
    for m in months:
        w = learner.allocate(m.features, m.mask, m.symbols)
        held = w > 0
        corr = spearmanr(w[held], m.z[held])[0] if held.sum() > 2 and np.ptp(w[held]) > 0 else 0.0
        rows.append({"decision": m.decision, "rank_corr": float(np.nan_to_num(corr)),
                     "effective_n": float(1.0 / np.sum(w ** 2)), "max_weight": float(w.max()),
                     "n": int(held.sum())})
        learner.learn(m.returns)
    return pd.DataFrame(rows).set_index("decision")


def summarise(frame: pd.DataFrame, skip: int = 1) -> dict[str, float]:
    """Direction and size over the months after the first ``skip`` (the first decision is untrained)."""
    tail = frame.iloc[skip:]
    corr = tail.rank_corr
    t_stat = float(corr.mean() / (corr.std(ddof=1) / math.sqrt(len(corr)))) if corr.std(ddof=1) > 0 else 0.0
    last = frame.iloc[-12:]
    return {"mean_rank_corr": float(corr.mean()), "t_stat": t_stat, "last12_rank_corr": float(last.rank_corr.mean()),
            "final_rank_corr": float(frame.rank_corr.iloc[-1]), "mean_effective_n": float(tail.effective_n.mean()),
            "final_effective_n": float(frame.effective_n.iloc[-1]), "final_over_n": float(
                frame.effective_n.iloc[-1] / frame.n.iloc[-1]), "max_weight": float(tail.max_weight.max())}


GRID: list[dict[str, Any]] = (
    [{}, {"lr": 0.003}, {"lr": 0.03}, {"head_init": "random"}, {"standardise_features": True}, {"steps_per_update": 3},
     {"replay_months": 6}, {"steps_per_update": 10}, {"replay_months": 12}, {"replay_months": 24},
     {"turnover_penalty": 0.01}, {"lr_half_life_months": 12.0, "replay_months": 12}]
)


def measure(panel: RealPanel, ics: Sequence[float], seeds: Sequence[int], grid: Sequence[dict[str, Any]] = GRID,
            signal: str = "mean") -> list[dict[str, Any]]:
    """One row per (setting, ic, seed); the seed draws both the planted returns and the model."""
    rows = []
    for changes in grid:
        for ic in ics:
            for seed in seeds:
                frame = run_planted(tiny_config(seed=seed, **changes), planted_months(panel, ic, seed, signal=signal))
                rows.append({"setting": changes or {"default": True}, "ic": ic, "seed": seed} | summarise(frame))
                log.info("%s ic %.2f seed %d: %s", changes, ic, seed, rows[-1])
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: per setting and IC, the mean over seeds of direction (rank corr) and size (effective N,
    largest weight)."""
    frame = pd.DataFrame([{"setting": ", ".join(f"{k}={v}" for k, v in r["setting"].items()) if "default" not in
                           r["setting"] else "defaults", **{k: v for k, v in r.items() if k != "setting"}}
                          for r in rows])
    columns = ["mean_rank_corr", "last12_rank_corr", "mean_effective_n", "final_effective_n", "max_weight"]
    grouped = frame.groupby(["setting", "ic"], sort=False)
    means, seeds = grouped[columns].mean(), grouped.seed.count()
    lines = ["| setting | IC | seeds | mean rank corr | last-12 rank corr | mean eff. N | final eff. N | max weight |",
             "|---|---|---|---|---|---|---|---|"]
    for (setting, ic), row in means.iterrows():
        lines.append(f"| {setting} | {ic} | {seeds[(setting, ic)]} | {row.mean_rank_corr:.3f} | "
                     f"{row.last12_rank_corr:.3f} | {row.mean_effective_n:.1f} | {row.final_effective_n:.1f} | "
                     f"{row.max_weight:.4f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", default="2009-06-01")
    parser.add_argument("--end", default="2013-12-31")
    parser.add_argument("--stocks", type=int, default=100)
    parser.add_argument("--signal", default="mean", choices=("mean", "last"))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: fastest per core)")
    parser.add_argument("--only", default="", help="comma-separated GRID indices; rows merge into --out")
    parser.add_argument("--cache", type=Path, default=None, help="an .npz for the feature panel")
    parser.add_argument("--table", action="store_true", help="only print --out's rows as a markdown table")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--ics", default="0.2,0.05")
    parser.add_argument("--out", type=Path, default=ROOT / "research" / "results" / "allocator_planted.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.table:
        log.info("%s", table(json.loads(args.out.read_text())["rows"]))
        return
    torch.set_num_threads(args.threads)
    panel = load_real_panel(args.start, args.end, args.stocks, cache=args.cache)
    grid = [GRID[int(i)] for i in args.only.split(",")] if args.only else GRID
    rows = measure(panel, [float(x) for x in args.ics.split(",")], [int(s) for s in args.seeds.split(",")], grid,
                   args.signal)
    header = {"period": [args.start, args.end], "stocks": len(panel.symbols), "months": len(panel.decisions),
              "noise_sd": NOISE_SD, "signal_feature": selected_features()[SIGNAL_FEATURE], "signal": args.signal,
              "defaults": tiny_config().to_dict()}
    rows = publish(args.out, header, rows, merge=bool(args.only))
    log.info("wrote %s\n%s", args.out, table(rows))


def _key(row: dict[str, Any]) -> tuple[str, float, int]:
    return json.dumps(row["setting"], sort_keys=True), row["ic"], row["seed"]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``'s folder (the kernel drops it if the process dies; no lock file is
    left behind), so that two chunks of the grid (``--only``) writing the same file do not lose each other's
    rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def publish(out: Path, header: dict[str, Any], rows: list[dict[str, Any]], merge: bool) -> list[dict[str, Any]]:
    """Write ``header`` and ``rows`` to ``out`` atomically (readers never see a partial file); with ``merge``,
    the rows already in ``out`` of other (setting, ic, seed) are kept. The read-merge-write runs under a lock.
    Returns the rows written."""
    with _locked(out):
        if merge and out.exists():  # a chunk of the grid: keep the other settings' rows
            done = {_key(r) for r in rows}
            rows = [r for r in json.loads(out.read_text())["rows"] if _key(r) not in done] + rows
        # models imports nothing from lean_local (LEAN runs this package): a unique temporary name beside the
        # file, then one rename, which readers see whole or not at all
        with tempfile.NamedTemporaryFile("wb", dir=out.parent, prefix=f".{out.name}.", delete=False) as handle:
            handle.write(json.dumps(header | {"rows": rows}, indent=1, default=str).encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, out)
    return rows


if __name__ == "__main__":
    main()
