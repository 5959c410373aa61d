# region imports
from datetime import date, datetime

import pandas as pd
import torch

from AlgorithmImports import *

from models.errors import PretrainRequiredError
from models.llm4fts import LLM4FTSRanker, PricePanel, RankerConfig, decision_scores, finetune_until, top_fraction
from models.llm4fts.checkpoint import (artifact_prefix, resume_running_state, resume_stage1, running_state,
                                       save_running_state, save_stage1, stage1_state)
from models.llm4fts.sipr import SiprConfig, fit_sipr
from models.llm4fts.training import pretrain
from models.stored_state import ObjectStoreSaveError
from skeleton.top100 import Top100MonthlyAlgorithm
# endregion

PARAMETERS = ("model_id", "weights", "seed", "gpt_layers", "gpt_width", "gpt_heads", "lookback_days", "top_fraction",
              "lr", "label_horizon_days", "label", "finetune_schedule", "finetune_epochs", "finetune_steps",
              "finetune_window_days", "head_init", "ranking_loss", "input_standardise", "prediction_days",
              "rebalance", "use_sipr", "use_wavelet", "pretrain", "pretrain_layers", "finetune_layers",
              "checkpoint_months", "fresh_start", "torch_threads")


class LLM4FTSRankerAlgorithm(Top100MonthlyAlgorithm):
    """LLM4FTS ranker (Liu & Jia 2025) on the quarterly SPY top-100.

    Start: SIPR patterns + stage-1 weights from the object store (``scripts/pretrain_llm4fts.py``);
    with ``pretrain=auto`` and none stored, both are fitted at the first decision on the
    ``pretrain_days`` before it. First decision: stage 2 on the trailing ``finetune_window_days``
    (with ``finetune_schedule=daily`` every trading day, ``finetune_epochs`` passes) unless a running
    state was resumed. Month end (18:00): stage 2 on the days labelled since. Month start (or every day
    with ``rebalance=daily``, as the paper trades): score = mean of the last ``prediction_days`` days'
    cross-sectionally standardised predictions, hold the top ``top_fraction`` equally.
    """

    def initialize_model(self) -> None:
        values = {name: self.get_parameter(name) for name in PARAMETERS}
        self.ranker_config = RankerConfig.from_parameters({k: v for k, v in values.items() if v is not None})
        self.pretrain_days = self.get_parameter("pretrain_days", 756)
        self.threads_before = torch.get_num_threads()
        if self.ranker_config.torch_threads:
            torch.set_num_threads(self.ranker_config.torch_threads)
        self.checkpoint_months = self.ranker_config.checkpoint_months
        self.artifact = artifact_prefix(self.ranker_config, self.ranker_config.weights)
        self.running_prefix = "llm4fts_ranker/" + self.artifact.split("/", 1)[1]
        self.artifact_state = stage1_state(self.object_store, self.artifact)  # shared by runs: locked per save
        # Held to the end: a second live run on this prefix is refused here (StateInUseError), not left to
        # overwrite this run's saves; a killed run's lock is taken over.
        self.running = running_state(self.object_store, self.running_prefix)
        taken_over = self.running.hold("llm4fts_ranker backtest")
        if taken_over:
            self.log(f"llm4fts_ranker: {taken_over}")
        self.stage1: Optional[LLM4FTSRanker] = None
        self.stage1_checked = False
        self.ranker: Optional[LLM4FTSRanker] = None
        # History only, not a subscription: SPY must never join the traded members.
        self.index_symbol = Symbol.create("SPY", SecurityType.EQUITY, Market.USA)
        self.learned_through: Optional[datetime] = None
        self.rebalanced_on: Optional[date] = None
        self.train(self.date_rules.month_end("SPY"), self.time_rules.at(18, 0), self.learn_from_month)
        if self.ranker_config.rebalance == "daily":  # the skeleton's month-start event stays; one per day runs
            self.schedule.on(self.date_rules.every_day("SPY"), self.time_rules.after_market_open("SPY", 30),
                             self.rebalance)

    def rebalance(self) -> None:
        """The skeleton's rebalance at most once a day: with ``rebalance=daily`` the month-start event
        and the daily one fall on the same first trading day of the month."""
        if self.rebalanced_on == self.time.date():
            return
        self.rebalanced_on = self.time.date()
        super().rebalance()

    # --- start-up, at the first decision (the universe and history exist by then) ---
    def prepare(self, symbols: List[Symbol]) -> Optional[LLM4FTSRanker]:
        """The ranker, loaded or pre-trained here; None while the history is too short to pre-train on."""
        config = self.ranker_config
        if not self.stage1_checked:  # once per run, so a refused artifact is reported and kept once
            self.stage1_checked = True
            self.stage1 = self.load_artifact()
        ranker = self.stage1
        if ranker is None:
            if config.pretrain == "require":
                raise PretrainRequiredError(f"llm4fts_ranker: pretrain=require but no usable stage-1 artifact under "
                                   f"'{self.artifact}/' in the object store. Run scripts/pretrain_llm4fts.py (or "
                                   "research/llm4fts_pretraining.ipynb) with the same model_id, weights, gpt_layers, "
                                   "gpt_width and seed, or set pretrain=auto")
            ranker = self.pretrain_here(symbols)
            if ranker is None:
                return None
        self.resume(ranker)
        info = ranker.weights_info
        self.set_runtime_statistic("Model weights", info.source)
        self.log(f"llm4fts_ranker: {info.describe()}; {ranker.describe()}; settings {config.to_dict()}")
        return ranker

    def load_artifact(self) -> Optional[LLM4FTSRanker]:
        """A ranker with the stored stage-1 weights and the SIPR library they were trained with, checked
        together (checksums, look-ahead, settings incl. use_sipr); None when none is usable (a refused one
        is kept under rejected/ before pre-training here can replace it)."""
        if not self.artifact_state.exists():
            self.log(f"llm4fts_ranker: no stage-1 artifact under '{self.artifact}/'")
            return None
        ranker = LLM4FTSRanker.from_config(self.ranker_config, library_pending=True)
        fallback = "pre-training here" if self.ranker_config.pretrain == "auto" else "stopping (pretrain=require)"
        outcome = resume_stage1(self.artifact_state, ranker, self.stamp(), not_after=self.time, fallback=fallback)
        (self.error if outcome.rejected else self.log)(f"llm4fts_ranker: {outcome.message}")
        if not outcome.resumed:
            return None
        through = (outcome.manifest or {}).get("extra", {}).get("trained_through")
        self.set_runtime_statistic("Stage 1", f"loaded ({through})")
        return ranker

    def stamp(self) -> str:
        """Key-safe name for copies of refused states: algorithm time and wall-clock time."""
        return f"{self.time:%Y%m%d}_{datetime.utcnow():%Y%m%dT%H%M%S}"

    def pretrain_here(self, symbols: List[Symbol]) -> Optional[LLM4FTSRanker]:
        """pretrain=auto: SIPR on SPY and stage 1 on the bars before this moment only, then stored.
        None (and the log says why, once) while fewer bars exist than SIPR and stage 1 need."""
        config = self.ranker_config
        panel, index_close = self.panel(symbols, self.pretrain_days)
        needed = max(SiprConfig().minimum_points if config.use_sipr else 0, config.lookback_days + config.patch_stride)
        if len(index_close) < needed or len(panel.dates) < needed:
            self.cannot_decide(f"pre-training needs {needed} daily bars before the first decision and the "
                               f"data has {min(len(index_close), len(panel.dates))}")
            return None
        library = fit_sipr(index_close.to_numpy(), fitted_on={"series": "SPY close", "points": len(index_close),
                                                              "end": str(index_close.index[-1])})
        ranker = LLM4FTSRanker.from_config(config, library if config.use_sipr else None)
        pretrain(ranker, panel, index_close, 0, len(panel.dates) - 1, config.pretrain_steps, config.seed)
        self.set_runtime_statistic("Stage 1", f"fitted in this run on {len(panel.dates)} bars")
        if len(panel.dates) < self.pretrain_days:
            self.log(f"llm4fts_ranker: pre-trained on the {len(panel.dates)} bars that exist, not pretrain_days="
                     f"{self.pretrain_days}")
        try:
            save_stage1(self.artifact_state, ranker,
                        {"trained_through": str(panel.dates[-1]), "algorithm": "llm4fts_ranker"})
        except ObjectStoreSaveError as exc:  # the run goes on with the weights in memory
            self.error(f"llm4fts_ranker: stage-1 artifact not saved, a later run fits it again: {exc}")
        return ranker

    def resume(self, ranker: LLM4FTSRanker) -> None:
        if self.ranker_config.fresh_start:
            self.log(f"fresh_start: not reading '{self.running_prefix}/'")
            return
        outcome = resume_running_state(self.running, ranker, self.stamp(), not_after=self.time)
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

    def target_weights(self, symbols: List[Symbol]) -> Optional[Dict[Symbol, float]]:
        if self.ranker is None:
            self.ranker = self.prepare(symbols)
            if self.ranker is None:
                return None
            if self.ranker.stage != "finetuned":  # nothing resumed: stage 2 on the realised window first
                self.learn(symbols)
        config = self.ranker_config
        panel, index_close = self.panel(symbols, config.lookback_days + config.prediction_days + 5)
        if not panel.dates.size:
            self.cannot_decide("no price history for the universe")
            return None
        scores, members, problems = decision_scores(self.ranker, panel, index_close, len(panel.dates) - 1, symbols,
                                                    config.prediction_days)
        for problem in problems:
            self.debug(f"llm4fts_ranker: {problem}")
        if len(members) == 0:
            self.cannot_decide(f"no stock has the {self.ranker_config.lookback_days}-day window the ranker "
                               "reads")
            return None
        if len(members) > 1 and float(max(scores)) == float(min(scores)):  # e.g. a zero head nothing has trained
            self.cannot_decide("every stock has the same score, so there is nothing to rank (the score head has "
                               "not learned from a realised day yet)")
            return None
        chosen = top_fraction(scores, config.top_fraction)
        return {members[i]: 1.0 / len(chosen) for i in chosen}

    def learn_from_month(self) -> None:
        if self.ranker is None:
            return
        self.learn(self.tradable_members())
        if self.ranker.months_learned % self.checkpoint_months == 0:
            self.save_state()

    def learn(self, symbols: List[Symbol]) -> None:
        """Stage 2 on the cross-sections whose labels are realised by now (bars up to the last close)."""
        config, ranker = self.ranker_config, self.ranker
        if ranker is None:
            return
        bars = config.lookback_days + config.finetune_window_days + config.label_horizon_days + 5
        panel, index_close = self.panel(symbols, bars)
        if not panel.dates.size:
            return
        report = finetune_until(ranker, panel, index_close, len(panel.dates) - 1, symbols)
        self.learned_through = self.time
        self.log(f"fine-tuned: mean loss {report.mean_loss:.5f} over {len(report.losses)} steps, "
                 f"skipped {report.skipped}")

    def save_state(self) -> bool:
        """The running state into the object store; a refusal (over the quota) is an error, not a crash."""
        if self.ranker is None:
            return False
        try:
            save_running_state(self.running, self.ranker,
                               {"trained_through": str(self.learned_through), "algorithm": "llm4fts_ranker"})
        except ObjectStoreSaveError as exc:
            self.error(f"llm4fts_ranker: running state NOT saved: {exc}")
            return False
        return True

    def on_end_of_algorithm(self) -> None:
        torch.set_num_threads(self.threads_before)
        if self.ranker is None:
            self.running.release()
            return
        try:
            saved = self.learned_through is not None and self.save_state()
        finally:
            self.running.release()
        self.set_runtime_statistic("Monthly updates", self.ranker.months_learned)
        where = f"saved under '{self.running_prefix}/'" if saved else "running state not saved"
        self.log(f"llm4fts_ranker: {where}; weights: {self.ranker.weights_info.describe()}")
