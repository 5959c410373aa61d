"""The two training stages on a :class:`~.samples.PricePanel`, and the monthly walk-forward loop.

Stage 1 reads rows ``first..last`` only (the training window); stage 2 at a decision row ``d``
trains on windows ending at rows ``e`` with ``e + horizon <= d`` (labels already realised) and
``e >= d - finetune_window_days``. Nothing here reads a row after the row it decides at.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from .ranker import CrossSection, LLM4FTSRanker, TrainingReport
from .samples import PricePanel, forward_returns, index_window, window_features


def pretrain(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, first: int, last: int,
             steps: int, seed: int, progress: bool = False, symbols: Sequence[Hashable] | None = None) -> list[float]:
    """Stage 1: ``steps`` next-patch steps on windows drawn from rows ``first..last`` of ``symbols``
    (default: every series in the panel). Pass the universe known at ``last``: a panel built for a
    later test period also holds stocks that only joined afterwards, and training on their past is
    survivorship look-ahead."""
    cfg = ranker.config
    length, stride = cfg.lookback_days, cfg.patch_stride
    ends = np.arange(first + length - 1, last - stride + 1)
    if len(ends) == 0:
        raise ValueError(f"stage 1 needs more than {length + stride} rows between {panel.dates[first]:%Y-%m-%d} "
                         f"and {panel.dates[last]:%Y-%m-%d}")
    rng = np.random.default_rng(seed)
    losses = []
    for _ in tqdm(range(steps), desc="stage 1", disable=not progress):
        end = int(rng.choice(ends))
        windows = window_features(panel, end + stride, length + stride, None if symbols is None else list(symbols),
                                  normalise_over=length)
        series = windows.values.reshape(-1, length + stride)
        if len(series) == 0:
            continue
        pick = rng.choice(len(series), size=min(cfg.pretrain_batch, len(series)), replace=False)
        starts = ranker.plan(index_window(index_close, panel.dates, end, length))
        losses.append(ranker.pretrain_step(series[pick], starts))
    return losses


def cross_section(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, row: int,
                  symbols: Sequence[Hashable], horizon: int | None = None) -> tuple[CrossSection, list, list[str]]:
    """Inputs at ``row`` (and, with ``horizon``, the returns from row to row + horizon)."""
    length = ranker.config.lookback_days
    windows = window_features(panel, row, length, list(symbols))
    starts = ranker.plan(index_window(index_close, panel.dates, row, length))
    returns = forward_returns(panel.frames["close"], row, horizon, windows.symbols) if horizon else None
    return CrossSection(windows.values, starts, returns), windows.symbols, windows.problems


def finetune_until(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, decision: int,
                   symbols: Sequence[Hashable]) -> TrainingReport:
    """Stage 2 for one month: ``finetune_steps`` cross-sections whose labels are known at ``decision``."""
    cfg = ranker.config
    last_end = decision - cfg.label_horizon_days
    first_end = max(cfg.lookback_days - 1, decision - cfg.finetune_window_days)
    if last_end < first_end:
        return TrainingReport()
    rng = np.random.default_rng(cfg.seed * 7919 + decision)
    ends = rng.choice(np.arange(first_end, last_end + 1), size=min(cfg.finetune_steps, last_end - first_end + 1),
                      replace=False)
    sections = [cross_section(ranker, panel, index_close, int(e), symbols, cfg.label_horizon_days)[0]
                for e in sorted(ends)]
    return ranker.finetune([s for s in sections if len(s.windows) >= 2])


def information_coefficients(predicted: np.ndarray, realised: np.ndarray) -> tuple[float, float]:
    """(IC, RankIC): Pearson and Spearman correlation across the stocks with a realised return."""
    keep = np.isfinite(predicted) & np.isfinite(realised)
    if keep.sum() < 3 or np.std(predicted[keep]) == 0 or np.std(realised[keep]) == 0:
        return float("nan"), float("nan")
    return (float(stats.pearsonr(predicted[keep], realised[keep])[0]),
            float(stats.spearmanr(predicted[keep], realised[keep])[0]))


@dataclass
class WalkForwardMonth:
    decision: pd.Timestamp
    ic: float
    rank_ic: float
    top_return: float
    universe_return: float
    loss: float


def walk_forward(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series,
                 universes: dict[pd.Timestamp, list], top_fraction: float, progress: bool = False) -> pd.DataFrame:
    """Each decision day: fine-tune on realised labels, predict, score against the next month's returns.
    Predictions are made with rows up to the decision day's close; returns run to the next decision.
    A decision whose returns run past the data is left out, not scored as a zero-return month."""
    from .ranker import top_fraction as top_indices

    rows = []
    days = sorted(universes)
    for day, following in tqdm(list(zip(days, days[1:] + [None])), desc="walk-forward", disable=not progress):
        row = panel.position(day)
        report = finetune_until(ranker, panel, index_close, row, universes[day])
        horizon = (panel.position(following) - row) if following is not None else ranker.config.label_horizon_days
        section, _, _ = cross_section(ranker, panel, index_close, row, universes[day], horizon)
        if section.returns is None or np.isfinite(section.returns).sum() < 3:
            continue  # the returns are not known yet (the data ends first): nothing to score
        scores = ranker.predict(section)
        ic, rank_ic = information_coefficients(scores, section.returns)
        top = top_indices(scores, top_fraction)
        realised = np.nan_to_num(section.returns, nan=0.0)
        rows.append(WalkForwardMonth(day, ic, rank_ic, float(realised[top].mean()), float(realised.mean()),
                                     report.mean_loss))
    return pd.DataFrame([r.__dict__ for r in rows]).set_index("decision")


def summarise(months: pd.DataFrame) -> dict[str, float]:
    """Mean IC, RankIC, ICIR (mean / std of the monthly IC) and the top-fraction's mean excess return."""
    ic, rank_ic = months["ic"].dropna(), months["rank_ic"].dropna()
    return {"months": int(len(months)), "ic": float(ic.mean()), "rank_ic": float(rank_ic.mean()),
            "icir": float(ic.mean() / ic.std()) if ic.std() > 0 else float("nan"),
            "rank_icir": float(rank_ic.mean() / rank_ic.std()) if rank_ic.std() > 0 else float("nan"),
            "top_minus_universe_monthly": float((months["top_return"] - months["universe_return"]).mean())}
