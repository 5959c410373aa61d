"""Every setting of the Chronos-LoRA allocator, in one dataclass.

The algorithm passes LEAN parameters (strings from ``config.json`` or ``--parameter``) through
:meth:`AllocatorConfig.from_parameters`, so a typo in a value fails at start-up with the name of
the parameter, not months into a backtest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

WEIGHT_MODES = ("pretrained", "random", "auto")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
POOLINGS = ("encoder_mean", "decoder_first")
ATTENTION_TARGETS = ("q", "k", "v", "o")
FEED_FORWARD_TARGETS = ("wi", "wo")


@dataclass
class AllocatorConfig:
    """Defaults are the paper's where it gives them (AdamW, lr 0.01, eta 0.01, Chronos-T5 Large).

    ``pooling``: how a stock's sequence becomes one vector for the score head. ``encoder_mean``
    (masked mean of the encoder states) was chosen over ``decoder_first`` (the decoder's first step,
    cross-attending the encoder) by ``benchmarks/pooling_experiment.py``; see the README.
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
    backbone_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.lora_targets, str):
            self.lora_targets = tuple(t.strip() for t in self.lora_targets.split(",") if t.strip())
        self.lora_targets = tuple(self.lora_targets)
        self.validate()

    def validate(self) -> None:
        problems = []
        if self.weights not in WEIGHT_MODES:
            problems.append(f"weights={self.weights!r}: use one of {WEIGHT_MODES}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r}: use one of {PRECISIONS}")
        if self.pooling not in POOLINGS:
            problems.append(f"pooling={self.pooling!r}: use one of {POOLINGS}")
        unknown = set(self.lora_targets) - set(ATTENTION_TARGETS + FEED_FORWARD_TARGETS)
        if unknown or not self.lora_targets:
            problems.append(f"lora_targets={','.join(self.lora_targets)!r}: choose from "
                            f"{','.join(ATTENTION_TARGETS + FEED_FORWARD_TARGETS)}")
        for name in ("lookback_days", "lora_r", "lora_alpha", "steps_per_update", "n_features"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name}={getattr(self, name)}: must be >= 1")
        for name in ("lr", "eta", "lora_dropout", "epsilon", "weight_decay"):
            if float(getattr(self, name)) < 0:
                problems.append(f"{name}={getattr(self, name)}: must be >= 0")
        if not 0 < self.min_valid_fraction <= 1:
            problems.append(f"min_valid_fraction={self.min_valid_fraction}: must be in (0, 1]")
        if problems:
            raise ValueError("invalid allocator settings: " + "; ".join(problems))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], **overrides: Any) -> "AllocatorConfig":
        """Build from LEAN parameter strings; unknown names are ignored (the algorithm owns other parameters)."""
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, raw in parameters.items():
            if name not in types or raw is None or name == "backbone_overrides":
                continue
            values[name] = convert_parameter(name, raw, cls.__dataclass_fields__[name].default)
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lora_targets"] = list(self.lora_targets)
        return out

    def identity(self) -> dict[str, Any]:
        """The settings a saved adapter depends on: resuming with different ones would be meaningless."""
        keys = ("model_id", "lora_r", "lora_alpha", "lora_targets", "pooling", "n_features", "backbone_overrides")
        out = {k: getattr(self, k) for k in keys}
        out["lora_targets"] = sorted(self.lora_targets)
        return out


def convert_parameter(name: str, raw: Any, default: Any) -> Any:
    """A LEAN parameter string as the type of its default; the error names the parameter."""
    if isinstance(default, tuple):
        return tuple(t.strip() for t in str(raw).split(",") if t.strip()) if isinstance(raw, str) else tuple(raw)
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"parameter {name}={raw!r}: expected {type(default).__name__}") from exc
    return str(raw)
