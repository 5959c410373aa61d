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
from .samples import (PricePanel, WindowBank, index_window, rank_normal, standardise_across_stocks,
                      window_features)


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
                  symbols: Sequence[Hashable], horizon: int | None = None,
                  bank: WindowBank | None = None) -> tuple[CrossSection, list, list[str]]:
    """Inputs at ``row`` (and, with ``horizon``, the raw returns from row to row + horizon). ``bank``: the
    panel's arrays for ``symbols``, built once when many rows are read (:class:`.samples.WindowBank`)."""
    length = ranker.config.lookback_days
    local = row
    if bank is None:  # one row: slice first, so a long panel is not converted whole
        first = max(row - length + 1, 0)
        bank = WindowBank.build(PricePanel({f: frame.iloc[first:row + 1 + (horizon or 0)]
                                            for f, frame in panel.frames.items()}), list(symbols))
        local = row - first
    windows = bank.windows(local, length)
    values = windows.values
    if ranker.config.input_standardise == "cross_section":
        values = standardise_across_stocks(values)
    starts = ranker.plan(index_window(index_close, panel.dates, row, length))
    returns = None
    if horizon:
        position = {s: i for i, s in enumerate(bank.symbols)}
        returns = bank.forward_returns(local, horizon)[[position[s] for s in windows.symbols]]
    return CrossSection(values, starts, returns), windows.symbols, windows.problems


def training_section(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, row: int,
                     symbols: Sequence[Hashable], bank: WindowBank | None = None) -> CrossSection:
    """The cross-section at ``row`` with the configured label (``rank_normal`` or ``raw``) over
    ``label_horizon_days``: the caller uses it only when ``row + horizon`` is at or before its decision."""
    cfg = ranker.config
    section = cross_section(ranker, panel, index_close, row, symbols, cfg.label_horizon_days, bank)[0]
    if cfg.label == "rank_normal" and section.returns is not None:
        section.returns = rank_normal(section.returns)
    return section


def finetune_until(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, decision: int,
                   symbols: Sequence[Hashable]) -> TrainingReport:
    """Stage 2 at ``decision``, on cross-sections ending at rows ``e`` with ``e + horizon <= decision``
    (labels realised) inside the trailing ``finetune_window_days``: every such trading day in a seeded
    shuffled order (``finetune_schedule=daily``; ``finetune_epochs`` passes the first time, afterwards one
    pass over the days labelled since the last update), or ``finetune_steps`` random days (``sampled``)."""
    cfg = ranker.config
    last_end = decision - cfg.label_horizon_days
    first_end = max(cfg.lookback_days - 1, decision - cfg.finetune_window_days)
    if cfg.finetune_schedule == "daily":
        order = daily_order(ranker, panel.dates, first_end, last_end, decision)
    elif last_end < first_end:
        order = np.zeros(0, dtype=np.int64)
    else:
        rng = np.random.default_rng(cfg.seed * 7919 + decision)
        order = np.sort(rng.choice(np.arange(first_end, last_end + 1),
                                   size=min(cfg.finetune_steps, last_end - first_end + 1), replace=False))
    if len(order) == 0:
        return TrainingReport()
    bank = WindowBank.build(panel, list(symbols))
    sections = {int(e): training_section(ranker, panel, index_close, int(e), symbols, bank)
                for e in set(order.tolist())}
    report = ranker.finetune([sections[int(e)] for e in order if len(sections[int(e)].windows) >= 2])
    if cfg.finetune_schedule == "daily":
        ranker.finetuned_through = str(panel.dates[int(order.max())])  # full stamp: bars may carry a time
    return report


