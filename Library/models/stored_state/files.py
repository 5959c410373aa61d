"""Checked object-store access: saves that raise when LEAN refuses them, reads of large files from their
path, persisting in the order we save, listing, deleting, and copies of rejected states.

Saving follows LEAN (``Lean:Engine/Storage/LocalObjectStore.cs``): over the object-store quota
``SaveBytes`` returns False and LEAN itself only logs (L377-438), so every save here is checked and a
refusal raises :class:`ObjectStoreSaveError` naming the key and the size. Files of
``LARGE_FILE_BYTES`` or more are written to ``get_file_path(key)`` and registered with ``save(key)``
(``Lean:Common/Storage/ObjectStore.cs`` L196-212, the pattern of
``Algorithm.Python/KerasNeuralNetworkAlgorithm.py`` L61-64): pythonnet converts a Python ``bytes``
passed to ``save_bytes`` into ``byte[]`` element by element, and ``read_bytes``' ``byte[]`` back the
same way, so large files are also read from that path.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Protocol

log = logging.getLogger(__name__)
LARGE_FILE_BYTES = 1 << 20
FREE_CLOUD_QUOTA_BYTES = 50 * 1024 * 1024  # QuantConnect Cloud: 50 MB of object store per organization, free
_NOT_SAVED = "Anything saved before this file is in the store, this file and the ones after it are not."


class ObjectStoreSaveError(RuntimeError):
    """The object store refused a file (LEAN: over the organization's storage quota or file count).

    ``consequence``: what the refusal left in the store (the saver knows; by default the plain fact
    that the files before this one are saved and the rest are not)."""

    def __init__(self, key: str, size: int, limit: int | None = None, consequence: str = _NOT_SAVED) -> None:
        quota = f" (this store allows {limit / 1024 / 1024:.1f} MB in all)" if limit else ""
        super().__init__(
            f"the object store refused to save '{key}' ({size:,} bytes, {size / 1024 / 1024:.2f} MB): save returned "
            f"False, which LEAN does when the organization's object-store quota or file count would be exceeded"
            f"{quota}. QuantConnect Cloud gives 50 MB free; delete old keys (lean cloud object-store delete) or "
            f"buy more storage. {consequence}")
        self.key, self.size, self.limit = key, size, limit


class ObjectStoreLike(Protocol):
    """The part of LEAN's ``ObjectStore`` we use (``self.object_store`` in an algorithm)."""

    def contains_key(self, key: str, /) -> bool: ...
    def read_bytes(self, key: str, /) -> Any: ...
    def save_bytes(self, key: str, data: Any, /) -> bool: ...
    def save(self, key: str, /) -> bool: ...
    def get_file_path(self, key: str, /) -> str: ...
    def delete(self, key: str, /) -> bool: ...


def save_file(store: ObjectStoreLike, key: str, data: bytes) -> None:
    """Save ``data`` under ``key`` or raise :class:`ObjectStoreSaveError` (key and size)."""
    if len(data) >= LARGE_FILE_BYTES:
        path = Path(store.get_file_path(key))
        path.write_bytes(data)
        saved = bool(store.save(key))
        if not saved:  # LEAN leaves the written file on disk: remove it rather than keep an unaccounted file
            store.delete(key)
    else:
        saved = bool(store.save_bytes(key, data))
    if not saved:
        raise ObjectStoreSaveError(key, len(data), getattr(store, "max_size", None))
    log.debug("object store: saved '%s' (%d bytes)", key, len(data))


def persist(store: ObjectStoreLike, key: str) -> None:
    """Have LEAN write everything saved so far to disk now. ``SaveBytes`` only keeps the bytes in memory
    and marks them dirty (``LocalObjectStore.cs`` L340-353); a timer writes dirty entries every 5 seconds
    (``Controls.cs`` L153) in dictionary order (``PersistData``, L600-641), so a kill could leave a
    manifest on disk without the files it lists. ``GetFilePath`` of a key the store holds persists
    synchronously (L484-499): calling it after each stage puts the stages on disk in our order. The
    local runner's store writes each file atomically when it is saved; there this is a no-op."""
    store.get_file_path(key)


def read_file(store: ObjectStoreLike, key: str) -> bytes:
    """The bytes under ``key``, read from its file when the store has one (LEAN: ``get_file_path``)."""
    path = Path(store.get_file_path(key))
    if path.is_file():
        return path.read_bytes()
    return bytes(store.read_bytes(key))


def read_present(store: ObjectStoreLike, keys: dict[str, str]) -> dict[str, bytes]:
    """The files among ``keys`` (name -> key) that the store holds."""
    return {name: read_file(store, key) for name, key in keys.items() if store.contains_key(key)}


def listed_keys(store: ObjectStoreLike, prefix: str) -> list[str] | None:
    """Every key under ``prefix/`` (LEAN's ``ObjectStore.Keys``, ``ObjectStore.cs`` L79; the local store's
    ``keys``), or None when the store cannot list."""
    keys: Any = getattr(store, "keys", None)
    if keys is None:
        return None
    try:
        if callable(keys) and not isinstance(keys, Iterable):
            keys = keys()
        normalised = [str(key).replace("\\", "/").lstrip("/") for key in keys]
    except Exception as exc:  # a store whose listing fails: treated as one that cannot list
        log.warning("object store: could not list its keys (%s: %s)", type(exc).__name__, exc)
        return None
    return sorted(key for key in normalised if key.startswith(prefix.rstrip("/") + "/"))


def generation_numbers(keys: Iterable[str], prefix: str, folder: str) -> set[int]:
    """The numbers ``n`` of the ``<prefix>/<folder>-<n>/`` folders among ``keys``."""
    pattern = re.compile(re.escape(prefix.rstrip("/")) + "/" + re.escape(folder) + r"-(\d+)/")
    return {int(match.group(1)) for key in keys if (match := pattern.match(key))}


def delete_keys(store: ObjectStoreLike, keys: Iterable[str]) -> int:
    """Delete the keys the store holds; how many were deleted."""
    deleted = 0
    for key in keys:
        if store.contains_key(key) and store.delete(key):
            deleted += 1
    return deleted


def keep_rejected(store: ObjectStoreLike, prefix: str, stamp: str, files: dict[str, bytes]) -> tuple[bool, str]:
    """Copy a state that will not be used under ``<prefix>/rejected/<stamp>/``: (kept, where or why not)."""
    kept = f"{prefix}/rejected/{stamp}"
    try:
        for name, data in files.items():
            save_file(store, f"{kept}/{name}", data)
    except ObjectStoreSaveError as exc:
        return False, f"the rejected files could NOT all be copied under '{kept}/' ({exc})"
    return True, f"the rejected files are kept under '{kept}/'"


def total_bytes(files: dict[str, bytes]) -> int:
    return sum(len(data) for data in files.values())
