"""Optimizer (and grad-scaler) state as safetensors + JSON, and what resuming restores.

Resume semantics: the stored *state* is restored -- each parameter's moments (Adam's ``exp_avg``,
``exp_avg_sq``), its step count, and the grad-scaler's scale -- so training continues where it stopped.
The *hyperparameters* (``lr``, ``betas``, ``eps``, ``weight_decay``, ``amsgrad``, ...) are this run's
configured ones, not the stored ``param_groups``: ``--parameter lr 0.05`` onto a checkpoint trained at
0.01 trains at 0.05 from the first step, as the log says. torch's ``Optimizer.load_state_dict``
replaces the groups with the stored ones, so they are put back after it, and every setting that
differs is reported (the resume message names it).
"""
from __future__ import annotations

import json
from typing import Any

import torch

from .manifest import CheckpointError

IMPLEMENTATION_FLAGS = {"params", "foreach", "fused", "capturable", "differentiable"}  # not training settings


def optimizer_payload(optimizer: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer (and grad-scaler) state split into tensors (safetensors) and JSON scalars."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars,
                     "scaler": dict(scaler.state_dict()) if scaler is not None else {}}


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], payload: dict[str, Any],
                   device: torch.device | str, scaler: torch.amp.GradScaler | None = None,
                   source: str = "optimizer.json") -> list[str]:
    """Restore the stored state into ``optimizer`` and keep its configured hyperparameters (module
    docstring); returns one line per hyperparameter whose stored value differs from this run's."""
    configured = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.to(device)
    for index, values in payload.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    stored_groups = payload.get("param_groups")
    try:
        optimizer.load_state_dict({"state": state, "param_groups": stored_groups})
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{source}: does not fit this model's optimizer ({exc})") from exc
    changes = []
    for number, (group, wanted, stored) in enumerate(zip(optimizer.param_groups, configured, stored_groups or [])):
        for name, value in wanted.items():
            if name not in IMPLEMENTATION_FLAGS and _plain(stored.get(name)) != _plain(value):
                where = f" (group {number})" if len(configured) > 1 else ""
                changes.append(f"{name}{where} {stored.get(name)} stored -> {value} configured")
        group.update(wanted)
    if scaler is not None and payload.get("scaler"):
        scaler.load_state_dict(payload["scaler"])
    return changes


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists), so stored and configured compare equal when they are."""
    return json.loads(json.dumps(value, default=str))
