"""One stored-state mechanism for every model: generations, manifest, look-ahead guard, identity and
base checks, rejection, the writer's lock and the resume semantics of optimizers.

A model declares only what it stores: a :class:`StateKind` (its files, its manifest, its format; earlier
layouts it can still read) and, when loading, its identity settings, its base weights and a function
that puts the checked files into the model. Everything else is here:

- :mod:`.generations`: a save writes a new generation beside the published one and publishes it by
  a pointer written last; a kill at any moment leaves the previous generation loadable (README,
  "Failure and recovery").
- :mod:`.lock`: one live writer per state prefix; a second run is refused, a killed run's lock taken over.
- :mod:`.manifest`: checksums, look-ahead (``extra.trained_through``), identity, base weights.
- :mod:`.optimizer`: stored optimizer state restored, configured hyperparameters kept.
- :mod:`.files`: saves checked against LEAN's quota, large files through ``get_file_path``, persisting.
"""
from __future__ import annotations

from .files import (FREE_CLOUD_QUOTA_BYTES, LARGE_FILE_BYTES, ObjectStoreLike, ObjectStoreSaveError, keep_rejected,
                    listed_keys, persist, read_file, read_present, save_file, total_bytes)
from .generations import PAUSE_AT, PAUSE_MARKER, POINTER, STAGES, ResumeOutcome, StateKind, StoredState
from .lock import LOCK_NAME, PrefixLock, StateInUseError
from .manifest import (CheckpointError, check_base, check_identity, check_not_after, sign, tensor_digest,
                       verified_manifest)
from .optimizer import load_optimizer, optimizer_payload

__all__ = ["FREE_CLOUD_QUOTA_BYTES", "LARGE_FILE_BYTES", "LOCK_NAME", "PAUSE_AT", "PAUSE_MARKER", "POINTER", "STAGES",
           "CheckpointError", "ObjectStoreLike", "ObjectStoreSaveError", "PrefixLock", "ResumeOutcome",
           "StateInUseError", "StateKind", "StoredState", "check_base", "check_identity", "check_not_after",
           "keep_rejected", "listed_keys", "load_optimizer", "optimizer_payload", "persist", "read_file",
           "read_present", "save_file", "sign", "tensor_digest", "total_bytes", "verified_manifest"]
