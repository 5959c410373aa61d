"""Every setting of the LLM4FTS ranker, in one dataclass, parsed from LEAN parameter strings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ..parameters import choice_problems, config_from_parameters, minimum_problems

WEIGHT_MODES = ("pretrained", "random")
PRETRAIN_MODES = ("auto", "require")
FINETUNE_LAYERS = ("ln_wpe", "all")


@dataclass
class RankerConfig:
    """Defaults are the paper's where it gives them: GPT-2 truncated to 6 layers, lookback 31 days,
    patch 8 / stride 4, dropout 0.2, lr 2e-4, ranking margin 0.1. The label horizon is the holding
    period (21 trading days, one month) rather than the paper's next day.

    ``ranking_weight`` / ``mse_weight`` are alpha / beta of the stage-2 loss; the ranking term is the
    mean over ordered pairs (the paper's sum divided by the pair count), so alpha does not have to
    shrink as the universe grows. ``gpt_width`` / ``gpt_heads`` shrink a *random* GPT-2 for CPU
    runs; they are refused with pretrained weights.

    ``pretrain_layers`` / ``finetune_layers``: the GPT-2 parameters stage 1 / stage 2 train (``all`` or
    ``ln_wpe``, see ``LLM4FTSNetwork.trained_backbone_names``). The paper builds on the aLLM4TS code,
    whose scripts pre-train ``ln_wpe_attn_mlp`` (= ``all``) and fine-tune ``ln_wpe``: the defaults.
    A saved state holds only what its stage trains (checkpoint.py).
    """

    model_id: str = "openai-community/gpt2"
    weights: str = "pretrained"
    seed: int = 42
    gpt_layers: int = 6
    gpt_width: int = 0
    gpt_heads: int = 0
    lookback_days: int = 31
    patch_length: int = 8
    patch_stride: int = 4
    use_sipr: bool = True
    use_wavelet: bool = True
    wavelet: str = "db4"
    dropout: float = 0.2
    lr: float = 2e-4
    weight_decay: float = 0.0
    label_horizon_days: int = 21
    ranking_weight: float = 1.0
    mse_weight: float = 1.0
    margin: float = 0.1
    top_fraction: float = 0.1
    pretrain_layers: str = "all"
    finetune_layers: str = "ln_wpe"
    finetune_steps: int = 8
    finetune_window_days: int = 252
    pretrain_steps: int = 300
    pretrain_batch: int = 64
    pretrain: str = "auto"
    max_grad_norm: float = 1.0
    device: str = "auto"
    checkpoint_months: int = 12  # save the running state every this many monthly updates (and at the end)
    fresh_start: bool = False  # ignore the stored running state; the first save replaces it
    backbone_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = choice_problems(self, {"weights": WEIGHT_MODES, "pretrain": PRETRAIN_MODES,
                                          "pretrain_layers": FINETUNE_LAYERS, "finetune_layers": FINETUNE_LAYERS})
        problems += minimum_problems(self, ("gpt_layers", "lookback_days", "patch_length", "patch_stride",
                                            "label_horizon_days", "finetune_steps", "finetune_window_days",
                                            "pretrain_batch", "checkpoint_months"), 1)
        if self.patch_length > self.lookback_days:
            problems.append(f"patch_length={self.patch_length} is longer than lookback_days={self.lookback_days}")
        if not 0 < self.top_fraction <= 1:
            problems.append(f"top_fraction={self.top_fraction}: must be in (0, 1]")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout={self.dropout}: must be in [0, 1)")
        if (self.gpt_width or self.gpt_heads) and self.weights == "pretrained":
            problems.append("gpt_width/gpt_heads reshape the network, so they only apply to weights=random")
        if self.gpt_width and (not self.gpt_heads or self.gpt_width % self.gpt_heads):
            problems.append(f"gpt_width={self.gpt_width} needs gpt_heads that divide it (got {self.gpt_heads})")
        if problems:
            raise ValueError("invalid LLM4FTS settings: " + "; ".join(problems))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], **overrides: Any) -> "RankerConfig":
        """Build from LEAN parameter strings; names the algorithm owns are ignored."""
        return config_from_parameters(cls, parameters, overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def identity(self) -> dict[str, Any]:
        """Settings that saved weights depend on: loading them under other ones would be meaningless."""
        keys = ("model_id", "gpt_layers", "gpt_width", "gpt_heads", "lookback_days", "patch_length", "patch_stride",
                "use_sipr", "use_wavelet", "wavelet", "backbone_overrides")  # use_sipr: SIPR plans the patches
        return {k: getattr(self, k) for k in keys}
