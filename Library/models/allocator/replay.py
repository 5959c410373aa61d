"""Experience the learner reuses: closed months (inputs, realised returns, the weights held before),
the weights held now, and the cross-sectional feature standardisation applied before the projection.

A month enters the buffer only at its own month end, once its return window has closed, so a replayed
loss never sees a return the allocator could not have known. Features are kept as float16 in memory
*and* in the checkpoint, so a resumed run replays exactly the bytes an uninterrupted run replays.
Keys are kept as ``str`` (LEAN ``Symbol`` objects do not survive a checkpoint; their string does).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

REPLAY_TENSORS = "replay.safetensors"
REPLAY_STATE = "replay.json"


def standardise(features: torch.Tensor, step_mask: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per time step and feature, a z-score across the present stocks whose step is valid; every other
    entry (and a feature with no spread) becomes 0. (N, T, F) in and out, float32."""
    valid = (step_mask & present.unsqueeze(1)).unsqueeze(-1).float()  # (N, T, 1)
    count = valid.sum(0).clamp(min=1.0)  # (T, 1)
    x = torch.nan_to_num(features.float()) * valid
    mean = x.sum(0) / count
    var = (((x - mean) * valid) ** 2).sum(0) / count
    z = (x - mean) / torch.sqrt(var + 1e-12)
    return torch.where(var > 1e-12, z, torch.zeros_like(z)) * valid


def align(previous: dict[str, float], keys: Sequence[Hashable]) -> np.ndarray:
    """The weights held before, in the order of ``keys`` (0 for a stock not held)."""
    return np.asarray([previous.get(str(k), 0.0) for k in keys], dtype=np.float32)


@dataclass
class ReplayMonth:
    """One closed month: what was decided on and what it earned."""

    keys: list[str]
    features: torch.Tensor  # (N, T, F) float16
    step_mask: torch.Tensor  # (N, T) bool
    present: torch.Tensor  # (N,) bool
    returns: torch.Tensor  # (N,) float32, missing ones 0
    previous: torch.Tensor  # (N,) float32, the weights held before this month's decision


@dataclass
class ReplayBuffer:
    """At most ``capacity`` closed months, oldest first, and the weights held now (by key)."""

    capacity: int
    months: list[ReplayMonth] = field(default_factory=list)
    held: dict[str, float] = field(default_factory=dict)

    def add(self, month: ReplayMonth) -> None:
        if self.capacity <= 0:
            return
        self.months.append(month)
        del self.months[:-self.capacity]

    def tensors(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for i, m in enumerate(self.months):
            out |= {f"{i}.features": m.features.cpu().contiguous(), f"{i}.step_mask": m.step_mask.cpu().to(torch.uint8),
                    f"{i}.present": m.present.cpu().to(torch.uint8), f"{i}.returns": m.returns.cpu().contiguous(),
                    f"{i}.previous": m.previous.cpu().contiguous()}
        return out

    def files(self) -> dict[str, bytes]:
        """``replay.safetensors`` (tensors) and ``replay.json`` (keys, the held weights)."""
        state = {"months": [m.keys for m in self.months], "held": self.held}
        return {REPLAY_TENSORS: save_safetensors(self.tensors()) if self.months else save_safetensors(
            {"empty": torch.zeros(0)}), REPLAY_STATE: json.dumps(state, sort_keys=True).encode()}

    def loaded(self, files: dict[str, bytes], device: torch.device) -> "ReplayBuffer":
        """A buffer of this capacity holding a checkpoint's (empty for a checkpoint written without one)."""
        if REPLAY_STATE not in files:
            return ReplayBuffer(self.capacity)
        state: dict[str, Any] = json.loads(files[REPLAY_STATE])
        tensors = load_safetensors(files[REPLAY_TENSORS])
        months = [ReplayMonth(list(keys), tensors[f"{i}.features"].to(device),
                              tensors[f"{i}.step_mask"].bool().to(device), tensors[f"{i}.present"].bool().to(device),
                              tensors[f"{i}.returns"].to(device), tensors[f"{i}.previous"].to(device))
                  for i, keys in enumerate(state["months"])]
        return ReplayBuffer(self.capacity, months[-self.capacity:] if self.capacity > 0 else [],
                            {str(k): float(v) for k, v in state["held"].items()})
