"""Saved states of the ranker in LEAN's object store: safetensors + JSON only, manifest last.

Two kinds, declared here (:data:`STAGE1_ARTIFACT`, :data:`RUNNING_STATE`); generations, the pointer,
the writer's lock, the look-ahead guard and rejection are :mod:`models.stored_state`'s:

- the **pre-trained artifact** under ``llm4fts/<backbone>_seed<seed>/``: the stage-1 weights
  (``model.safetensors``) and the SIPR pattern library (``sipr.json``) that planned their patches,
  under ONE manifest (``stage1.json``: the SHA-256 of both, ``use_sipr`` among the identity settings,
  ``trained_through`` covering the library's data too), written by ``scripts/pretrain_llm4fts.py`` or
  by the algorithm with ``pretrain=auto``;
- the **running state** under ``llm4fts_ranker/...``: ``model.safetensors``, ``optimizer.safetensors``,
  ``optimizer.json``, ``ranker.json``, written monthly by the algorithm so a later backtest resumes it.

Each holds only the tensors its stage trains (``LLM4FTSNetwork.stored_keys``): the stage-1 artifact
``pretrain_layers``' GPT-2 tensors plus the network outside GPT-2, the running state ``finetune_layers``'
(layer norms and position embeddings by default) plus the same. Everything else is the base it was
trained on -- GPT-2's weights for stage 1, GPT-2 with the stage-1 weights for the running state -- and the
manifest records its SHA-256 (``base``), so a state is loaded only onto exactly the weights it was
trained on. Resuming restores the optimizer's state and keeps this run's configured lr and weight
decay (:mod:`models.stored_state.optimizer`).

Sizes with the defaults (openai-community/gpt2, 6 layers, ``tests/test_object_store_sizes.py``): running
state 1.3 MB (107,569 parameters, their two Adam moments); stage-1 artifact 170.5 MB with
``pretrain_layers=all`` (42.6M parameters: the six blocks, as aLLM4TS pre-trains them) or 0.43 MB with
``ln_wpe``. QuantConnect Cloud's free 50 MB holds the latter only. A new generation is written beside the
published one, so a save needs room for two.
"""
from __future__ import annotations

import json
import weakref
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..stored_state import (CheckpointError, ObjectStoreLike, ResumeOutcome, StateKind, StoredState, check_base,
                            check_identity, load_optimizer, optimizer_payload, tensor_digest)
from .ranker import LLM4FTSRanker
from .sipr import PatternLibrary

FORMAT_VERSION = 3  # 1: whole network; 2: what training changes; 3: sipr.json under the manifest, use_sipr in identity
MODEL = "model.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_STATE = "optimizer.json"
RUNNING_MANIFEST = "ranker.json"
STAGE1_MANIFEST = "stage1.json"
SIPR = "sipr.json"
STAGE1, RUNNING = "pretrain_layers", "finetune_layers"  # which setting says what a kind of state holds
STAGE1_ARTIFACT = StateKind(name="stage-1 artifact", manifest=STAGE1_MANIFEST, files=(MODEL,),
                            format_version=FORMAT_VERSION, optional=(SIPR,),
                            legacy=((MODEL, f"stage1/{MODEL}"), (STAGE1_MANIFEST, f"stage1/{STAGE1_MANIFEST}"),
                                    (SIPR, SIPR)))
RUNNING_STATE = StateKind(name="running state", manifest=RUNNING_MANIFEST,
                          files=(MODEL, OPTIMIZER_TENSORS, OPTIMIZER_STATE), format_version=FORMAT_VERSION,
                          legacy=tuple((name, name) for name in (MODEL, OPTIMIZER_TENSORS, OPTIMIZER_STATE,
                                                                 RUNNING_MANIFEST)))
_BASE_DIGESTS: "weakref.WeakKeyDictionary[LLM4FTSRanker, dict[tuple[str, int], str]]" = weakref.WeakKeyDictionary()


