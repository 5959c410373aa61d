"""Saving and resuming the learner: adapter, projection and head (peft's safetensors format),
optimizer and scaler state, and a manifest; never the base model, never pickle.

What a checkpoint holds is declared in :data:`CHECKPOINT`; generations, the pointer, the writer's
lock, the look-ahead guard and rejection are :mod:`models.stored_state`'s. The manifest
(``learner.json``) holds the SHA-256 of every other file, the settings the adapter depends on
(``identity``) and the SHA-256 of the frozen base weights under the adapter (``base``), so an adapter
is loaded only onto the exact Chronos weights it was trained on. A checkpoint that is corrupted, or was
trained with other settings, on another backbone or after the run starts, is never loaded and never
deleted without a copy under ``<prefix>/rejected/<stamp>/``. Resuming restores the optimizer's state
and keeps this run's configured lr and weight decay (:mod:`models.stored_state.optimizer`).

Size with the defaults (chronos-t5-large, LoRA r 8 on q, k, v, o of the 24 encoder blocks, projection,
head): 1,617,921 trained parameters, about 6.5 MB of adapter and 13 MB of AdamW moments
(``tests/test_object_store_sizes.py``), plus the replay buffer (:mod:`.replay`: features as float16,
about 176 kB per replayed month of 100 stocks; empty with the default ``replay_months=0``); while a new
generation is written the previous one is kept, so saving needs room for two.
"""
from __future__ import annotations

import json
import tempfile
import weakref
from pathlib import Path
from typing import Any

import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..stored_state import (CheckpointError, ObjectStoreLike, ResumeOutcome, StateKind, StoredState, check_base,
                            check_identity, load_optimizer, optimizer_payload, tensor_digest)
from .learner import OnlineAllocator
from .replay import REPLAY_STATE, REPLAY_TENSORS

FORMAT_VERSION = 2  # 2: the manifest records the base weights' digest
MANIFEST = "learner.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_STATE = "optimizer.json"
PAYLOAD = (ADAPTER_WEIGHTS, ADAPTER_CONFIG, OPTIMIZER_TENSORS, OPTIMIZER_STATE)
REPLAY = (REPLAY_TENSORS, REPLAY_STATE)  # optional: checkpoints written before the replay buffer lack them
CHECKPOINT = StateKind(name="checkpoint", manifest=MANIFEST, files=PAYLOAD, format_version=FORMAT_VERSION,
                       optional=REPLAY,
                       # format 2 wrote in place (it had no replay files; mapping them too costs nothing)
                       legacy=tuple((name, name) for name in PAYLOAD + REPLAY + (MANIFEST,)))
_BASE_DIGESTS: "weakref.WeakKeyDictionary[OnlineAllocator, dict[str, Any]]" = weakref.WeakKeyDictionary()


def checkpoint_state(store: ObjectStoreLike, prefix: str) -> StoredState:
    """The checkpoint under ``prefix``: an algorithm keeps one for its run and ``hold``s its lock."""
    return StoredState(store, prefix, CHECKPOINT)


def checkpoint_keys(store: ObjectStoreLike, prefix: str) -> dict[str, str]:
    """Object-store key of every file of the published checkpoint ({} when there is none)."""
    return checkpoint_state(store, prefix).current_keys()


# --- bytes <-> learner ---
def checkpoint_files(learner: OnlineAllocator, extra: dict[str, Any] | None = None) -> dict[str, bytes]:
    """Every file of a checkpoint as bytes, the manifest last."""
    with tempfile.TemporaryDirectory() as tmp:
        learner.model.save_pretrained(tmp)  # peft: adapter_model.safetensors + adapter_config.json
        files = {name: (Path(tmp) / name).read_bytes() for name in (ADAPTER_WEIGHTS, ADAPTER_CONFIG)}
    tensors, state = optimizer_payload(learner.optimizer, learner.scaler)
    files[OPTIMIZER_TENSORS] = save_safetensors(tensors)
    files[OPTIMIZER_STATE] = json.dumps(state, sort_keys=True).encode()
    files |= learner.replay.files()
    return CHECKPOINT.sign(files, {"identity": _identity(learner), "learner": learner.describe(),
                                   "extra": extra or {}, "base": base_description(learner)})


