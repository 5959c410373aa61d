"""What every saved model state shares: the object-store protocol, a manifest with the SHA-256 of
every other file (written last, so an interrupted save reads as corrupted), the look-ahead guard
(``extra.trained_through``), optimizer state as safetensors + JSON, and keeping rejected copies.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import pandas as pd
import torch


class CheckpointError(RuntimeError):
    """A stored checkpoint cannot be used; the message says which file and why."""


@dataclass
class ResumeOutcome:
    """What resuming did; ``rejected``: a stored state was there and not used (the caller logs an error)."""

    resumed: bool
    message: str
    rejected: bool = False
    manifest: dict[str, Any] | None = None


class ObjectStoreLike(Protocol):
    """The part of LEAN's ``ObjectStore`` we use (``self.object_store`` in an algorithm)."""

    def contains_key(self, key: str, /) -> bool: ...
    def read_bytes(self, key: str, /) -> Any: ...
    def save_bytes(self, key: str, data: Any, /) -> bool: ...


def sign(files: dict[str, bytes], manifest_name: str, manifest: dict[str, Any]) -> dict[str, bytes]:
    """``files`` plus the manifest, which records each file's SHA-256."""
    manifest = dict(manifest, sha256={name: hashlib.sha256(data).hexdigest() for name, data in files.items()})
    return dict(files, **{manifest_name: json.dumps(manifest, indent=1, sort_keys=True, default=str).encode()})


def verified_manifest(files: dict[str, bytes], manifest_name: str, payload: Iterable[str],
                      format_version: int) -> dict[str, Any]:
    try:
        manifest = json.loads(files[manifest_name])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{manifest_name} missing or not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != format_version:
        raise CheckpointError(f"{manifest_name}: format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                              f", this code reads format {format_version}")
    for name in payload:
        digest = hashlib.sha256(files.get(name, b"")).hexdigest()
        if digest != manifest.get("sha256", {}).get(name):
            raise CheckpointError(f"{name}: content does not match the manifest's checksum (corrupted or "
                                  "written by an interrupted save)")
    return manifest


def check_not_after(manifest: dict[str, Any], not_after: Any, manifest_name: str) -> None:
    """Refuse a state trained on returns after ``not_after`` (the run's first decision): look-ahead."""
    if not_after is None:
        return
    trained = pd.Timestamp(manifest.get("extra", {}).get("trained_through"))
    if pd.isna(trained):
        raise CheckpointError(f"{manifest_name} does not say up to when it learned (extra.trained_through), so it "
                              "cannot be shown free of look-ahead")
    if trained > pd.Timestamp(not_after):
        raise CheckpointError(f"it learned from returns up to {trained}, after this run starts ({not_after}); "
                              "resuming would be look-ahead. Start the run after that date to continue it, or "
                              "set fresh_start")


def read_present(store: ObjectStoreLike, keys: dict[str, str]) -> dict[str, bytes]:
    """The files among ``keys`` (name -> key) that the store holds."""
    return {name: bytes(store.read_bytes(key)) for name, key in keys.items() if store.contains_key(key)}


def write_all(store: ObjectStoreLike, keys: dict[str, str], files: dict[str, bytes], last: str) -> list[str]:
    """Payload first, ``last`` (the manifest) at the end."""
    order = [name for name in files if name != last] + [last]
    for name in order:
        store.save_bytes(keys[name], files[name])
    return [keys[name] for name in order]


def keep_rejected(store: ObjectStoreLike, prefix: str, stamp: str, files: dict[str, bytes]) -> str:
    kept = f"{prefix}/rejected/{stamp}"
    for name, data in files.items():
        store.save_bytes(f"{kept}/{name}", data)
    return kept


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
                   source: str = "optimizer.json") -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.to(device)
    for index, values in payload.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": payload["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{source}: does not fit this model's optimizer ({exc})") from exc
    if scaler is not None and payload.get("scaler"):
        scaler.load_state_dict(payload["scaler"])
