"""The manifest of a stored state and the checks a state passes before anything is loaded from it:
format, checksums, the look-ahead guard, the identity settings and the base weights."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

import pandas as pd
import torch


class CheckpointError(RuntimeError):
    """A stored state cannot be used; the message says which file and why."""


def tensor_digest(tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 over names, dtypes, shapes and raw bytes, in name order: equal iff the tensors are."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors, key=lambda item: item[0]):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}\n".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def sign(files: dict[str, bytes], manifest_name: str, manifest: dict[str, Any]) -> dict[str, bytes]:
    """``files`` plus the manifest, which records each file's SHA-256."""
    manifest = dict(manifest, sha256={name: hashlib.sha256(data).hexdigest() for name, data in files.items()})
    return dict(files, **{manifest_name: json.dumps(manifest, indent=1, sort_keys=True, default=str).encode()})


def verified_manifest(files: dict[str, bytes], manifest_name: str, payload: Iterable[str],
                      format_version: int) -> dict[str, Any]:
    """The manifest, once its format is this code's and every file it lists -- and every name in
    ``payload``, which must be among them -- has the recorded SHA-256."""
    try:
        manifest = json.loads(files[manifest_name])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{manifest_name} missing or not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != format_version:
        raise CheckpointError(f"{manifest_name}: format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                              f", this code reads format {format_version}")
    recorded = manifest.get("sha256")
    listed: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    for name in sorted(set(payload) | set(listed)):
        digest = hashlib.sha256(files.get(name, b"")).hexdigest()
        if name not in files or digest != listed.get(name):
            raise CheckpointError(f"{name}: content does not match the manifest's checksum (missing, corrupted, "
                                  "not covered by the manifest, or written by an interrupted save)")
    return manifest


def check_not_after(manifest: dict[str, Any], not_after: Any, manifest_name: str) -> None:
    """Refuse a state trained on returns after ``not_after`` (the run's first decision): look-ahead."""
    if not_after is None:
        return
    stamp = manifest.get("extra", {}).get("trained_through")
    trained = pd.Timestamp(stamp)
    if pd.isna(trained):
        raise CheckpointError(f"{manifest_name} does not say up to when it learned (extra.trained_through), so it "
                              "cannot be shown free of look-ahead")
    if isinstance(stamp, str) and len(stamp.strip()) == 10:
        # a date alone (offline pre-training) means "through that day's bar", which is seen at its 16:00 close: a
        # run whose first decision is that morning must not use it
        trained += pd.Timedelta(hours=16)
    if trained > pd.Timestamp(not_after):
        raise CheckpointError(f"it learned from returns up to {trained}, after this run starts ({not_after}); "
                              "resuming would be look-ahead. Start the run after that date to continue it, or "
                              "set fresh_start")


def check_identity(manifest: dict[str, Any], current: dict[str, Any], manifest_name: str) -> None:
    """Refuse a state saved under other identity settings (those its tensors depend on), naming each
    setting that differs."""
    stored = manifest.get("identity")
    if stored == current:
        return
    flat_stored, flat_current = _flatten(stored), _flatten(current)
    names = sorted(name for name in set(flat_stored) | set(flat_current)
                   if flat_stored.get(name, "(absent)") != flat_current.get(name, "(absent)"))
    absent = "(absent)"
    differing = [f"{name}: stored {flat_stored.get(name, absent)!r}, this run {flat_current.get(name, absent)!r}"
                 for name in names]
    raise CheckpointError(f"{manifest_name}: saved with other settings or another backbone ({'; '.join(differing)})")


def check_base(manifest: dict[str, Any], current: dict[str, Any], manifest_name: str) -> None:
    """Refuse a state trained on other base weights: it stores only what training changed, so the
    rest must be exactly the weights it was trained on (``current``: model id, source, digest)."""
    stored = manifest.get("base")
    if stored == current:
        return
    if not isinstance(stored, dict):
        raise CheckpointError(f"{manifest_name} does not record the base weights it was trained on")
    raise CheckpointError(
        f"{manifest_name}: trained on other base weights. It holds only the tensors training changed, on top of "
        f"{stored.get('model_id')} ({stored.get('source')}, {stored.get('tensors')} tensors, sha256 "
        f"{str(stored.get('sha256'))[:16]}...); this run's are {current.get('model_id')} ({current.get('source')}, "
        f"{current.get('tensors')} tensors, sha256 {str(current.get('sha256'))[:16]}...). Another checkpoint "
        "revision, another earlier stage or another library version's random initialisation changes them: "
        "rebuild the state on this base (fresh_start, or pre-train again)")


def _flatten(value: Any, name: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {name or "identity": value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(_flatten(item, f"{name}.{key}" if name else str(key)))
    return out
