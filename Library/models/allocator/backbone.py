"""The Chronos-T5 backbone: loaded for real through chronos-forecasting, or built with random weights
only when asked for, and always described by a :class:`WeightsInfo` that goes into every output.

The five Chronos-T5 architectures are known (``../shared/reference/models.md``), so ``random``
builds the exact network of the requested size offline. Random weights are never a silent
fallback: ``pretrained`` raises :class:`BackboneLoadError`; only ``auto`` falls back, with a
warning that the caller must publish.
"""
from __future__ import annotations

import re
from typing import Any

import torch
from transformers import T5Config, T5ForConditionalGeneration

from ..errors import ModelSetupError
from ..seeding import seeded_torch
from ..weights_info import WeightsInfo

CHRONOS_T5_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"d_model": 256, "d_ff": 1024, "num_layers": 4, "num_heads": 4},
    "mini": {"d_model": 384, "d_ff": 1536, "num_layers": 4, "num_heads": 8},
    "small": {"d_model": 512, "d_ff": 2048, "num_layers": 6, "num_heads": 8},
    "base": {"d_model": 768, "d_ff": 3072, "num_layers": 12, "num_heads": 12},
    "large": {"d_model": 1024, "d_ff": 4096, "num_layers": 24, "num_heads": 16},
}

CHRONOS_CONFIG: dict[str, Any] = {
    "tokenizer_class": "MeanScaleUniformBins", "tokenizer_kwargs": {"low_limit": -15.0, "high_limit": 15.0},
    "n_tokens": 4096, "n_special_tokens": 2, "pad_token_id": 0, "eos_token_id": 1, "use_eos_token": True,
    "model_type": "seq2seq", "context_length": 512, "prediction_length": 64, "num_samples": 20,
    "temperature": 1.0, "top_k": 50, "top_p": 1.0,
}

OFFLINE_HINT = ("Inside LEAN (Docker) build Dockerfile.gpu with the checkpoint baked in, or mount a Hugging Face "
                "cache and set HF_HUB_OFFLINE=1; or pass a local directory as model_id. For an offline demo use "
                "weights=auto (falls back to random weights, recorded in every output) or weights=random.")


class BackboneLoadError(ModelSetupError):
    """A pretrained checkpoint was requested and could not be loaded."""


def size_of(model_id: str) -> str | None:
    """``amazon/chronos-t5-small`` -> ``small``; ``None`` when the name does not say."""
    match = re.search(r"chronos-t5-(tiny|mini|small|base|large)(?![a-z])", model_id.lower())
    return match.group(1) if match else None


def chronos_t5_config(size: str, **overrides: Any) -> T5Config:
    """The T5 configuration of a Chronos-T5 size (tests shrink it through ``overrides``)."""
    if size not in CHRONOS_T5_SIZES:
        raise ValueError(f"unknown Chronos-T5 size {size!r}; known: {', '.join(CHRONOS_T5_SIZES)}")
    dims = dict(CHRONOS_T5_SIZES[size])
    dims.update(overrides)
    config = T5Config(vocab_size=dims.pop("vocab_size", 4096), d_kv=dims.pop("d_kv", 64),
                      num_decoder_layers=dims.pop("num_decoder_layers", dims["num_layers"]),
                      feed_forward_proj="relu", dropout_rate=dims.pop("dropout_rate", 0.1),
                      initializer_factor=0.05, layer_norm_epsilon=1e-6, decoder_start_token_id=0, pad_token_id=0,
                      eos_token_id=1, **dims)
    config.chronos_config = dict(CHRONOS_CONFIG, n_tokens=config.vocab_size)
    return config


def build_random(size: str, seed: int, **overrides: Any) -> T5ForConditionalGeneration:
    """The exact architecture of ``size`` with seeded random weights (same seed, same weights)."""
    config = chronos_t5_config(size, **overrides)
    with seeded_torch(seed):
        return T5ForConditionalGeneration(config).eval()


def load_pretrained(model_id: str) -> T5ForConditionalGeneration:
    """The inner T5 of a Chronos checkpoint (hub id or local path), in fp32 on the CPU."""
    try:
        from chronos import BaseChronosPipeline

        pipeline = BaseChronosPipeline.from_pretrained(model_id, device_map="cpu", torch_dtype=torch.float32)
    except Exception as exc:  # the hub, the cache and chronos all raise their own types
        raise BackboneLoadError(f"could not load the Chronos checkpoint {model_id!r}: "
                                f"{type(exc).__name__}: {str(exc).strip().rstrip('.')}. {OFFLINE_HINT}") from exc
    inner = getattr(pipeline, "inner_model", None)
    if not isinstance(inner, T5ForConditionalGeneration):
        raise BackboneLoadError(f"{model_id!r} is not a Chronos-T5 checkpoint (got {type(inner).__name__}); "
                                "the allocator needs the T5 family (tiny..large), not Chronos-Bolt or Chronos-2")
    return inner.float().eval()


def load_backbone(model_id: str, weights: str, seed: int,
                  overrides: dict[str, Any] | None = None) -> tuple[T5ForConditionalGeneration, WeightsInfo]:
    """Resolve ``weights`` (``pretrained`` | ``random`` | ``auto``) into a model and its description."""
    size = size_of(model_id)
    if weights in ("pretrained", "auto"):
        try:
            return load_pretrained(model_id), WeightsInfo(model_id, weights, "pretrained", size)
        except BackboneLoadError as exc:
            if weights == "pretrained":
                raise
            warning = f"weights=auto fell back to random weights: {exc}"
    elif weights == "random":
        warning = None
    else:
        raise ValueError(f"weights={weights!r}: use pretrained, random or auto")
    if size is None:
        raise BackboneLoadError(f"cannot build random weights for {model_id!r}: the name does not say which "
                                f"Chronos-T5 size it is ({', '.join(CHRONOS_T5_SIZES)})")
    return build_random(size, seed, **(overrides or {})), WeightsInfo(model_id, weights, "random", size, seed,
                                                                       warning)
