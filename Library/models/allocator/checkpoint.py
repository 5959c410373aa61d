"""Saving and resuming the learner: adapter, projection and head (peft's safetensors format),
optimizer and scaler state, and a manifest; never the base model, never pickle.

The manifest (``learner.json``) is written last and holds the SHA-256 of every other file, so a
save interrupted half-way reads as corrupted rather than as a mix of two months. A checkpoint
that is corrupted, or was trained with other settings or another backbone, is never loaded and
never silently overwritten: it is copied under ``<prefix>/rejected/<stamp>/`` first and the
caller gets a message saying so.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .learner import OnlineAllocator

FORMAT_VERSION = 1
MANIFEST = "learner.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_STATE = "optimizer.json"
PAYLOAD = (ADAPTER_WEIGHTS, ADAPTER_CONFIG, OPTIMIZER_TENSORS, OPTIMIZER_STATE)


class CheckpointError(RuntimeError):
    """A stored checkpoint cannot be used; the message says which file and why."""


class ObjectStoreLike(Protocol):
    """The part of LEAN's ``ObjectStore`` we use (``self.object_store`` in an algorithm)."""

    def contains_key(self, key: str, /) -> bool: ...
    def read_bytes(self, key: str, /) -> Any: ...
    def save_bytes(self, key: str, data: Any, /) -> bool: ...


def checkpoint_keys(prefix: str) -> dict[str, str]:
    """Object-store key of every checkpoint file (LEAN's key rule: one dot, no spaces needed)."""
    return {name: f"{prefix}/{name}" for name in PAYLOAD + (MANIFEST,)}


# --- bytes <-> learner ---
def checkpoint_files(learner: OnlineAllocator, extra: dict[str, Any] | None = None) -> dict[str, bytes]:
    """Every file of a checkpoint as bytes, the manifest last."""
    with tempfile.TemporaryDirectory() as tmp:
        learner.model.save_pretrained(tmp)  # peft: adapter_model.safetensors + adapter_config.json
        files = {name: (Path(tmp) / name).read_bytes() for name in (ADAPTER_WEIGHTS, ADAPTER_CONFIG)}
    tensors, state = _optimizer_payload(learner)
    files[OPTIMIZER_TENSORS] = save_safetensors(tensors)
    files[OPTIMIZER_STATE] = json.dumps(state, sort_keys=True).encode()
    manifest = {"format": FORMAT_VERSION, "identity": _identity(learner), "learner": learner.describe(),
                "sha256": {name: hashlib.sha256(files[name]).hexdigest() for name in PAYLOAD},
                "extra": extra or {}}
    files[MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True, default=str).encode()
    return files


def restore_files(learner: OnlineAllocator, files: dict[str, bytes]) -> dict[str, Any]:
    """Load a checkpoint into ``learner``; raises :class:`CheckpointError` without touching it on any doubt."""
    manifest = _verified_manifest(files)
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
    _load_optimizer(learner, optimizer_tensors, optimizer_state)
    counters = manifest["learner"]
    learner.months_learned = int(counters["months_learned"])
    learner.steps_taken = int(counters["steps_taken"])
    learner.steps_skipped = int(counters["steps_skipped"])
    return manifest


# --- object store ---
def save_to_store(store: ObjectStoreLike, prefix: str, learner: OnlineAllocator,
                  extra: dict[str, Any] | None = None) -> list[str]:
    """Write a checkpoint (payload first, manifest last); returns the keys written."""
    keys = checkpoint_keys(prefix)
    files = checkpoint_files(learner, extra)
    for name in PAYLOAD + (MANIFEST,):
        store.save_bytes(keys[name], files[name])
    return [keys[name] for name in PAYLOAD + (MANIFEST,)]


@dataclass
class ResumeOutcome:
    resumed: bool
    message: str
    rejected: bool = False  # a checkpoint was there and was not used: the caller should log an error
    manifest: dict[str, Any] | None = None


def resume_from_store(store: ObjectStoreLike, prefix: str, learner: OnlineAllocator, stamp: str,
                      not_after: Any = None) -> ResumeOutcome:
    """Resume when a usable checkpoint exists; otherwise start fresh and say why.

    ``not_after``: the first decision time of this run. A checkpoint trained on returns after it
    (e.g. the end of an earlier backtest over the same years) would be look-ahead and is refused.
    A rejected checkpoint is copied to ``<prefix>/rejected/<stamp>/`` before anything can
    overwrite it; ``stamp`` must be a key-safe string (e.g. ``20180102T000000``).
    """
    keys = checkpoint_keys(prefix)
    present = {name: key for name, key in keys.items() if store.contains_key(key)}
    if not present:
        return ResumeOutcome(False, f"no checkpoint under '{prefix}/': starting fresh")
    files = {name: bytes(store.read_bytes(key)) for name, key in present.items()}
    try:
        if set(present) != set(keys):
            raise CheckpointError(f"incomplete checkpoint: missing {sorted(set(keys) - set(present))}")
        _check_not_after(_verified_manifest(files), not_after)
        manifest = restore_files(learner, files)
    except CheckpointError as exc:
        kept = f"{prefix}/rejected/{stamp}"
        for name, data in files.items():
            store.save_bytes(f"{kept}/{name}", data)
        return ResumeOutcome(False, f"checkpoint under '{prefix}/' not used: {exc}. Starting fresh; the rejected "
                                    f"files are kept under '{kept}/'", rejected=True)
    return ResumeOutcome(True, f"resumed from '{prefix}/' after {learner.months_learned} monthly updates",
                         manifest=manifest)


def _check_not_after(manifest: dict[str, Any], not_after: Any) -> None:
    if not_after is None:
        return
    trained = pd.Timestamp(manifest.get("extra", {}).get("trained_through"))
    if pd.isna(trained):
        raise CheckpointError(f"{MANIFEST} does not say up to when it learned (extra.trained_through), so it "
                              "cannot be shown free of look-ahead")
    if trained > pd.Timestamp(not_after):
        raise CheckpointError(f"it learned from returns up to {trained}, after this run starts ({not_after}); "
                              "resuming would be look-ahead. Start the run after that date to continue it, or "
                              "set fresh_start")


# --- internals ---
def _identity(learner: OnlineAllocator) -> dict[str, Any]:
    return json.loads(json.dumps({"config": learner.config.identity(), "backbone": learner.weights_info.identity()},
                                 sort_keys=True, default=str))


def _verified_manifest(files: dict[str, bytes]) -> dict[str, Any]:
    try:
        manifest = json.loads(files[MANIFEST])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{MANIFEST} missing or not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{MANIFEST}: format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                              f", this code reads format {FORMAT_VERSION}")
    for name in PAYLOAD:
        digest = hashlib.sha256(files.get(name, b"")).hexdigest()
        if digest != manifest.get("sha256", {}).get(name):
            raise CheckpointError(f"{name}: content does not match the manifest's checksum (corrupted or "
                                  "written by an interrupted save)")
    return manifest


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


def _optimizer_payload(learner: OnlineAllocator) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = learner.optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars,
                     "scaler": {k: v for k, v in learner.scaler.state_dict().items()}}


def _load_optimizer(learner: OnlineAllocator, tensors: dict[str, torch.Tensor], payload: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.to(learner.device)
    for index, values in payload.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    try:
        learner.optimizer.load_state_dict({"state": state, "param_groups": payload["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{OPTIMIZER_STATE}: does not fit this model's optimizer ({exc})") from exc
    if payload.get("scaler"):
        learner.scaler.load_state_dict(payload["scaler"])
