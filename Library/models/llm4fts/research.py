"""Loading the skeleton's universe and bars through a QuantBook (LEAN's or lean_local's), and the
offline pre-training that the CLI, the notebook and ``pretrain=auto`` share."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..universe import decision_days, point_in_time_universes
from .checkpoint import artifact_prefix, save_pretrained
from .config import RankerConfig
from .ranker import LLM4FTSRanker
from .samples import PricePanel
from .sipr import SiprConfig, fit_sipr
from .training import pretrain

log = logging.getLogger(__name__)


def research_panel(qb: Any, data_folder: str | Path, start: str, end: str, decisions_from: str, resolution: Any,
                   size: int = 100, benchmark: str = "SPY") -> tuple[PricePanel, pd.Series, dict[pd.Timestamp, list]]:
    """Bars of every stock that is ever in the top-``size`` universe between ``decisions_from`` and
    ``end`` (and of the index), over ``start..end``; the universes keyed by decision day."""
    index_symbol = qb.add_equity(benchmark, resolution).symbol
    index_history = qb.history(index_symbol, pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1), resolution)
    index_close = index_history.loc[index_symbol]["close"]
    index_close.index = pd.DatetimeIndex(index_close.index).normalize()
    days = decision_days(index_close.index, decisions_from, end)
    universes = point_in_time_universes(data_folder, days, size)
    tickers = sorted({t for members in universes.values() for t in members})
    for ticker in tickers:
        qb.add_equity(ticker, resolution)
    history = qb.history(tickers, pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1), resolution)
    history = history.rename(index=lambda s: getattr(s, "value", s), level="symbol")
    panel = PricePanel.from_history(history)
    for frame in panel.frames.values():
        frame.index = pd.DatetimeIndex(frame.index).normalize()
    return panel, index_close, universes


def pretrain_offline(config: RankerConfig, panel: PricePanel, index_close: pd.Series, start: str, end: str,
                     store: Any | None = None, sipr: SiprConfig = SiprConfig(), progress: bool = False,
                     symbols: list | None = None) -> tuple[LLM4FTSRanker, dict[str, Any]]:
    """SIPR on the index's closes and stage 1 on ``symbols`` (default: every series), both over
    ``start..end`` only; with ``store``, writes both where the algorithm looks
    (:func:`.checkpoint.artifact_prefix`)."""
    started = time.perf_counter()
    window = index_close[(index_close.index >= pd.Timestamp(start)) & (index_close.index <= pd.Timestamp(end))]
    library = fit_sipr(window.to_numpy(), sipr, fitted_on={"series": "index close", "start": str(window.index[0].date()),
                                                           "end": str(window.index[-1].date()), "points": len(window)})
    sipr_seconds = time.perf_counter() - started
    ranker = LLM4FTSRanker.from_config(config, library)
    first = max(panel.position(pd.Timestamp(start)), 0)
    last = panel.position(pd.Timestamp(end))
    losses = pretrain(ranker, panel, index_close, first, last, config.pretrain_steps, config.seed, progress, symbols)
    report = {"sipr_seconds": sipr_seconds, "stage1_seconds": time.perf_counter() - started - sipr_seconds,
              "stage1_first_loss": float(np.nanmean(losses[:20])), "stage1_last_loss": float(np.nanmean(losses[-20:])),
              "trained_through": str(panel.dates[last].date()), "weights": ranker.weights_info.describe()}
    if store is not None:
        prefix = artifact_prefix(config, ranker.weights_info.source)
        report["keys"] = save_pretrained(store, prefix, ranker, {"trained_through": report["trained_through"],
                                                                "start": start, "end": end, "sipr": library.fitted_on})
    log.info("LLM4FTS pre-training: %s", report)
    return ranker, report