def artifact_prefix(config: Any, weights_source: str) -> str:
    """Where one backbone's pre-trained artifact lives (model, layers, width, weights source, seed)."""
    model = config.model_id.replace("/", "_").replace(".", "_")
    width = f"_w{config.gpt_width}" if config.gpt_width else ""
    return f"llm4fts/{model}_l{config.gpt_layers}{width}_{weights_source}_seed{config.seed}"


def stage1_state(store: ObjectStoreLike, prefix: str) -> StoredState:
    return StoredState(store, prefix, STAGE1_ARTIFACT)


def running_state(store: ObjectStoreLike, prefix: str) -> StoredState:
    """The running state under ``prefix``: an algorithm keeps one for its run and ``hold``s its lock."""
    return StoredState(store, prefix, RUNNING_STATE)


# --- what a state holds, and the base under it ---
def stored_tensors(ranker: LLM4FTSRanker, setting: str) -> dict[str, torch.Tensor]:
    """The tensors a state of this kind holds (``setting``: ``STAGE1`` or ``RUNNING``), on the CPU."""
    keys = ranker.network.stored_keys(getattr(ranker.config, setting))
    return {k: v.detach().cpu().contiguous() for k, v in ranker.network.state_dict().items() if k in keys}


def base_description(ranker: LLM4FTSRanker, setting: str) -> dict[str, Any]:
    """Model id, weights source and SHA-256 of every tensor such a state does not hold. Those tensors do
    not change while the stage trains, so the digest is cached per stage-1 step count."""
    layers = getattr(ranker.config, setting)
    cache = _BASE_DIGESTS.setdefault(ranker, {})
    keys = ranker.network.stored_keys(layers)
    rest = [(k, v) for k, v in ranker.network.state_dict().items() if k not in keys]
    marker = (layers, ranker.pretrain_steps_done)
    if marker not in cache:
        cache[marker] = tensor_digest(rest)
    return {"model_id": ranker.weights_info.model_id, "source": ranker.weights_info.source, "tensors": len(rest),
            "sha256": cache[marker]}


def state_files(ranker: LLM4FTSRanker, manifest_name: str, setting: str, extra: dict[str, Any] | None = None,
                with_optimizer: bool = True) -> dict[str, bytes]:
    """Every file of a state as bytes, the manifest last. The stage-1 artifact (``STAGE1_MANIFEST``)
    holds the pattern library too, and its ``trained_through`` is the later of the given one and the
    library's ``fitted_on["end"]``: the look-ahead guard covers everything the artifact learned from."""
    kind = STAGE1_ARTIFACT if manifest_name == STAGE1_MANIFEST else RUNNING_STATE
    tensors = stored_tensors(ranker, setting)
    files = {MODEL: save_safetensors(tensors)}
    extra = dict(extra or {})
    if kind is STAGE1_ARTIFACT and ranker.config.use_sipr and ranker.library is not None:
        files[SIPR] = ranker.library.to_json()
        extra["sipr_fitted_on"] = ranker.library.fitted_on
        extra["trained_through"] = _later(extra.get("trained_through"), ranker.library.fitted_on.get("end"))
    if with_optimizer:
        optimizer_tensors, optimizer_state = optimizer_payload(ranker.optimizer)
        files[OPTIMIZER_TENSORS] = save_safetensors(optimizer_tensors)
        files[OPTIMIZER_STATE] = json.dumps(optimizer_state, sort_keys=True).encode()
    trained = {"setting": setting, "layers": getattr(ranker.config, setting), "tensors": len(tensors),
               "parameters": sum(t.numel() for t in tensors.values())}
    return kind.sign(files, {"identity": _identity(ranker), "ranker": ranker.describe(), "extra": extra,
                             "trained": trained, "base": base_description(ranker, setting)})


def restore_files(ranker: LLM4FTSRanker, files: dict[str, bytes], manifest_name: str,
                  setting: str = RUNNING) -> dict[str, Any]:
    """Check a state's files completely and load them into ``ranker`` (outside the object store);
    raises :class:`CheckpointError` before touching it on any doubt."""
    kind = STAGE1_ARTIFACT if manifest_name == STAGE1_MANIFEST else RUNNING_STATE
    manifest = kind.verify(files)
    check_identity(manifest, _identity(ranker), manifest_name)
    check_base(manifest, base_description(ranker, setting), manifest_name)
    _restore(ranker, files, manifest, setting)
    return manifest