def base_description(learner: OnlineAllocator) -> dict[str, Any]:
    """Model id, weights source and SHA-256 of the frozen tensors (everything but the adapter and the
    trained copies of projection and head). They never change, so the digest is computed once."""
    if learner not in _BASE_DIGESTS:
        frozen = [(n, p) for n, p in learner.model.named_parameters() if not p.requires_grad]
        _BASE_DIGESTS[learner] = {"model_id": learner.weights_info.model_id, "source": learner.weights_info.source,
                                  "tensors": len(frozen), "sha256": tensor_digest(frozen)}
    return dict(_BASE_DIGESTS[learner])


def restore_files(learner: OnlineAllocator, files: dict[str, bytes]) -> dict[str, Any]:
    """Check a checkpoint's files completely and load them into ``learner`` (outside the object store,
    e.g. from a folder); raises :class:`CheckpointError` without touching it on any doubt."""
    manifest = CHECKPOINT.verify(files)
    check_identity(manifest, _identity(learner), MANIFEST)
    check_base(manifest, base_description(learner), MANIFEST)
    _restore(learner, files, manifest)
    return manifest


def _restore(learner: OnlineAllocator, files: dict[str, bytes], manifest: dict[str, Any]) -> list[str]:
    """Load checked files: the optimizer first (it refuses a misfit before changing anything), then the
    adapter and the counters. Returns the optimizer settings the configured ones replaced."""
    try:
        adapter = load_safetensors(files[ADAPTER_WEIGHTS])
        optimizer_tensors = load_safetensors(files[OPTIMIZER_TENSORS])
        optimizer_state = json.loads(files[OPTIMIZER_STATE])
        counters = {name: int(manifest["learner"][name]) for name in ("months_learned", "steps_taken",
                                                                       "steps_skipped")}
        replay = learner.replay.loaded(files, learner.device)
    except Exception as exc:
        raise CheckpointError(f"unreadable checkpoint payload: {type(exc).__name__}: {exc}") from exc
    _check_adapter_shapes(learner, adapter)
    changes = load_optimizer(learner.optimizer, optimizer_tensors, optimizer_state, learner.device, learner.scaler)
    set_peft_model_state_dict(learner.model, adapter)
    learner.replay = replay
    for name, value in counters.items():
        setattr(learner, name, value)
    return [f"optimizer: {change} (this run's setting is used)" for change in changes]


# --- object store ---
def save_checkpoint(state: StoredState, learner: OnlineAllocator, extra: dict[str, Any] | None = None) -> list[str]:
    """Publish a new generation of the checkpoint; returns the keys written.
    :class:`~models.stored_state.ObjectStoreSaveError` when the store refuses a file (key and size); the
    previous generation then stays the published one."""
    return state.publish(checkpoint_files(learner, extra))


def resume_checkpoint(state: StoredState, learner: OnlineAllocator, stamp: str, not_after: Any = None) -> ResumeOutcome:
    """Resume when a usable checkpoint is published; otherwise start fresh and say why.

    ``not_after``: the first decision time of this run. A checkpoint trained on returns after it
    (e.g. the end of an earlier backtest over the same years) would be look-ahead and is refused.
    A rejected checkpoint is copied to ``<prefix>/rejected/<stamp>/`` before anything can
    delete it; ``stamp`` must be a key-safe string (e.g. ``20180102T000000``). Resume semantics:
    :mod:`models.stored_state.optimizer` (stored moments and steps, configured hyperparameters).
    """
    outcome = state.load(stamp, lambda files, manifest: _restore(learner, files, manifest),
                         identity=_identity(learner), base=lambda: base_description(learner), not_after=not_after)
    if outcome.resumed:
        outcome.message = (f"resumed from '{state.prefix}/' after {learner.months_learned} monthly updates "
                           f"({outcome.message})")
    return outcome


def save_to_store(store: ObjectStoreLike, prefix: str, learner: OnlineAllocator,
                  extra: dict[str, Any] | None = None) -> list[str]:
    """:func:`save_checkpoint` for a one-off save (it takes the writer's lock for the save only)."""
    return save_checkpoint(checkpoint_state(store, prefix), learner, extra)


def resume_from_store(store: ObjectStoreLike, prefix: str, learner: OnlineAllocator, stamp: str,
                      not_after: Any = None) -> ResumeOutcome:
    """:func:`resume_checkpoint` without holding the state for a run."""
    return resume_checkpoint(checkpoint_state(store, prefix), learner, stamp, not_after)


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
