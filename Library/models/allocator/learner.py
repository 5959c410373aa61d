"""The online (PERL-like) learner: allocate at month start, learn from realised returns at month end.

``allocate`` runs without gradients and keeps its inputs; ``learn`` recomputes the weights on
those same inputs with gradients and takes ``steps_per_update`` AdamW steps on the mean month loss
``-w'r - eta*H(w) + lambda*||w - w_prev||_1`` over the closed month and up to ``replay_months`` earlier
ones (:mod:`.replay`), at ``lr * 0.5 ** (months_learned / lr_half_life_months)``. A step whose loss
or gradient is not finite is skipped and the last good
adapter is kept (the fp16 path on old GPUs needs this). Each update reseeds from
``seed + months_learned``, so a run resumed from a checkpoint continues exactly as an
uninterrupted one.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Sequence, cast

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model

from ..seeding import seeded_torch
from .backbone import WeightsInfo, load_backbone
from .config import AllocatorConfig
from .loss import allocation_loss, entropy
from .network import AllocatorNetwork
from .precision import PrecisionPlan, keep_in_fp32, resolve_device, resolve_precision
from .replay import ReplayBuffer, ReplayMonth, align, standardise

log = logging.getLogger(__name__)
TRAINED_MODULES = ["feature_projection", "score_head"]


@dataclass
class Decision:
    """What ``allocate`` saw and chose; ``learn`` replays it with gradients."""

    keys: list[Hashable]
    features: torch.Tensor
    step_mask: torch.Tensor
    present: torch.Tensor
    weights: np.ndarray
    previous: np.ndarray  # the previous decision's target weights (not drifted holdings), aligned to ``keys``

    @property
    def empty(self) -> bool:
        """No stock could be scored (all masked, e.g. history shorter than the warm-up): no decision."""
        return not bool(self.present.any())


@dataclass
class UpdateReport:
    """``loss``: the month's loss at the weights actually held (before the update)."""

    loss: float
    steps: int
    skipped: int
    missing_returns: list[Hashable] = field(default_factory=list)
    portfolio_return: float = 0.0


