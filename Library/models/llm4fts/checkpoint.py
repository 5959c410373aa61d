"""Saved states of the ranker in LEAN's object store: safetensors + JSON only, manifest last.

Two kinds, both under ``storage/`` locally (LEAN's object store):
- the **pre-trained artifact** ``<prefix>/sipr.json`` + ``<prefix>/stage1/{model.safetensors,stage1.json}``,
  written by ``scripts/pretrain_llm4fts.py`` (or the algorithm with ``pretrain=auto``);
- the **running state** ``<prefix>/{model,optimizer}.safetensors``, ``optimizer.json``, ``ranker.json``,
  written monthly by the algorithm so a later backtest resumes it.
"""
from __future__ import annotations

import json
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..stored_state import (CheckpointError, ObjectStoreLike, ResumeOutcome, check_not_after, keep_rejected,
                            load_optimizer, optimizer_payload, read_present, sign, verified_manifest, write_all)
from .ranker import LLM4FTSRanker
from .sipr import PatternLibrary

FORMAT_VERSION = 1
MODEL = "model.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_STATE = "optimizer.json"
RUNNING_MANIFEST = "ranker.json"
STAGE1_MANIFEST = "stage1.json"
SIPR = "sipr.json"


def artifact_prefix(config: Any, weights_source: str) -> str:
    """Where one backbone's pre-trained artifact lives (model, layers, width, weights source, seed)."""
    model = config.model_id.replace("/", "_").replace(".", "_")
    width = f"_w{config.gpt_width}" if config.gpt_width else ""
    return f"llm4fts/{model}_l{config.gpt_layers}{width}_{weights_source}_seed{config.seed}"


def state_files(ranker: LLM4FTSRanker, manifest_name: str, extra: dict[str, Any] | None = None,
                with_optimizer: bool = True) -> dict[str, bytes]:
    tensors = {k: v.detach().cpu().contiguous() for k, v in ranker.network.state_dict().items()}
    files = {MODEL: save_safetensors(tensors)}
    if with_optimizer:
        optimizer_tensors, optimizer_state = optimizer_payload(ranker.optimizer)
        files[OPTIMIZER_TENSORS] = save_safetensors(optimizer_tensors)
        files[OPTIMIZER_STATE] = json.dumps(optimizer_state, sort_keys=True).encode()
    return sign(files, manifest_name, {"format": FORMAT_VERSION, "identity": _identity(ranker),
                                       "ranker": ranker.describe(), "extra": extra or {}})


def restore_files(ranker: LLM4FTSRanker, files: dict[str, bytes], manifest_name: str) -> dict[str, Any]:
    """Load into ``ranker``; raises :class:`CheckpointError` before touching it on any doubt."""
    payload = [name for name in (MODEL, OPTIMIZER_TENSORS, OPTIMIZER_STATE) if name in files]
    manifest = verified_manifest(files, manifest_name, payload, FORMAT_VERSION)
    if manifest.get("identity") != _identity(ranker):
        raise CheckpointError(f"{manifest_name}: saved with other settings or another backbone (stored "
                              f"{manifest.get('identity')}, current {_identity(ranker)})")
    try:
        tensors = load_safetensors(files[MODEL])
    except Exception as exc:
        raise CheckpointError(f"{MODEL}: unreadable ({type(exc).__name__}: {exc})") from exc
    current = ranker.network.state_dict()
    if set(tensors) != set(current) or any(tensors[k].shape != current[k].shape for k in current):
        raise CheckpointError(f"{MODEL}: tensors do not match this network")
    if not all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point()):
        raise CheckpointError(f"{MODEL}: non-finite values")
    ranker.network.load_state_dict(tensors)
    if OPTIMIZER_TENSORS in files:
        load_optimizer(ranker.optimizer, load_safetensors(files[OPTIMIZER_TENSORS]),
                       json.loads(files[OPTIMIZER_STATE]), ranker.device)
    counters = manifest.get("ranker", {})
    ranker.stage = str(counters.get("stage", ranker.stage))
    for name in ("months_learned", "steps_taken", "steps_skipped"):
        setattr(ranker, name, int(counters.get(name, 0)))
    ranker.pretrain_steps_done = int(counters.get("pretrain_steps", 0))
    return manifest


