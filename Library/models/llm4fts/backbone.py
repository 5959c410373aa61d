"""The GPT-2 backbone, truncated to ``gpt_layers`` blocks (the paper's appendix: 6).

``pretrained`` loads ``openai-community/gpt2`` (or any GPT-2 hub id or local directory) through
``transformers``; ``random`` builds the named architecture (or a smaller one through
``gpt_width``/``gpt_heads``) from a seed. Nothing falls back to random weights silently, and a
:class:`~models.weights_info.WeightsInfo` says which it is in every output.
"""
from __future__ import annotations

from typing import Any

import torch
from transformers import GPT2Config, GPT2Model

from ..errors import ModelSetupError
from ..seeding import seeded_torch
from ..weights_info import WeightsInfo
from .config import RankerConfig
from .dropout import use_mask_dropout

GPT2_ARCHITECTURES: dict[str, dict[str, int]] = {
    "gpt2": {"n_embd": 768, "n_layer": 12, "n_head": 12},
    "gpt2-medium": {"n_embd": 1024, "n_layer": 24, "n_head": 16},
    "gpt2-large": {"n_embd": 1280, "n_layer": 36, "n_head": 20},
}
OFFLINE_HINT = ("Pass a local directory holding a GPT-2 checkpoint as model_id, or mount a Hugging Face cache "
                "with HF_HUB_OFFLINE=1; weights=random builds the architecture with random weights (recorded in "
                "every output).")


class BackboneLoadError(ModelSetupError):
    """Pretrained GPT-2 weights were requested and could not be loaded."""


def architecture_of(model_id: str) -> str | None:
    """``openai-community/gpt2-medium`` -> ``gpt2-medium``; ``None`` when the name does not say."""
    name = model_id.rstrip("/").split("/")[-1].lower()
    return name if name in GPT2_ARCHITECTURES else None


def load_gpt2(config: RankerConfig) -> tuple[GPT2Model, WeightsInfo]:
    """The truncated backbone and what it holds; dropout is the ranker's (the paper's 0.2)."""
    # gelu_pytorch_tanh is GPT-2's gelu_new formula, 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), as one fused
    # kernel instead of five element-wise ops: equal up to float rounding, 10-15% less CPU per stage-2 step.
    dropout = {"resid_pdrop": config.dropout, "embd_pdrop": config.dropout, "attn_pdrop": config.dropout,
               "activation_function": "gelu_pytorch_tanh"}
    if config.weights == "pretrained":
        try:
            model = GPT2Model.from_pretrained(config.model_id, torch_dtype=torch.float32, **dropout)
        except Exception as exc:  # the hub, the cache and transformers raise their own types
            raise BackboneLoadError(f"could not load GPT-2 weights {config.model_id!r}: {type(exc).__name__}: "
                                    f"{str(exc).strip().rstrip('.')}. {OFFLINE_HINT}") from exc
        info = WeightsInfo(config.model_id, "pretrained", "pretrained", architecture_of(config.model_id),
                           family="GPT-2")
    else:
        model = build_random_gpt2(config, **dropout)
        size = architecture_of(config.model_id)
        if config.gpt_width or config.backbone_overrides:
            size = f"{size or 'gpt2'} resized (n_embd {model.config.n_embd}, n_head {model.config.n_head})"
        info = WeightsInfo(config.model_id, "random", "random", size, config.seed, family="GPT-2")
    return use_mask_dropout(truncate(model, config.gpt_layers)), info


def build_random_gpt2(config: RankerConfig, **extra: Any) -> GPT2Model:
    architecture = architecture_of(config.model_id)
    if architecture is None:
        raise BackboneLoadError(f"cannot build random weights for {config.model_id!r}: the name is not one of the "
                                f"known GPT-2 architectures ({', '.join(GPT2_ARCHITECTURES)})")
    dims = dict(GPT2_ARCHITECTURES[architecture])
    if config.gpt_width:
        dims.update(n_embd=config.gpt_width, n_head=config.gpt_heads)
    dims["n_layer"] = min(dims["n_layer"], config.gpt_layers)
    dims.update(config.backbone_overrides)
    with seeded_torch(config.seed):
        return GPT2Model(GPT2Config(n_positions=max(64, config.lookback_days * 2), **dims, **extra))


def truncate(model: GPT2Model, layers: int) -> GPT2Model:
    """Keep the first ``layers`` transformer blocks (GPT4TS / aLLM4TS do the same)."""
    if layers > len(model.h):
        raise ValueError(f"gpt_layers={layers} but the checkpoint has {len(model.h)} blocks")
    model.h = torch.nn.ModuleList(list(model.h)[:layers])
    model.config.n_layer = layers
    return model
