# region imports
from datetime import datetime

from AlgorithmImports import *

from models.allocator import AllocatorConfig, OnlineAllocator, checkpoint_state, resume_checkpoint
from models.allocator import save_checkpoint as publish_checkpoint
from models.features import indicator_panel, selected_features, warmup_bars
from models.returns import holding_period_returns
from models.stored_state import ObjectStoreSaveError
from skeleton.top100 import Top100MonthlyAlgorithm
# endregion

PARAMETERS = ("model_id", "weights", "seed", "lookback_days", "lr", "eta", "lora_r", "lora_alpha", "lora_dropout",
              "lora_targets", "steps_per_update", "precision", "pooling", "checkpoint_months", "fresh_start",
              "head_init", "replay_months", "demean_returns", "turnover_penalty", "standardise_features",
              "lr_half_life_months")


class PerlPortfolio(Top100MonthlyAlgorithm):
    """Chronos-LoRA allocator with online PERL learning (Alphathon 2024).

    Month start (10:00): 42 indicators over the lookback -> model weights -> ``set_holdings``.
    Month end (18:00, after the last close): realised returns since the fill -> ``self.train`` ->
    AdamW step(s) on -w'r - eta*H(w) (+ turnover penalty), averaged over the closed month and up to
    ``replay_months`` earlier ones. The adapter, projection, head, optimizer and replay buffer go to the
    object store every ``checkpoint_months`` and at the end. ``replay_months=0, head_init=random`` with
    the other learning options off is the paper's single step on the latest month.
    """

    def initialize_model(self) -> None:
        values = {name: self.get_parameter(name) for name in PARAMETERS}
        self.allocator_config = AllocatorConfig.from_parameters({k: v for k, v in values.items() if v is not None})
        self.checkpoint_months = self.allocator_config.checkpoint_months
        self.feature_names = selected_features()
        self.history_bars = warmup_bars(self.feature_names) + self.allocator_config.lookback_days + 5
        self.learner = OnlineAllocator.from_config(self.allocator_config)
        info = self.learner.weights_info
        self.set_runtime_statistic("Model weights", info.source + (" (auto: no checkpoint)" if info.warning else ""))
        self.log(f"perl_portfolio: {info.describe()}; precision {self.learner.precision.name} on "
                 f"{self.learner.device}; settings {self.allocator_config.to_dict()}")
        if info.warning:
            self.error(f"WARNING: {info.warning}")
        self.store_prefix = f"perl_portfolio/{info.model_id.replace('/', '_').replace('.', '_')}_seed{info.seed or 0}"
        # Held to the end: a second live run on this prefix is refused here (StateInUseError), not left to
        # overwrite this run's checkpoints; a killed run's lock is taken over.
        self.checkpoint = checkpoint_state(self.object_store, self.store_prefix)
        taken_over = self.checkpoint.hold("perl_portfolio backtest")
        if taken_over:
            self.log(f"perl_portfolio: {taken_over}")
        self.resumed_or_fresh = False
        self.decision_time: Optional[datetime] = None
        self.learned_through: Optional[datetime] = None
        self.train(self.date_rules.month_end("SPY"), self.time_rules.at(18, 0), self.learn_from_month)

    def resume(self) -> None:
        """At the first decision: a checkpoint may hold only what was learned before this moment."""
        self.resumed_or_fresh = True
        if self.allocator_config.fresh_start:
            self.log(f"fresh_start: not reading '{self.store_prefix}/'; the first save replaces what is there")
            return
        stamp = f"{self.time:%Y%m%d}_{datetime.utcnow():%Y%m%dT%H%M%S}"
        outcome = resume_checkpoint(self.checkpoint, self.learner, stamp, not_after=self.time)
        (self.error if outcome.rejected else self.log)(f"perl_portfolio: {outcome.message}")

    def target_weights(self, symbols: List[Symbol]) -> Optional[Dict[Symbol, float]]:
        if not self.resumed_or_fresh:
            self.resume()
        history = self.history(symbols, self.history_bars, Resolution.DAILY)
        if history.empty:
            self.cannot_decide("no price history for the universe")
            return None
        panel = indicator_panel(history, self.feature_names).window(self.allocator_config.lookback_days)
        for problem in panel.problems:
            self.debug(f"features: {problem}")
        weights = self.learner.allocate(panel.values, panel.mask, panel.symbols)
        if not weights.any():  # every stock masked, typically history shorter than the indicators' warm-up
            lookback = self.allocator_config.lookback_days
            self.cannot_decide(f"no stock has the indicators' {self.history_bars - lookback - 5}-bar warm-up "
                               f"and half of the {lookback}-day window yet")
            return None
        self.decision_time = self.time
        self.set_runtime_statistic("Portfolio entropy", f"{self.learner.last_entropy():.3f}")
        return {symbol: float(w) for symbol, w in zip(panel.symbols, weights) if w > 0}

    def learn_from_month(self) -> None:
        pending = self.learner.pending
        if pending is None or self.decision_time is None:
            return
        if pending.empty:  # no decision this month (cannot decide yet): the learner skips it
            self.learner.learn({})
            return
        history = self.history(cast(List[Symbol], pending.keys), 40, Resolution.DAILY)
        closes = history["close"].unstack(0) if not history.empty else None
        if closes is None:
            self.error("perl_portfolio: no prices for the held stocks; skipping this month's update")
            return
        returns = holding_period_returns(closes, self.decision_time)
        report = self.learner.learn({k: returns.get(k, float("nan")) for k in pending.keys})
        self.learned_through = self.time
        self.log(f"learned: loss {report.loss:.5f}, portfolio return "
                 f"{report.portfolio_return:.4f}, skipped steps {report.skipped}"
                 + (f", no return for {[str(k) for k in report.missing_returns]}" if report.missing_returns else ""))
        if self.learner.months_learned % self.checkpoint_months == 0:
            self.save_checkpoint()

    def save_checkpoint(self) -> bool:
        """Adapter and optimizer into the object store; a refusal (over the quota) is an error, not a crash."""
        try:
            publish_checkpoint(self.checkpoint, self.learner,
                               extra={"trained_through": str(self.learned_through), "algorithm": "perl_portfolio"})
        except ObjectStoreSaveError as exc:
            self.error(f"perl_portfolio: checkpoint NOT saved: {exc}")
            return False
        return True

    def on_end_of_algorithm(self) -> None:
        try:
            saved = self.learned_through is not None and self.save_checkpoint()
        finally:
            self.checkpoint.release()
        self.set_runtime_statistic("Monthly updates", self.learner.months_learned)
        self.set_runtime_statistic("Skipped steps", self.learner.steps_skipped)
        where = f"saved the adapter under '{self.store_prefix}/'" if saved else "adapter not saved"
        self.log(f"perl_portfolio: {where}; weights: {self.learner.weights_info.describe()}")
