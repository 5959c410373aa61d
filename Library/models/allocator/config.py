"""Every setting of the Chronos-LoRA allocator, in one dataclass.

The algorithm passes LEAN parameters (strings from ``config.json`` or ``--parameter``) through
:meth:`AllocatorConfig.from_parameters`, so a typo in a value fails at start-up with the name of
the parameter, not months into a backtest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ..parameters import choice_problems, config_from_parameters, minimum_problems

WEIGHT_MODES = ("pretrained", "random", "auto")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
POOLINGS = ("encoder_mean", "decoder_first")
ATTENTION_TARGETS = ("q", "k", "v", "o")
FEED_FORWARD_TARGETS = ("wi", "wo")
HEAD_INITS = ("zero", "random")


@dataclass
class AllocatorConfig:
    """Defaults are the paper's where it gives them (AdamW, lr 0.01, eta 0.01, Chronos-T5 Large).

    ``pooling``: how a stock's sequence becomes one vector for the score head. ``encoder_mean``
    (masked mean of the encoder states) was chosen over ``decoder_first`` (the decoder's first step,
    cross-attending the encoder) by ``benchmarks/pooling_experiment.py``; see the README.

    Learning options (PERL-style experience reuse; ``replay_months=0, head_init="random"`` with the others
    off is the paper's single step on the latest month):

    ``head_init``: ``zero`` (default: an untrained allocator holds 1/N, every tilt is learned) or
    ``random`` (the paper's ``nn.Linear`` default init, seeded; a persistent random tilt on planted data).
    ``replay_months``: each month end the closed month joins a replay buffer and every step's loss is the
    mean month loss over the latest month plus up to this many earlier closed months (0 = the paper).
    The buffer (features as float16) is part of the checkpoint. Default 0: on the planted-signal harness
    (``python -m models.allocator.planted``, 2009-06..2013-12, 100 stocks, 2-3 seeds) replay of 6, 12 or
    24 months enlarged the tilt at a realistic IC 0.05 (effective N 99.6 -> 94.5 / 91.9 / 89.8 of 100) and
    ordered it worse (mean rank corr with the signal 0.46 -> 0.41 / 0.39 / 0.36); only at IC 0.2 did it
    order it better (0.61 -> 0.61 / 0.62 / 0.70). The buffer (about 176 kB a month of 100 stocks) also leaves room for only ~3 months
    in the 20 MB state with chronos-t5-large.
    ``demean_returns``: the loss sees returns minus the present stocks' mean. Default off: the weights sum
    to 1, so ``-w'(r - c)`` = ``-w'r + c`` and the gradient is exactly the same; only the reported loss
    changes (``tests/test_allocator_learns.py`` pins that the weights are identical).
    ``turnover_penalty``: lambda in ``loss += lambda * ||w - w_prev||_1`` (w_prev: the previous decision's
    TARGET weights as the learner output them, aligned by symbol, 0 for a stock not targeted then; not the
    holdings as they drifted with prices over the month), so it is a penalty on target changes. Default 0
    (the paper has none; 0.01 kept the weights near 1/N and halved the direction at IC 0.05).
    ``standardise_features``: cross-sectional z-score of every feature per time step over the present
    stocks before the projection. Default off (no clear gain on the harness; it changes what a saved
    adapter means, so it is part of ``identity``).
    ``lr_half_life_months``: ``lr_t = lr * 0.5 ** (months_learned / half_life)``; 0 = constant (default).
    """

    model_id: str = "amazon/chronos-t5-large"
    weights: str = "pretrained"
    seed: int = 42
    lookback_days: int = 21
    lr: float = 0.01
    eta: float = 0.01
    epsilon: float = 1e-8
    weight_decay: float = 0.01
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ATTENTION_TARGETS
    steps_per_update: int = 1
    precision: str = "auto"
    pooling: str = "encoder_mean"
    max_grad_norm: float = 1.0
    min_valid_fraction: float = 0.5
    n_features: int = 42
    device: str = "auto"
    checkpoint_months: int = 12  # save to the object store every this many monthly updates (and at the end)
    fresh_start: bool = False  # ignore what the object store holds; the first save replaces it
    backbone_overrides: dict[str, Any] = field(default_factory=dict)
    head_init: str = "zero"
    replay_months: int = 0
    demean_returns: bool = False
    turnover_penalty: float = 0.0
    standardise_features: bool = False
    lr_half_life_months: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.lora_targets, str):
            self.lora_targets = tuple(t.strip() for t in self.lora_targets.split(",") if t.strip())
        self.lora_targets = tuple(self.lora_targets)
        self.validate()

    def validate(self) -> None:
        problems = choice_problems(self, {"weights": WEIGHT_MODES, "precision": PRECISIONS, "pooling": POOLINGS,
                                           "head_init": HEAD_INITS})
        unknown = set(self.lora_targets) - set(ATTENTION_TARGETS + FEED_FORWARD_TARGETS)
        if unknown or not self.lora_targets:
            problems.append(f"lora_targets={','.join(self.lora_targets)!r}: choose from "
                            f"{','.join(ATTENTION_TARGETS + FEED_FORWARD_TARGETS)}")
        problems += minimum_problems(self, ("lookback_days", "lora_r", "lora_alpha", "steps_per_update",
                                            "n_features", "checkpoint_months"), 1)
        problems += minimum_problems(self, ("lr", "eta", "lora_dropout", "epsilon", "weight_decay", "replay_months",
                                            "turnover_penalty", "lr_half_life_months"), 0)
        if not 0 < self.min_valid_fraction <= 1:
            problems.append(f"min_valid_fraction={self.min_valid_fraction}: must be in (0, 1]")
        if problems:
            raise ValueError("invalid allocator settings: " + "; ".join(problems))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], **overrides: Any) -> "AllocatorConfig":
        """Build from LEAN parameter strings; unknown names are ignored (the algorithm owns other parameters)."""
        return config_from_parameters(cls, parameters, overrides)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lora_targets"] = list(self.lora_targets)
        return out

    def identity(self) -> dict[str, Any]:
        """The settings a saved adapter depends on: resuming with different ones would be meaningless."""
        keys = ("model_id", "lora_r", "lora_alpha", "lora_targets", "pooling", "n_features", "backbone_overrides",
                "standardise_features")
        out = {k: getattr(self, k) for k in keys}
        out["lora_targets"] = sorted(self.lora_targets)
        return out

