"""Every setting of the LLM4FTS ranker, in one dataclass, parsed from LEAN parameter strings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ..parameters import choice_problems, config_from_parameters, minimum_problems

WEIGHT_MODES = ("pretrained", "random")
PRETRAIN_MODES = ("auto", "require")
FINETUNE_LAYERS = ("ln_wpe", "all")
LABELS = ("rank_normal", "raw")
SCHEDULES = ("daily", "sampled")
HEAD_INITS = ("zero", "small", "random")
RANKING_LOSSES = ("margin_hinge", "printed")
STANDARDISE = ("window", "cross_section")
REBALANCE = ("monthly", "daily")


@dataclass
class RankerConfig:
    """Defaults are the paper's where it gives them: GPT-2 truncated to 6 layers, lookback 31 days,
    patch 8 / stride 4, dropout 0.2, lr 2e-4, ranking margin 0.1, next-day labels ranked across stocks,
    one stage-2 step per trading day.

    ``ranking_weight`` / ``mse_weight`` are alpha / beta of the stage-2 loss; the ranking term is the
    mean over ordered pairs (the paper's sum divided by the pair count), so alpha does not have to
    shrink as the universe grows. ``gpt_width`` / ``gpt_heads`` shrink a *random* GPT-2 for CPU
    runs; they are refused with pretrained weights.

    ``pretrain_layers`` / ``finetune_layers``: the GPT-2 parameters stage 1 / stage 2 train (``all`` or
    ``ln_wpe``, see ``LLM4FTSNetwork.trained_backbone_names``). The paper builds on the aLLM4TS code,
    whose scripts pre-train ``ln_wpe_attn_mlp`` (= ``all``) and fine-tune ``ln_wpe``: the defaults.
    A saved state holds only what its stage trains (checkpoint.py).

    Stage-2 regime (each a choice; the paper's is available, the default is stated):

    - ``label`` (default ``rank_normal``, the paper): the ``label_horizon_days`` (default 1, the paper's
      next day) forward return ranked across the stocks of the date and mapped to normal scores
      ``norm.ppf((rank - 0.5) / n)``; ``raw`` trains on the raw forward return (the earlier behaviour,
      with ``label_horizon_days=21``).
    - ``finetune_schedule`` (default ``daily``, the paper): one optimizer step per trading-day
      cross-section. At the first decision ``finetune_epochs`` seeded shuffled passes over every day of
      the trailing ``finetune_window_days`` whose label is realised; afterwards, at each month end, one
      pass over the days labelled since the last update. ``sampled``: ``finetune_steps`` random
      cross-sections of the window per month (the earlier behaviour).
    - ``head_init`` (default ``zero``): the score head starts at exactly 0, so a fresh ranker predicts 0
      instead of the random head's mean -0.5 / spread 0.33, which the MSE term then spends steps
      undoing: against ``label=rank_normal`` normal scores (spread about 1) the offset of 0.5 still costs,
      and against ``label=raw`` 21-day returns (spread about 0.05) it is ten times the labels' spread;
      ``small`` draws it with std 1e-3; ``random`` keeps ``nn.Linear``'s default draw (the paper's
      code). Applied when the network is built and when stage-1 weights are loaded (stage 1 never trains the head).
    - ``ranking_loss`` (default ``margin_hinge``): the mean over ordered pairs with ``dr != 0`` of
      ``relu(M - dp * sign(dr))^2``, zero only when every pair is ordered as realised by at least the
      margin. ``printed`` is the paper's printed form ``ReLU((M - dp)^2 [dp*dr < 0])`` summed over both
      orders of each pair: for a misordered pair the two orders add to ``2M^2 + 2 dp^2``, minimised at a
      tie, and a tie has zero loss, so a constant prediction is a global minimum. Alone it collapses the
      predictions to a constant (``tests/test_llm4fts_learns.py``); kept selectable to reproduce the paper.
    - ``input_standardise`` (default ``window``): each series over its own window;
      ``cross_section`` additionally standardises each channel and time point across the date's stocks
      (the ridge probes found the next-day signal twice as strong that way).

    Trading: ``prediction_days`` (default 5): the score at a decision is the mean over the last
    ``prediction_days`` trading days of that day's cross-sectionally standardised predictions (1: today's
    only). ``rebalance`` (default ``monthly``, the project's card): ``daily`` re-ranks and rebalances
    every trading day after the open, as the paper trades.

    ``torch_threads`` (default 0 = torch's choice): small networks on a busy 2-core machine lose most of
    their time to intra-op threads waiting on each other (a width-16 step: 0.28 s with 2 threads against
    0.008 s with 1, measured under load); the algorithm sets it for its run and restores it at the end.
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
    label_horizon_days: int = 1
    label: str = "rank_normal"
    ranking_weight: float = 1.0
    mse_weight: float = 1.0
    margin: float = 0.1
    top_fraction: float = 0.1
    pretrain_layers: str = "all"
    finetune_layers: str = "ln_wpe"
    finetune_schedule: str = "daily"
    finetune_epochs: int = 2
    finetune_steps: int = 8  # finetune_schedule=sampled only
    finetune_window_days: int = 252
    head_init: str = "zero"
    ranking_loss: str = "margin_hinge"
    input_standardise: str = "window"
    prediction_days: int = 5
    rebalance: str = "monthly"
    pretrain_steps: int = 300
    pretrain_batch: int = 64
    pretrain: str = "auto"
    max_grad_norm: float = 1.0
    device: str = "auto"
    torch_threads: int = 0  # CPU intra-op threads while the algorithm runs (0: torch's default); see above
    checkpoint_months: int = 12  # save the running state every this many monthly updates (and at the end)
    fresh_start: bool = False  # ignore the stored running state; the first save replaces it
    backbone_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = choice_problems(self, {"weights": WEIGHT_MODES, "pretrain": PRETRAIN_MODES,
                                          "pretrain_layers": FINETUNE_LAYERS, "finetune_layers": FINETUNE_LAYERS,
                                          "label": LABELS, "finetune_schedule": SCHEDULES, "head_init": HEAD_INITS,
                                          "ranking_loss": RANKING_LOSSES, "input_standardise": STANDARDISE,
                                          "rebalance": REBALANCE})
        problems += minimum_problems(self, ("gpt_layers", "lookback_days", "patch_length", "patch_stride",
                                            "label_horizon_days", "finetune_steps", "finetune_window_days",
                                            "pretrain_batch", "checkpoint_months", "finetune_epochs",
                                            "prediction_days"), 1)
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