# --- the running state ---
def running_keys(prefix: str) -> dict[str, str]:
    return {name: f"{prefix}/{name}" for name in (MODEL, OPTIMIZER_TENSORS, OPTIMIZER_STATE, RUNNING_MANIFEST)}


def save_running(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, extra: dict[str, Any]) -> list[str]:
    return write_all(store, running_keys(prefix), state_files(ranker, RUNNING_MANIFEST, extra), RUNNING_MANIFEST)


def resume_running(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, stamp: str,
                   not_after: Any = None) -> ResumeOutcome:
    """Resume a usable running state; a rejected one is kept under ``<prefix>/rejected/<stamp>/``."""
    keys = running_keys(prefix)
    files = read_present(store, keys)
    if not files:
        return ResumeOutcome(False, f"no running state under '{prefix}/': starting from the pre-trained weights")
    try:
        if set(files) != set(keys):
            raise CheckpointError(f"incomplete state: missing {sorted(set(keys) - set(files))}")
        payload = (MODEL, OPTIMIZER_TENSORS, OPTIMIZER_STATE)
        check_not_after(verified_manifest(files, RUNNING_MANIFEST, payload, FORMAT_VERSION), not_after,
                        RUNNING_MANIFEST)
        restore_files(ranker, files, RUNNING_MANIFEST)
    except CheckpointError as exc:
        kept = keep_rejected(store, prefix, stamp, files)
        return ResumeOutcome(False, f"state under '{prefix}/' not used: {exc}. The rejected files are kept "
                                    f"under '{kept}/'", rejected=True)
    return ResumeOutcome(True, f"resumed from '{prefix}/' after {ranker.months_learned} monthly updates")


# --- the pre-trained artifact ---
def save_pretrained(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, extra: dict[str, Any]) -> list[str]:
    """SIPR library and stage-1 weights (no optimizer: stage 2 starts its own)."""
    written = []
    if ranker.library is not None:
        store.save_bytes(f"{prefix}/{SIPR}", ranker.library.to_json())
        written.append(f"{prefix}/{SIPR}")
    keys = {name: f"{prefix}/stage1/{name}" for name in (MODEL, STAGE1_MANIFEST)}
    return written + write_all(store, keys, state_files(ranker, STAGE1_MANIFEST, extra, with_optimizer=False),
                               STAGE1_MANIFEST)


def load_library(store: ObjectStoreLike, prefix: str) -> PatternLibrary | None:
    key = f"{prefix}/{SIPR}"
    return PatternLibrary.from_json(bytes(store.read_bytes(key)), key) if store.contains_key(key) else None


def load_stage1(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, not_after: Any = None) -> dict[str, Any] | None:
    """Stage-1 weights into ``ranker``; ``None`` when absent; :class:`CheckpointError` when unusable."""
    keys = {name: f"{prefix}/stage1/{name}" for name in (MODEL, STAGE1_MANIFEST)}
    files = read_present(store, keys)
    if not files:
        return None
    if set(files) != set(keys):
        raise CheckpointError(f"incomplete stage-1 artifact under '{prefix}/stage1/'")
    check_not_after(verified_manifest(files, STAGE1_MANIFEST, (MODEL,), FORMAT_VERSION), not_after, STAGE1_MANIFEST)
    return restore_files(ranker, files, STAGE1_MANIFEST)


def _identity(ranker: LLM4FTSRanker) -> dict[str, Any]:
    return json.loads(json.dumps({"config": ranker.config.identity(), "backbone": ranker.weights_info.identity()},
                                 sort_keys=True, default=str))
