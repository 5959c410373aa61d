"""Numerical precision of the allocator: which autocast dtype, whether a GradScaler, and fp32 islands.

``auto``: bf16 autocast on GPUs of compute capability 8 or more (same range as fp32, no scaler);
fp16 autocast with a GradScaler on older GPUs (the paper's V100); fp32 on the CPU. Master weights
(base, LoRA, projection, head) stay fp32 in every mode. Under fp16, T5's feed-forward sublayers
overflow (activations above 65504 in ``wo``; transformers #5651, #11461), so they and the layer
norms run in fp32 with autocast turned off; the loss is computed in fp32 by ``loss.py``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers.models.t5.modeling_t5 import T5DenseActDense, T5DenseGatedActDense, T5LayerNorm

FP32_ISLANDS = (T5DenseActDense, T5DenseGatedActDense, T5LayerNorm)


@dataclass(frozen=True)
class PrecisionPlan:
    name: str  # fp32 | fp16 | bf16 (resolved, never "auto")
    device_type: str  # cpu | cuda

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.name)

    @property
    def uses_scaler(self) -> bool:
        return self.name == "fp16"

    def autocast(self) -> Any:
        dtype = self.autocast_dtype
        return torch.autocast(self.device_type, dtype=dtype, enabled=dtype is not None)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.uses_scaler)


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def resolve_precision(requested: str, device: torch.device) -> PrecisionPlan:
    """Map ``auto`` to what the device does well; explicit choices are honoured (fp16 on CPU is a test path)."""
    if requested != "auto":
        return PrecisionPlan(requested, device.type)
    if device.type != "cuda":
        return PrecisionPlan("fp32", device.type)
    major, _ = torch.cuda.get_device_capability(device)
    return PrecisionPlan("bf16" if major >= 8 else "fp16", device.type)


def keep_in_fp32(model: nn.Module) -> int:
    """Run T5's feed-forward sublayers and layer norms in fp32 under autocast; returns how many were wrapped."""
    wrapped = 0
    for module in model.modules():
        if isinstance(module, FP32_ISLANDS) and not getattr(module, "_fp32_island", False):
            module.forward = _fp32_forward(module.forward)  # type: ignore[method-assign]
            module._fp32_island = True  # type: ignore[assignment]
            wrapped += 1
    return wrapped


def _fp32_forward(forward: Any) -> Any:
    @functools.wraps(forward)
    def run(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        device_type = hidden_states.device.type
        with torch.autocast(device_type, enabled=False):
            return forward(hidden_states.float(), *args, **kwargs)
    return run
