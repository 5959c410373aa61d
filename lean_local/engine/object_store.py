"""The local object store, persisted where the LEAN CLI mounts it (``<cli_root>/storage``).

Followed from ``Lean:Engine/Storage/LocalObjectStore.cs`` (commit 24863901) and
``Lean:Common/Storage/ObjectStore.cs``:

- **Keys**: the regex ``^\\.?[a-zA-Z0-9\\\\/_#\\-\\$= ]+\\.?[a-zA-Z0-9]*$`` (so at most one extension
  dot) and at most 100 slashes (``LocalObjectStore.cs`` L115, L329-337); a key maps to the file
  ``<root>/<key>`` with leading dots and slashes trimmed (``NormalizePath``, L664-671).
- **Quota**: before a save, the new content plus every other file in the store is compared with
  ``max_size`` and the file count with ``max_files`` (``IsWithinStorageLimit``, L377-425). Over either,
  LEAN logs an error naming the file, raises ``ErrorRaised`` (the engine turns it into a
  ``Debug`` line, ``Lean:Engine/Engine.cs`` L139) and ``save_bytes`` **returns False**; in research
  (QuantBook) it throws ``StorageLimitExceededException`` instead (L427-438). Nothing is written.
- **Defaults**: 10 GiB and 10,000 files (``Lean:Common/Packets/Controls.cs`` L151-152), read from the
  LEAN config keys ``storage-limit`` (bytes) and ``storage-file-count``
  (``Lean:Queues/JobQueue.cs`` L148-149). lean-cli writes ``storage-limit-mb``, which this LEAN does
  not read. QuantConnect's cloud gives an organization 50 MB free; put ``"storage-limit": 52428800``
  in ``lean.json`` to run under that quota here (and in ``lean backtest``).
- **Files**: ``get_file_path(key)`` registers the key and returns ``<root>/<key>`` with its folder
  created (``GetFilePath``, L484-512); the algorithm writes the file there and ``save(key)`` reads it
  back and saves it through ``save_bytes``, quota check included (``ObjectStore.Save(path)``,
  ``ObjectStore.cs`` L196-212; the pattern of ``Algorithm.Python/KerasNeuralNetworkAlgorithm.py``
  L61-64). Writes here are atomic.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from ..data.lean_format import atomic_write_bytes
from ..lean_cli import parse_lean_json
from .errors import StrictAttributes

log = logging.getLogger(__name__)
KEY_PATTERN = re.compile(r"^\.?[a-zA-Z0-9\\/_#\-\$= ]+\.?[a-zA-Z0-9]*$")
DEFAULT_STORAGE_LIMIT = 10_737_418_240  # bytes: Lean:Common/Packets/Controls.cs L151, Queues/JobQueue.cs L148
DEFAULT_STORAGE_FILE_COUNT = 10_000  # Controls.cs L152, JobQueue.cs L149


class StorageLimitExceededError(RuntimeError):
    """LEAN's ``StorageLimitExceededException``: raised in research mode, where LEAN throws."""


def validate_key(key: str) -> str:
    """Return the normalised key or raise the error LEAN would raise, with a hint."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key) or key.count("/") > 100 or key.count("\\") > 100:
        raise ValueError(
            f"LocalObjectStore: path is not supported: {key!r}. LEAN accepts letters, digits, spaces and "
            "/ \\ _ # - $ =, with at most one '.' before a final extension (e.g. 'perl/adapter_v2.safetensors', "
            "not 'adapter.v2.safetensors').")
    normal = key.lstrip(".").replace("\\", "/").lstrip("/")
    if not normal.strip("/ ") or normal.endswith("/"):
        # LEAN's pattern admits "/" (and "dir/"), which normalise to the store's root or a folder: saving there would
        # turn storage/ (or that folder) into a file. Such keys name no file; refuse them here.
        raise ValueError(f"LocalObjectStore: key {key!r} names the store's root or a folder, not a file: "
                         "use a key such as 'perl/adapter.safetensors'")
    return normal


def _stored_file(path: Path) -> bool:
    """A stored object, not a temporary file of an atomic write in progress (``.<name>.<random>.tmp``)."""
    return not (path.name.startswith(".") and path.name.endswith(".tmp")) and path.is_file()


def quota_from_config(config: Mapping[str, Any]) -> tuple[int, int]:
    """``(max_size, max_files)`` from a LEAN config (``lean.json``): ``storage-limit`` in bytes and
    ``storage-file-count``, LEAN's defaults when absent."""
    try:
        size = int(config.get("storage-limit", DEFAULT_STORAGE_LIMIT))
        files = int(config.get("storage-file-count", DEFAULT_STORAGE_FILE_COUNT))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"lean.json: storage-limit / storage-file-count must be whole numbers (bytes, files): "
                         f"{exc}") from exc
    return size, files