def _restore(ranker: LLM4FTSRanker, files: dict[str, bytes], manifest: dict[str, Any], setting: str) -> list[str]:
    """Load checked files: everything is read and checked first, the optimizer (which refuses a misfit
    before changing anything) is loaded before the weights. Returns what the configured settings replaced."""
    layers = getattr(ranker.config, setting)
    stored_layers = manifest.get("trained", {}).get("layers")
    if stored_layers != layers:
        raise CheckpointError(f"holds the tensors of {setting}={stored_layers}, this run's {setting} is {layers}")
    tensors = _tensors(files[MODEL], ranker, setting)
    library = _library(files, ranker) if setting == STAGE1 else ranker.library
    changes: list[str] = []
    if OPTIMIZER_TENSORS in files:
        changes = load_optimizer(ranker.optimizer, load_safetensors(files[OPTIMIZER_TENSORS]),
                                 json.loads(files[OPTIMIZER_STATE]), ranker.device)
    ranker.network.load_state_dict(tensors, strict=False)  # the keys were checked: exactly the stored ones
    ranker.library = library
    _BASE_DIGESTS.pop(ranker, None)  # the weights under a later state may have changed
    counters = manifest.get("ranker", {})
    ranker.stage = str(counters.get("stage", ranker.stage))
    for name in ("months_learned", "steps_taken", "steps_skipped"):
        setattr(ranker, name, int(counters.get(name, 0)))
    ranker.pretrain_steps_done = int(counters.get("pretrain_steps", 0))
    through = counters.get("finetuned_through")
    ranker.finetuned_through = None if setting == STAGE1 or through is None else str(through)
    ranker.prediction_cache.clear()
    ranker._plans.clear()
    if setting == STAGE1:  # stage 1 never trains the score head: stage 2 starts from the configured init
        ranker.network.reset_score_head(ranker.config.head_init, ranker.config.seed)
    return [f"optimizer: {change} (this run's setting is used)" for change in changes]


def _tensors(data: bytes, ranker: LLM4FTSRanker, setting: str) -> dict[str, torch.Tensor]:
    """The stored tensors, checked against what this network stores for ``setting``."""
    try:
        tensors = load_safetensors(data)
    except Exception as exc:
        raise CheckpointError(f"{MODEL}: unreadable ({type(exc).__name__}: {exc})") from exc
    current = ranker.network.state_dict()
    expected = ranker.network.stored_keys(getattr(ranker.config, setting))
    if set(tensors) != expected or any(tensors[k].shape != current[k].shape for k in expected):
        raise CheckpointError(f"{MODEL}: tensors do not match this network (missing "
                              f"{sorted(expected - set(tensors))[:3]}, unexpected {sorted(set(tensors) - expected)[:3]})")
    if not all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point()):
        raise CheckpointError(f"{MODEL}: non-finite values")
    return tensors


def _library(files: dict[str, bytes], ranker: LLM4FTSRanker) -> PatternLibrary | None:
    """The artifact's pattern library: the one its stage-1 weights were trained with (use_sipr)."""
    if not ranker.config.use_sipr:
        return None
    if SIPR not in files:
        raise CheckpointError(f"use_sipr is on and the artifact holds no {SIPR}")
    try:
        return PatternLibrary.from_json(files[SIPR], SIPR)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from exc


# --- the running state ---
def save_running_state(state: StoredState, ranker: LLM4FTSRanker, extra: dict[str, Any]) -> list[str]:
    """Publish a new generation of the running state; :class:`~models.stored_state.ObjectStoreSaveError`
    when the store refuses a file (the previous generation then stays the published one)."""
    return state.publish(state_files(ranker, RUNNING_MANIFEST, RUNNING, extra))


