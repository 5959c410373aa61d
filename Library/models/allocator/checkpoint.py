"""Saving and resuming the learner: adapter, projection and head (peft's safetensors format),
optimizer and scaler state, and a manifest; never the base model, never pickle.

The manifest (``learner.json``) is written last and holds the SHA-256 of every other file, so a
save interrupted half-way reads as corrupted rather than as a mix of two months. A checkpoint
that is corrupted, or was trained with other settings or another backbone, is never loaded and
never silently overwritten: it is copied under ``<prefix>/rejected/<stamp>/`` first and the
caller gets a message saying so.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..stored_state import (CheckpointError, ObjectStoreLike, ResumeOutcome, check_not_after, keep_rejected,
                            load_optimizer, optimizer_payload, read_present, sign, verified_manifest, write_all)
from .learner import OnlineAllocator

FORMAT_VERSION = 1
MANIFEST = "learner.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_STATE = "optimizer.json"
PAYLOAD = (ADAPTER_WEIGHTS, ADAPTER_CONFIG, OPTIMIZER_TENSORS, OPTIMIZER_STATE)


def checkpoint_keys(prefix: str) -> dict[str, str]:
    """Object-store key of every checkpoint file (LEAN's key rule: one dot, no spaces needed)."""
    return {name: f"{prefix}/{name}" for name in PAYLOAD + (MANIFEST,)}


# --- bytes <-> learner ---
def checkpoint_files(learner: OnlineAllocator, extra: dict[str, Any] | None = None) -> dict[str, bytes]:
    """Every file of a checkpoint as bytes, the manifest last."""
    with tempfile.TemporaryDirectory() as tmp:
        learner.model.save_pretrained(tmp)  # peft: adapter_model.safetensors + adapter_config.json
        files = {name: (Path(tmp) / name).read_bytes() for name in (ADAPTER_WEIGHTS, ADAPTER_CONFIG)}
    tensors, state = optimizer_payload(learner.optimizer, learner.scaler)
    files[OPTIMIZER_TENSORS] = save_safetensors(tensors)
    files[OPTIMIZER_STATE] = json.dumps(state, sort_keys=True).encode()
    return sign(files, MANIFEST, {"format": FORMAT_VERSION, "identity": _identity(learner),
                                  "learner": learner.describe(), "extra": extra or {}})


def restore_files(learner: OnlineAllocator, files: dict[str, bytes]) -> dict[str, Any]:
    """Load a checkpoint into ``learner``; raises :class:`CheckpointError` without touching it on any doubt."""
    manifest = verified_manifest(files, MANIFEST, PAYLOAD, FORMAT_VERSION)
    expected, found = _identity(learner), manifest.get("identity")
    if found != expected:
        diff = {k: (found.get(k) if isinstance(found, dict) else None, v) for k, v in expected.items()
                if not isinstance(found, dict) or found.get(k) != v}
        raise CheckpointError(f"{MANIFEST}: the checkpoint was trained with other settings or another backbone "
                              f"(stored vs current: {diff})")
    try:
        adapter = load_safetensors(files[ADAPTER_WEIGHTS])
        optimizer_tensors = load_safetensors(files[OPTIMIZER_TENSORS])
        optimizer_state = json.loads(files[OPTIMIZER_STATE])
    except Exception as exc:
        raise CheckpointError(f"unreadable checkpoint payload: {type(exc).__name__}: {exc}") from exc
    _check_adapter_shapes(learner, adapter)
    set_peft_model_state_dict(learner.model, adapter)
    load_optimizer(learner.optimizer, optimizer_tensors, optimizer_state, learner.device, learner.scaler)
    counters = manifest["learner"]
    learner.months_learned = int(counters["months_learned"])
    learner.steps_taken = int(counters["steps_taken"])
    learner.steps_skipped = int(counters["steps_skipped"])
    return manifest


# --- object store ---
def save_to_store(store: ObjectStoreLike, prefix: str, learner: OnlineAllocator,
                  extra: dict[str, Any] | None = None) -> list[str]:
    """Write a checkpoint (payload first, manifest last); returns the keys written."""
    return write_all(store, checkpoint_keys(prefix), checkpoint_files(learner, extra), last=MANIFEST)


def resume_from_store(store: ObjectStoreLike, prefix: str, learner: OnlineAllocator, stamp: str,
                      not_after: Any = None) -> ResumeOutcome:
    """Resume when a usable checkpoint exists; otherwise start fresh and say why.

    ``not_after``: the first decision time of this run. A checkpoint trained on returns after it
    (e.g. the end of an earlier backtest over the same years) would be look-ahead and is refused.
    A rejected checkpoint is copied to ``<prefix>/rejected/<stamp>/`` before anything can
    overwrite it; ``stamp`` must be a key-safe string (e.g. ``20180102T000000``).
    """
    keys = checkpoint_keys(prefix)
    files = read_present(store, keys)
    if not files:
        return ResumeOutcome(False, f"no checkpoint under '{prefix}/': starting fresh")
    try:
        if set(files) != set(keys):
            raise CheckpointError(f"incomplete checkpoint: missing {sorted(set(keys) - set(files))}")
        check_not_after(verified_manifest(files, MANIFEST, PAYLOAD, FORMAT_VERSION), not_after, MANIFEST)
        manifest = restore_files(learner, files)
    except CheckpointError as exc:
        kept = keep_rejected(store, prefix, stamp, files)
        return ResumeOutcome(False, f"checkpoint under '{prefix}/' not used: {exc}. Starting fresh; the rejected "
                                    f"files are kept under '{kept}/'", rejected=True)
    return ResumeOutcome(True, f"resumed from '{prefix}/' after {learner.months_learned} monthly updates",
                         manifest=manifest)


# --- internals ---
def _identity(learner: OnlineAllocator) -> dict[str, Any]:
    return json.loads(json.dumps({"config": learner.config.identity(), "backbone": learner.weights_info.identity()},
                                 sort_keys=True, default=str))


def _check_adapter_shapes(learner: OnlineAllocator, adapter: dict[str, torch.Tensor]) -> None:
    from peft import get_peft_model_state_dict

    current = get_peft_model_state_dict(learner.model)
    if set(current) != set(adapter):
        raise CheckpointError(f"{ADAPTER_WEIGHTS}: tensors differ from this model's adapter "
                              f"(missing {sorted(set(current) - set(adapter))[:3]}, "
                              f"unexpected {sorted(set(adapter) - set(current))[:3]})")
    bad = [k for k in current if tuple(current[k].shape) != tuple(adapter[k].shape)]
    if bad:
        raise CheckpointError(f"{ADAPTER_WEIGHTS}: shape mismatch in {bad[:3]}")
    nonfinite = [k for k, v in adapter.items() if not torch.isfinite(v).all()]
    if nonfinite:
        raise CheckpointError(f"{ADAPTER_WEIGHTS}: non-finite values in {nonfinite[:3]}")