def configured_store(cli_root: str | Path, research: bool = False,
                     on_error: Callable[[str], Any] | None = None) -> "ObjectStore":
    """The store LEAN would give an algorithm (or, ``research``, a QuantBook) under ``cli_root``:
    ``<cli_root>/storage`` with the quota of ``<cli_root>/lean.json`` (``quota_from_config``)."""
    root = Path(cli_root)
    lean_json = root / "lean.json"
    config = parse_lean_json(lean_json.read_text()) if lean_json.is_file() else {}
    max_size, max_files = quota_from_config(config)
    return ObjectStore(root / "storage", max_size, max_files, research=research, on_error=on_error)


def megabytes(size: int) -> str:
    """LEAN's ``BytesToMb`` (bytes / 1024 / 1024), as its messages print it."""
    return f"{size / 1024 / 1024:.2f}MB"


class ObjectStore(StrictAttributes):
    """``root``: the storage folder; ``max_size``/``max_files``: the quota; ``research``: raise over the
    quota (QuantBook) instead of returning False; ``on_error``: LEAN's ``ErrorRaised`` (the runner
    passes the algorithm's ``debug``)."""

    def __init__(self, root: str | Path, max_size: int = DEFAULT_STORAGE_LIMIT,
                 max_files: int = DEFAULT_STORAGE_FILE_COUNT, research: bool = False,
                 on_error: Callable[[str], Any] | None = None) -> None:
        self.root = Path(root)
        self.max_size = max_size
        self.max_files = max_files
        self._research = research
        self._on_error = on_error

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    # --- saving ---
    def save_bytes(self, key: str, data: bytes | None) -> bool:
        """False (nothing written) when the store would exceed its quota, like LEAN."""
        path = self._path(key)
        if data is None:  # LEAN registers the key without content (GetFilePath)
            return self._within_limit(path, 0)
        content = bytes(data)
        if not self._within_limit(path, len(content)):
            return False
        atomic_write_bytes(path, content)
        return True

    def save(self, key: str, text: str | None = None) -> bool:
        """``save(key, text)`` stores UTF-8 text; ``save(key)`` stores the file already written at
        ``get_file_path(key)`` (``ObjectStore.Save(path)``: missing file -> ``ArgumentException``)."""
        if text is not None:
            return self.save_bytes(key, text.encode("utf-8"))
        path = self._path(key)
        if not path.is_file():
            raise ValueError(f"There is no file associated with path {key} in '{path}'")
        if not self._within_limit(path, path.stat().st_size):
            return False
        return True  # already on disk: LEAN rewrites the same bytes

    def get_file_path(self, key: str) -> str:
        path = self._path(key)
        if not path.exists():
            self.save_bytes(key, None)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    # --- reading ---
    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise KeyError(f"Object with path '{key}' was not found in the current project (looked in {path}). "
                           "Please use ObjectStore.contains_key(key) to check if an object exists before "
                           "attempting to read.")
        return path.read_bytes()

    def read(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def contains_key(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> bool:
        path = self._path(key)
        if path.is_file():
            path.unlink()
            return True
        return False

    @property
    def keys(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if _stored_file(p))

    # --- quota ---
    def _within_limit(self, path: Path, size: int) -> bool:
        """``IsWithinStorageLimit``: this file at ``size`` bytes plus every other file in the store."""
        files, total = 1, size
        if self.root.exists():
            for other in self.root.rglob("*"):
                if other == path or not _stored_file(other):
                    continue
                try:  # another run sharing storage/ may rename or delete a file between the walk and here
                    total += other.stat().st_size
                except FileNotFoundError:
                    continue
                files += 1
        if files > self.max_files:
            message = (f"You have reached the ObjectStore limit for files it can save: {files}/{self.max_files}. "
                       "Unable to save the new file. You can find the limit with the ObjectStore.MaxFiles property.")
        elif total > self.max_size:
            message = (f"You have reached the ObjectStore storage capacity limit: {megabytes(total)}/"
                       f"{megabytes(self.max_size)}. Unable to save the new file. You can find the limit with the "
                       "ObjectStore.MaxSize property.")
        else:
            return True
        log.error("LocalObjectStore.InternalSaveBytes(): %s File: '%s'", message, path.relative_to(self.root))
        if self._research:
            raise StorageLimitExceededError(message)
        if self._on_error is not None:
            self._on_error(f"ObjectStore Persistence Error: {message}")
        return False