def resume_running_state(state: StoredState, ranker: LLM4FTSRanker, stamp: str,
                         not_after: Any = None) -> ResumeOutcome:
    """Resume a usable running state (on top of the stage-1 weights already in ``ranker``); a rejected
    one is kept under ``<prefix>/rejected/<stamp>/``."""
    outcome = state.load(stamp, lambda files, manifest: _restore(ranker, files, manifest, RUNNING),
                         identity=_identity(ranker), base=lambda: base_description(ranker, RUNNING),
                         not_after=not_after, fallback="starting from the pre-trained weights")
    if outcome.resumed:
        outcome.message = (f"resumed from '{state.prefix}/' after {ranker.months_learned} monthly updates "
                           f"({outcome.message})")
    return outcome


def save_running(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, extra: dict[str, Any]) -> list[str]:
    """:func:`save_running_state` for a one-off save (it takes the writer's lock for the save only)."""
    return save_running_state(running_state(store, prefix), ranker, extra)


def resume_running(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, stamp: str,
                   not_after: Any = None) -> ResumeOutcome:
    return resume_running_state(running_state(store, prefix), ranker, stamp, not_after)


# --- the pre-trained artifact ---
def save_stage1(state: StoredState, ranker: LLM4FTSRanker, extra: dict[str, Any]) -> list[str]:
    """Publish stage-1 weights and pattern library as one generation (no optimizer: stage 2 starts its
    own); :class:`~models.stored_state.ObjectStoreSaveError` when the store refuses a file."""
    return state.publish(state_files(ranker, STAGE1_MANIFEST, STAGE1, extra, with_optimizer=False))


def resume_stage1(state: StoredState, ranker: LLM4FTSRanker, stamp: str, not_after: Any = None,
                  fallback: str = "pre-training again") -> ResumeOutcome:
    """Stage-1 weights and, with ``use_sipr``, the pattern library they were trained with into
    ``ranker`` (build it with ``library_pending=True`` when the library is to come from here). A
    refused artifact is copied under ``<prefix>/rejected/<stamp>/`` before anything can replace it."""
    outcome = state.load(stamp, lambda files, manifest: _restore(ranker, files, manifest, STAGE1),
                         identity=_identity(ranker), base=lambda: base_description(ranker, STAGE1),
                         not_after=not_after, fallback=fallback)
    if outcome.resumed:
        through = (outcome.manifest or {}).get("extra", {}).get("trained_through")
        outcome.message = (f"stage-1 artifact loaded from '{state.prefix}/' (trained through {through}; "
                           f"{outcome.message})")
    return outcome


def save_pretrained(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, extra: dict[str, Any]) -> list[str]:
    """:func:`save_stage1` for a one-off save (notebook, ``scripts/pretrain_llm4fts.py``)."""
    return save_stage1(stage1_state(store, prefix), ranker, extra)


def load_stage1(store: ObjectStoreLike, prefix: str, ranker: LLM4FTSRanker, not_after: Any = None,
                stamp: str | None = None) -> dict[str, Any] | None:
    """:func:`resume_stage1` as a value: the manifest, ``None`` when nothing is published, and
    :class:`CheckpointError` (saying where the refused files are kept) when it is unusable."""
    stamp = stamp or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    outcome = resume_stage1(stage1_state(store, prefix), ranker, stamp, not_after)
    if outcome.rejected:
        raise CheckpointError(outcome.message)
    return outcome.manifest if outcome.resumed else None


def _later(first: Any, second: Any) -> Any:
    """The later of two times (``first`` as given when ``second`` is missing or not later)."""
    if second is None or pd.isna(pd.Timestamp(second)):
        return first
    if first is None or pd.isna(pd.Timestamp(first)):
        return str(second)
    naive = [pd.Timestamp(value).tz_localize(None) if pd.Timestamp(value).tzinfo else pd.Timestamp(value)
             for value in (first, second)]
    return str(second) if naive[1] > naive[0] else first


def _identity(ranker: LLM4FTSRanker) -> dict[str, Any]:
    return json.loads(json.dumps({"config": ranker.config.identity(), "backbone": ranker.weights_info.identity()},
                                 sort_keys=True, default=str))
