"""The LLM4FTS ranker: stage-1 next-patch pre-training, stage-2 ranking fine-tuning, predictions.

It holds the network, its weights description, the SIPR pattern library that plans the patches,
and the two optimizers. ``stage`` says what the weights have seen: ``initial`` (backbone only),
``stage1`` (pre-trained on series), ``finetuned`` (ranking loss on returns).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..seeding import seeded_torch
from .backbone import load_gpt2
from .config import RankerConfig
from .loss import ranking_loss
from .network import LLM4FTSNetwork
from .patching import extract_patches, patch_starts
from .sipr import PatternLibrary

log = logging.getLogger(__name__)


@dataclass
class CrossSection:
    """One date's inputs and (for training) realised forward returns."""

    windows: np.ndarray  # (stocks, channels, L)
    starts: np.ndarray
    returns: np.ndarray | None = None


@dataclass
class TrainingReport:
    losses: list[float] = field(default_factory=list)
    skipped: int = 0

    @property
    def mean_loss(self) -> float:
        return float(np.mean(self.losses)) if self.losses else float("nan")


class LLM4FTSRanker:
    def __init__(self, config: RankerConfig, network: LLM4FTSNetwork, weights_info: Any,
                 library: PatternLibrary | None, device: torch.device) -> None:
        self.config, self.network, self.weights_info, self.library = config, network, weights_info, library
        self.device = device
        self.stage = "initial"
        self.pretrain_steps_done = 0
        self.months_learned = 0
        self.steps_taken = 0
        self.steps_skipped = 0
        self.finetuned_through: str | None = None  # date of the newest cross-section stage 2 trained on (daily)
        self.prediction_cache: dict[Any, Any] = {}  # per-day predictions, valid until the weights change
        self._plans: dict[bytes, np.ndarray] = {}
        self.pretrain_parameters = network.trained_parameters(config.pretrain_layers)
        self.finetune_parameters = network.trained_parameters(config.finetune_layers)
        self.pretrain_optimizer = torch.optim.Adam(self.pretrain_parameters, lr=config.lr)
        self.optimizer = torch.optim.Adam(self.finetune_parameters, lr=config.lr, weight_decay=config.weight_decay)
        self.scaler = None
        network.set_trainable(config.finetune_layers)

    @classmethod
    def from_config(cls, config: RankerConfig, library: PatternLibrary | None = None,
                    library_pending: bool = False) -> "LLM4FTSRanker":
        """``library_pending``: with ``use_sipr``, the library comes later from the stage-1 artifact
        (``checkpoint.resume_stage1`` sets it with the weights it planned); until then ``plan`` refuses."""
        if config.use_sipr and library is None and not library_pending:
            raise ValueError("use_sipr needs a SIPR pattern library (fit_sipr or the stored artifact)")
        device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else
                              ("cpu" if config.device == "auto" else config.device))
        backbone, info = load_gpt2(config)
        with seeded_torch(config.seed + 1):
            network = LLM4FTSNetwork(config, backbone).to(device)
        return cls(config, network, info, library, device)

    # --- patch plans ---
    def plan(self, index_closes: np.ndarray | None) -> np.ndarray:
        """Patch starts for a window ending now: the grid, plus SIPR segment starts of the index window."""
        segments: Iterable[int] = ()
        key = b"" if index_closes is None else np.asarray(index_closes, dtype=np.float64).tobytes()
        if key in self._plans and self.library is not None:
            return self._plans[key]
        if self.config.use_sipr and self.library is None:
            raise RuntimeError("use_sipr is on and the ranker has no SIPR pattern library yet (load the stage-1 "
                               "artifact, or fit one): planning without it would silently drop SIPR")
        if self.config.use_sipr and self.library is not None and index_closes is not None:
            values = np.asarray(index_closes, dtype=np.float64)[-self.config.lookback_days:]
            if np.isfinite(values).all() and len(values) == self.config.lookback_days:
                segments = self.library.segment(values).starts.tolist()
        starts = patch_starts(self.config.lookback_days, self.config.patch_length, self.config.patch_stride, segments)
        if self.library is not None:  # the same index window plans the same patches: SIPR runs once per date
            self._plans[key] = starts
        return starts

    # --- stage 1 ---
    def pretrain_step(self, series: np.ndarray, starts: np.ndarray) -> float:
        """One next-patch step on (n, L + stride) normalised series: the state at each patch predicts
        the patch ``stride`` points later; causal attention keeps the target unseen."""
        cfg = self.config
        batch = torch.as_tensor(series, dtype=torch.float32, device=self.device)
        self.network.set_trainable(cfg.pretrain_layers)
        self.network.train()
        with seeded_torch(cfg.seed * 1_000_003 + self.pretrain_steps_done, self.device):  # dropout
            predicted = self.network.next_patch(batch[:, : cfg.lookback_days], starts)
        target = extract_patches(batch, np.asarray(starts) + cfg.patch_stride, cfg.patch_length)
        loss = F.mse_loss(predicted, target)
        if not torch.isfinite(loss):
            self.steps_skipped += 1
            return float("nan")
        self.network.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.pretrain_parameters, cfg.max_grad_norm)
        self.pretrain_optimizer.step()
        self.pretrain_steps_done += 1
        self.stage = "stage1"
        return float(loss.detach())

    # --- stage 2 ---
    def finetune(self, sections: list[CrossSection]) -> TrainingReport:
        """One optimizer step per cross-section on alpha * ranking + beta * MSE; a step whose loss or
        gradient is not finite is skipped (weights and optimizer state unchanged)."""
        cfg, report = self.config, TrainingReport()
        self.network.set_trainable(cfg.finetune_layers)
        with seeded_torch(cfg.seed * 1009 + self.months_learned, self.device):
            self.network.train()
            for section in sections:
                if section.returns is None:
                    raise ValueError("fine-tuning needs realised returns")
                keep = np.isfinite(section.returns)
                if keep.sum() < 2:
                    continue
                windows = torch.as_tensor(section.windows[keep], dtype=torch.float32, device=self.device)
                realised = torch.as_tensor(section.returns[keep], dtype=torch.float32, device=self.device)
                loss = ranking_loss(self.network(windows, section.starts), realised, cfg.ranking_weight,
                                    cfg.mse_weight, cfg.margin, cfg.ranking_loss)
                self.network.zero_grad(set_to_none=True)
                if torch.isfinite(loss):
                    loss.backward()
                    norm = torch.nn.utils.clip_grad_norm_(self.finetune_parameters, cfg.max_grad_norm)
                    if math.isfinite(float(norm)):
                        self.optimizer.step()
                        self._after_step()
                        report.losses.append(float(loss.detach()))
                        self.steps_taken += 1
                        continue
                self.network.zero_grad(set_to_none=True)
                report.skipped += 1
                self.steps_skipped += 1
        self.months_learned += 1
        self.stage = "finetuned"
        self.prediction_cache.clear()
        return report

    def _after_step(self) -> None:
        if self.config.use_wavelet:
            self.network.wavelet.renormalise_()

    @torch.no_grad()
    def predict(self, section: CrossSection) -> np.ndarray:
        """Predicted forward returns, one per stock of the section (eval mode: no dropout)."""
        self.network.eval()
        windows = torch.as_tensor(section.windows, dtype=torch.float32, device=self.device)
        return self.network(windows, section.starts).float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return {"stage": self.stage, "pretrain_steps": self.pretrain_steps_done,
                "months_learned": self.months_learned, "steps_taken": self.steps_taken,
                "steps_skipped": self.steps_skipped, "finetuned_through": self.finetuned_through,
                "weights": self.weights_info.describe()}


def top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the highest ``ceil(fraction * n)`` scores (ties broken by position, deterministic)."""
    count = max(1, math.ceil(fraction * len(scores))) if len(scores) else 0
    order = np.argsort(-np.asarray(scores), kind="stable")
    return order[:count]
