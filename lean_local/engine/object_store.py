"""The local object store, persisted where the LEAN CLI mounts it (``<cli_root>/storage``).

Key rules follow ``Lean:Engine/Storage/LocalObjectStore.cs``: the regex
``^\\.?[a-zA-Z0-9\\\\/_#\\-\\$= ]+\\.?[a-zA-Z0-9]*$`` (so at most one extension dot) and at most 100
slashes; a key maps to the file ``<root>/<key>``. Writes are atomic.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..data.lean_format import atomic_write_bytes
from .errors import StrictAttributes

KEY_PATTERN = re.compile(r"^\.?[a-zA-Z0-9\\/_#\-\$= ]+\.?[a-zA-Z0-9]*$")


def validate_key(key: str) -> str:
    """Return the normalised key or raise the error LEAN would raise, with a hint."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key) or key.count("/") > 100 or key.count("\\") > 100:
        raise ValueError(
            f"LocalObjectStore: path is not supported: {key!r}. LEAN accepts letters, digits, spaces and "
            "/ \\ _ # - $ =, with at most one '.' before a final extension (e.g. 'perl/adapter_v2.safetensors', "
            "not 'adapter.v2.safetensors').")
    return key.replace("\\", "/").lstrip("/")


class ObjectStore(StrictAttributes):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def save_bytes(self, key: str, data: bytes) -> bool:
        atomic_write_bytes(self._path(key), bytes(data))
        return True

    def save(self, key: str, text: str | None = None) -> bool:
        path = self._path(key)
        if text is None:  # LEAN: persist a file already written at get_file_path(key)
            return path.exists()
        atomic_write_bytes(path, text.encode("utf-8"))
        return True

    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise KeyError(f"object store has no key {key!r} (looked in {path})")
        return path.read_bytes()

    def read(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def contains_key(self, key: str) -> bool:
        return self._path(key).exists()

    def get_file_path(self, key: str) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

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
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())