def daily_order(ranker: LLM4FTSRanker, dates: pd.DatetimeIndex, first_end: int, last_end: int,
                decision: int) -> np.ndarray:
    """End rows for ``finetune_schedule=daily``: rows after the last one trained on (all of the window the
    first time, ``finetune_epochs`` passes), each pass a permutation seeded by the decision's date, so a
    resumed run draws the same order whatever history its panel holds."""
    cfg = ranker.config
    passes = cfg.finetune_epochs
    if ranker.finetuned_through is not None:
        first_end = max(first_end, int(dates.searchsorted(pd.Timestamp(ranker.finetuned_through), side="right")))
        passes = 1
    if last_end < first_end:
        return np.zeros(0, dtype=np.int64)
    ends = np.arange(first_end, last_end + 1)
    rng = np.random.default_rng([cfg.seed, pd.Timestamp(dates[decision]).toordinal()])
    return np.concatenate([rng.permutation(ends) for _ in range(passes)])


def decision_scores(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, row: int,
                    symbols: Sequence[Hashable], days: int) -> tuple[np.ndarray, list, list[str]]:
    """Scores at ``row`` for the stocks with a window there: the mean over the last ``days`` trading days
    (rows ``row - days + 1 .. row``, none later) of each day's predictions standardised across that day's
    stocks (``prediction_days``; 1 = today's predictions as they are). Per-day predictions are cached on
    the ranker until its weights next change."""
    bank = WindowBank.build(panel, list(symbols))
    section, members, problems = cross_section(ranker, panel, index_close, row, symbols, bank=bank)
    if len(members) == 0 or days == 1:
        return (ranker.predict(section) if len(members) else np.zeros(0)), members, problems
    total, count = np.zeros(len(members)), np.zeros(len(members))
    where = {s: i for i, s in enumerate(members)}
    for r in range(max(row - days + 1, 0), row + 1):
        day_members, z = _day_scores(ranker, panel, index_close, r, symbols, bank, section if r == row else None,
                                     members if r == row else None)
        for s, value in zip(day_members, z):
            if s in where:
                total[where[s]] += value
                count[where[s]] += 1
    return total / np.maximum(count, 1), members, problems


def _day_scores(ranker: LLM4FTSRanker, panel: PricePanel, index_close: pd.Series, row: int,
                symbols: Sequence[Hashable], bank: WindowBank, section: CrossSection | None,
                members: list | None) -> tuple[list, np.ndarray]:
    """Row ``row``'s predictions standardised across its stocks (cached on the ranker per date and universe)."""
    key = (panel.dates[row], tuple(symbols))
    cache = ranker.prediction_cache
    if key not in cache:
        if section is None or members is None:
            section, members, _ = cross_section(ranker, panel, index_close, row, symbols, bank=bank)
        predicted = ranker.predict(section) if len(members) else np.zeros(0)
        spread = predicted.std() if len(predicted) > 1 else 0.0
        cache[key] = (list(members), (predicted - predicted.mean()) / spread if spread > 0 else predicted * 0.0)
    return cache[key]


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
    """Each decision day: fine-tune on realised labels, score the stocks as the algorithm trades them
    (:func:`decision_scores`: the mean of the last ``prediction_days`` days' standardised predictions) with
    rows up to the decision day's close, and measure against the returns to the next decision. The last
    decision (no next one: its holding period is unknown) and a decision whose returns run past the data are
    left out, not scored on a shorter return or as a zero-return month."""
    from .ranker import top_fraction as top_indices

    rows = []
    days = sorted(universes)
    for day, following in tqdm(list(zip(days[:-1], days[1:])), desc="walk-forward", disable=not progress):
        row = panel.position(day)
        report = finetune_until(ranker, panel, index_close, row, universes[day])
        section, members, _ = cross_section(ranker, panel, index_close, row, universes[day],
                                            panel.position(following) - row)
        if section.returns is None or np.isfinite(section.returns).sum() < 3:
            continue  # the returns are not known yet (the data ends first): nothing to score
        traded, scored, _ = decision_scores(ranker, panel, index_close, row, universes[day],
                                            ranker.config.prediction_days)
        scores = pd.Series(traded, index=scored).reindex(members).to_numpy(float)
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