class OnlineAllocator:
    """The allocator pipeline: config -> backbone + LoRA -> weights; owns the optimizer and the scaler."""

    def __init__(self, config: AllocatorConfig, model: PeftModel, weights_info: WeightsInfo,
                 device: torch.device, precision: PrecisionPlan) -> None:
        self.config = config
        self.model = model
        self.weights_info = weights_info
        self.device = device
        self.precision = precision
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.scaler = precision.grad_scaler()
        self.pending: Decision | None = None
        self.months_learned = 0
        self.steps_taken = 0
        self.steps_skipped = 0
        self.replay = ReplayBuffer(config.replay_months)

    @classmethod
    def from_config(cls, config: AllocatorConfig) -> "OnlineAllocator":
        t5, info = load_backbone(config.model_id, config.weights, config.seed, config.backbone_overrides)
        return cls.from_backbone(config, t5, info)

    @classmethod
    def from_backbone(cls, config: AllocatorConfig, t5: Any, info: WeightsInfo) -> "OnlineAllocator":
        device = resolve_device(config.device)
        precision = resolve_precision(config.precision, device)
        with seeded_torch(config.seed):
            network = AllocatorNetwork(t5, config.n_features, config.pooling, config.head_init)
            if precision.name == "fp16":
                keep_in_fp32(network)
            lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                              target_modules=list(config.lora_targets), modules_to_save=TRAINED_MODULES,
                              bias="none")
            # peft's stubs ask for a PreTrainedModel; any nn.Module with the target modules works, and a
            # plain LoraConfig gives a PeftModel (not a mixed model).
            model = cast(PeftModel, get_peft_model(cast(Any, network), lora))
        return cls(config, model.to(device), info, device, precision)

    # --- month start ---
    def allocate(self, features: np.ndarray, step_mask: np.ndarray, keys: Sequence[Hashable]) -> np.ndarray:
        """(N, T, F) features with (N, T) valid steps -> (N,) weights; remembers the inputs for ``learn``.

        A stock counts as present when its latest step is valid and at least ``min_valid_fraction``
        of its window is; others get weight 0.
        """
        if features.ndim != 3 or features.shape[:2] != step_mask.shape or features.shape[0] != len(keys):
            raise ValueError(f"allocate: features {features.shape}, mask {step_mask.shape}, {len(keys)} keys do "
                             "not line up (expected (N, T, F), (N, T), N)")
        if features.shape[2] != self.config.n_features:
            raise ValueError(f"allocate: {features.shape[2]} features per step, the model was built for "
                             f"{self.config.n_features}")
        x = torch.as_tensor(np.nan_to_num(features), dtype=torch.float32, device=self.device)
        mask = torch.as_tensor(step_mask, dtype=torch.bool, device=self.device)
        present = mask[:, -1] & (mask.float().mean(1) >= self.config.min_valid_fraction)
        if self.config.standardise_features:
            x = standardise(x, mask, present)
        self.model.eval()
        with torch.inference_mode(), self.precision.autocast():
            weights = self.model(x, mask, present).float()
        if not torch.isfinite(weights).all():
            log.warning("allocate: non-finite weights; holding the present stocks in equal weights instead")
            weights = present.float() / max(int(present.sum()), 1)
        out = weights.cpu().numpy().astype(np.float64)
        out = out / out.sum() if out.sum() > 0 else out
        self.pending = Decision(list(keys), x, mask, present, out, align(self.replay.held, keys))
        self.replay.held = {str(k): float(w) for k, w in zip(keys, out) if w > 0}
        return out

    # --- month end ---
    def learn(self, returns: Mapping[Hashable, float]) -> UpdateReport:
        """AdamW steps on the pending decision's loss against the realised returns (missing ones count as 0).
        A decision that held no stock is dropped without a step (``steps`` 0, ``months_learned`` unchanged)."""
        if self.pending is None:
            raise RuntimeError("learn() needs a decision: call allocate() at month start first")
        decision = self.pending
        if decision.empty:  # weights are all 0 whatever the model does: no gradient, nothing to learn
            log.info("learn: the pending decision held no stock; no update this month")
            self.pending = None
            return UpdateReport(float("nan"), 0, 0)
        values = [returns.get(k, float("nan")) for k in decision.keys]
        missing = [k for k, v, p in zip(decision.keys, values, decision.present.tolist())
                   if p and not math.isfinite(v)]
        r = torch.tensor(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0),
                         dtype=torch.float32, device=self.device)
        held = torch.as_tensor(decision.weights, dtype=torch.float32, device=self.device)
        closed = self._closed_month(decision, r)
        loss = float(self.month_loss(held, closed))
        batch = [closed] + self.replay.months[::-1]  # the latest month, then earlier closed ones
        for group in self.optimizer.param_groups:
            group["lr"] = self.current_lr()
        skipped = 0
        with seeded_torch(self.config.seed + self.months_learned, self.device):  # dropout: a seeded stream
            for _ in range(self.config.steps_per_update):
                skipped += 0 if self._step(batch) else 1
        self.replay.add(ReplayMonth(closed.keys, closed.features.half(), closed.step_mask, closed.present,
                                    closed.returns, closed.previous))
        self.months_learned += 1
        self.steps_skipped += skipped
        self.steps_taken += self.config.steps_per_update - skipped
        self.pending = None
        return UpdateReport(loss, self.config.steps_per_update, skipped, missing,
                            float(np.dot(decision.weights, r.cpu().numpy())))

    def current_lr(self) -> float:
        """``lr`` halved every ``lr_half_life_months`` months learned (constant when 0); tied to the months
        learned, so a resumed run continues the schedule."""
        half_life = self.config.lr_half_life_months
        return self.config.lr * (0.5 ** (self.months_learned / half_life) if half_life > 0 else 1.0)

    def month_loss(self, weights: torch.Tensor, month: ReplayMonth) -> torch.Tensor:
        """One month's loss: -w'r (r demeaned over the present stocks if configured) - eta*H(w)
        + turnover_penalty * ||w - w_prev||_1."""
        returns = month.returns
        if self.config.demean_returns:
            returns = returns - returns[month.present].mean() * month.present.float()
        loss = allocation_loss(weights, returns, self.config.eta, self.config.epsilon)
        if self.config.turnover_penalty > 0:
            loss = loss + self.config.turnover_penalty * (weights.float() - month.previous).abs().sum()
        return loss

    def evaluate(self, decision: Decision, returns: torch.Tensor) -> float:
        """The loss of the current model on a decision, without dropout and without gradients."""
        self.model.eval()
        with torch.inference_mode(), self.precision.autocast():
            weights = self.model(decision.features, decision.step_mask, decision.present)
        return float(self.month_loss(weights, self._closed_month(decision, returns)))

    def _closed_month(self, decision: Decision, returns: torch.Tensor) -> ReplayMonth:
        return ReplayMonth([str(k) for k in decision.keys], decision.features, decision.step_mask, decision.present,
                           returns.float(), torch.as_tensor(decision.previous, dtype=torch.float32, device=self.device))

    def _accumulate_gradients(self, batch: Sequence[ReplayMonth]) -> float:
        """Gradients of the mean month loss over ``batch`` (each month its own cross-section), accumulated one
        month at a time: ``backward`` after each month frees that month's graph, so the peak memory is one
        month's whatever ``replay_months`` is (one graph over 25 months of chronos-t5-small ran out of 24 GiB).
        The sum of ``loss_m / n`` gradients is the mean's gradient. Returns the mean loss; a non-finite month
        stops the accumulation and returns it (the caller skips the step)."""
        total = 0.0
        for month in batch:
            with self.precision.autocast():
                weights = self.model(month.features.float(), month.step_mask, month.present)
            loss = self.month_loss(weights, month) / len(batch)
            if not torch.isfinite(loss):
                return float(loss.detach())
            self.scaler.scale(loss).backward()
            total += float(loss.detach())
        return total

    def _step(self, batch: Sequence[ReplayMonth]) -> bool:
        """One optimizer step; False (and nothing changed but the scaler's scale) when it was not finite."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._accumulate_gradients(batch)
        if not math.isfinite(loss):
            log.warning("skipped an update: non-finite loss (%s)", loss)
            self.optimizer.zero_grad(set_to_none=True)
            return False
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        if not torch.isfinite(norm):
            log.warning("skipped an update: non-finite gradient (norm %s)", float(norm))
            self.scaler.step(self.optimizer)  # sees the inf and skips; update() lowers the scale
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            return False
        saved = ([p.detach().clone() for p in params], copy.deepcopy(self.optimizer.state_dict()))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if not all(torch.isfinite(p).all() for p in params):
            log.warning("skipped an update: it produced non-finite parameters; restored the last good adapter")
            with torch.no_grad():
                for p, old in zip(params, saved[0]):
                    p.copy_(old)
            self.optimizer.load_state_dict(saved[1])
            return False
        return True

    # --- introspection ---
    def trainable_parameter_names(self) -> list[str]:
        return [n for n, p in self.model.named_parameters() if p.requires_grad]

    def last_entropy(self) -> float:
        if self.pending is None:
            return float("nan")
        return float(entropy(torch.as_tensor(self.pending.weights)))

    def describe(self) -> dict[str, Any]:
        """What every output records: settings, weights, precision, device, training counters."""
        return {"config": self.config.to_dict(), "weights": self.weights_info.describe(),
                "weights_info": self.weights_info.identity() | {"warning": self.weights_info.warning},
                "precision": self.precision.name, "device": str(self.device),
                "months_learned": self.months_learned, "steps_taken": self.steps_taken,
                "steps_skipped": self.steps_skipped}
