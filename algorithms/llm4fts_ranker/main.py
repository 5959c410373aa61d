# region imports
from datetime import datetime

import pandas as pd

from AlgorithmImports import *

from models.llm4fts import LLM4FTSRanker, PricePanel, RankerConfig, cross_section, finetune_until, top_fraction
from models.llm4fts.checkpoint import (CheckpointError, artifact_prefix, load_library, load_stage1, resume_running,
                                       save_pretrained, save_running)
from models.llm4fts.sipr import fit_sipr
from models.llm4fts.training import pretrain
from skeleton.top100 import Top100MonthlyAlgorithm
# endregion

PARAMETERS = ("model_id", "weights", "seed", "gpt_layers", "gpt_width", "gpt_heads", "lookback_days", "top_fraction",
              "lr", "label_horizon_days", "finetune_steps", "use_sipr", "use_wavelet", "pretrain")


class LLM4FTSRankerAlgorithm(Top100MonthlyAlgorithm):
    """LLM4FTS ranker (Liu & Jia 2025) on the quarterly SPY top-100.

    Start: SIPR patterns + stage-1 weights from the object store (``scripts/pretrain_llm4fts.py``);
    with ``pretrain=auto`` and none stored, both are fitted at the first decision on the
    ``pretrain_days`` before it. Month end (18:00): stage-2 fine-tuning on the trailing year's
    realised one-month returns. Month start: predict, hold the top ``top_fraction`` equally.
    """

    def initialize_model(self) -> None:
        values = {name: self.get_parameter(name) for name in PARAMETERS}
        self.ranker_config = RankerConfig.from_parameters({k: v for k, v in values.items() if v is not None})
        self.pretrain_days = self.get_parameter("pretrain_days", 756)
        self.checkpoint_months = self.get_parameter("checkpoint_months", 12)
        self.artifact = artifact_prefix(self.ranker_config, self.ranker_config.weights)
        self.running_prefix = "llm4fts_ranker/" + self.artifact.split("/", 1)[1]
        self.ranker: Optional[LLM4FTSRanker] = None
        # History only, not a subscription: SPY must never join the traded members.
        self.index_symbol = Symbol.create("SPY", SecurityType.EQUITY, Market.USA)
        self.learned_through: Optional[datetime] = None
        self.train(self.date_rules.month_end("SPY"), self.time_rules.at(18, 0), self.learn_from_month)

    # --- start-up, at the first decision (the universe and history exist by then) ---
    def prepare(self, symbols: List[Symbol]) -> LLM4FTSRanker:
        config = self.ranker_config
        library = load_library(self.object_store, self.artifact) if config.use_sipr else None
        ranker: Optional[LLM4FTSRanker] = None
        if library is not None or not config.use_sipr:
            ranker = LLM4FTSRanker.from_config(config, library)
        loaded = None
        if ranker is not None:
            try:
                loaded = load_stage1(self.object_store, self.artifact, ranker, not_after=self.time)
            except CheckpointError as exc:
                self.error(f"llm4fts_ranker: stage-1 artifact under '{self.artifact}/' not used: {exc}")
        if ranker is None or loaded is None:
            if config.pretrain == "require":
                raise RuntimeError(f"llm4fts_ranker: pretrain=require but no usable stage-1 artifact under "
                                   f"'{self.artifact}/' in the object store. Run scripts/pretrain_llm4fts.py (or "
                                   "research/llm4fts_pretraining.ipynb) with the same model_id, weights, gpt_layers, "
                                   "gpt_width and seed, or set pretrain=auto")
            ranker = self.pretrain_here(symbols)
            self.set_runtime_statistic("Stage 1", f"fitted in this run on {self.pretrain_days} bars")
        else:
            self.set_runtime_statistic("Stage 1", f"loaded ({loaded.get('extra', {}).get('trained_through')})")
        self.resume(ranker)
        info = ranker.weights_info
        self.set_runtime_statistic("Model weights", info.source)
        self.log(f"llm4fts_ranker: {info.describe()}; {ranker.describe()}; settings {config.to_dict()}")
        return ranker

    def pretrain_here(self, symbols: List[Symbol]) -> LLM4FTSRanker:
        """pretrain=auto: SIPR on SPY and stage 1 on the bars before this moment only, then stored."""
        config = self.ranker_config
        panel, index_close = self.panel(symbols, self.pretrain_days)
        library = fit_sipr(index_close.to_numpy(), fitted_on={"series": "SPY close", "points": len(index_close),
                                                              "end": str(index_close.index[-1])})
        ranker = LLM4FTSRanker.from_config(config, library if config.use_sipr else None)
        pretrain(ranker, panel, index_close, 0, len(panel.dates) - 1, config.pretrain_steps, config.seed)
        save_pretrained(self.object_store, self.artifact, ranker,
                        {"trained_through": str(panel.dates[-1]), "algorithm": "llm4fts_ranker"})
        return ranker

    def resume(self, ranker: LLM4FTSRanker) -> None:
        if str(self.get_parameter("fresh_start") or "false").strip().lower() in ("true", "1", "yes"):
            self.log(f"fresh_start: not reading '{self.running_prefix}/'")
            return
        stamp = f"{self.time:%Y%m%d}_{datetime.utcnow():%Y%m%dT%H%M%S}"
        outcome = resume_running(self.object_store, self.running_prefix, ranker, stamp, not_after=self.time)
        (self.error if outcome.rejected else self.log)(f"llm4fts_ranker: {outcome.message}")

    # --- monthly ---
    def panel(self, symbols: List[Symbol], bars: int) -> tuple[PricePanel, pd.Series]:
        spy = self.index_symbol
        history = self.history(list(symbols) + [spy], bars, Resolution.DAILY)
        panel = PricePanel.from_history(history)
        index_close = panel.frames["close"].pop(spy).dropna()
        for name in panel.frames:
            panel.frames[name] = panel.frames[name].drop(columns=[spy], errors="ignore")
        return panel, index_close

    def target_weights(self, symbols: List[Symbol]) -> Dict[Symbol, float]:
        if self.ranker is None:
            self.ranker = self.prepare(symbols)
        panel, index_close = self.panel(symbols, self.ranker_config.lookback_days + 5)
        if not panel.dates.size:
            return {}
        section, members, problems = cross_section(self.ranker, panel, index_close, len(panel.dates) - 1, symbols)
        for problem in problems:
            self.debug(f"llm4fts_ranker: {problem}")
        if len(members) == 0:
            return {}
        chosen = top_fraction(self.ranker.predict(section), self.ranker_config.top_fraction)
        return {members[i]: 1.0 / len(chosen) for i in chosen}

    def learn_from_month(self) -> None:
        if self.ranker is None:
            return
        config = self.ranker_config
        symbols = self.tradable_members()
        bars = config.lookback_days + config.finetune_window_days + config.label_horizon_days + 5
        panel, index_close = self.panel(symbols, bars)
        report = finetune_until(self.ranker, panel, index_close, len(panel.dates) - 1, symbols)
        self.learned_through = self.time
        self.log(f"fine-tuned: mean loss {report.mean_loss:.5f} over {len(report.losses)} steps, "
                 f"skipped {report.skipped}")
        if self.ranker.months_learned % self.checkpoint_months == 0:
            self.save_state()

    def save_state(self) -> None:
        if self.ranker is not None:
            save_running(self.object_store, self.running_prefix, self.ranker,
                         {"trained_through": str(self.learned_through), "algorithm": "llm4fts_ranker"})

    def on_end_of_algorithm(self) -> None:
        if self.ranker is None:
            return
        if self.learned_through is not None:
            self.save_state()
        self.set_runtime_statistic("Monthly updates", self.ranker.months_learned)
        self.log(f"llm4fts_ranker: saved under '{self.running_prefix}/'; weights: {self.ranker.weights_info.describe()}")
