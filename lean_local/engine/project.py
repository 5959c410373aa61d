"""Finding and loading a LEAN project the way the LEAN CLI does.

``lean.json`` marks the CLI root (searched upward; ``//`` and ``/* */`` comments allowed); a
project's ``config.json`` holds ``parameters`` and ``libraries``; ``main.py`` is loaded as module
``main`` with the project folder, ``<root>/Library`` and each listed library's folder on
``sys.path`` (``lean-cli: lean_config_manager.py``; ``Lean: PythonInitializer.cs``).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..lean_cli import parse_lean_json
from .algorithm import QCAlgorithm

def find_cli_root(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "lean.json").is_file():
            return folder
    return None


@dataclass(frozen=True)
class LeanProject:
    path: Path
    main: Path
    cli_root: Path
    config: dict[str, Any]

    @property
    def parameters(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.config.get("parameters") or {}).items()}

    @property
    def library_paths(self) -> list[Path]:
        return [self.cli_root / lib["path"] for lib in self.config.get("libraries", [])]

    @property
    def default_data_folder(self) -> Path:
        lean = parse_lean_json((self.cli_root / "lean.json").read_text())
        return self.cli_root / lean.get("data-folder", "data")

    @property
    def storage(self) -> Path:
        return self.cli_root / "storage"


def load_project(path: str | Path) -> LeanProject:
    path = Path(path).resolve()
    main = path if path.is_file() else path / "main.py"
    if not main.is_file():
        raise FileNotFoundError(f"{path} does not contain a main.py (the LEAN CLI needs PROJECT/main.py)")
    folder = main.parent
    cli_root = find_cli_root(folder)
    if cli_root is None:
        raise FileNotFoundError(f"no lean.json in {folder} or any parent: run from a LEAN CLI root")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    if config.get("algorithm-language", "Python") != "Python":
        raise ValueError(f"{config_path}: algorithm-language must be Python for the local runner")
    return LeanProject(folder, main, cli_root, config)


@contextmanager
def project_imports(project: LeanProject, algorithm_imports: types.ModuleType) -> Iterator[None]:
    """Make ``main``, ``AlgorithmImports`` and the libraries importable as inside LEAN, then restore."""
    added = [str(project.path), str(project.cli_root / "Library"), *map(str, project.library_paths)]
    saved_path = list(sys.path)
    saved_modules = {k: sys.modules.get(k) for k in ("main", "AlgorithmImports")}
    sys.path[:0] = added
    sys.modules["AlgorithmImports"] = algorithm_imports
    sys.modules.pop("main", None)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for key, module in saved_modules.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


def algorithm_class(project: LeanProject) -> type[QCAlgorithm]:
    spec = importlib.util.spec_from_file_location("main", project.main)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["main"] = module
    spec.loader.exec_module(module)
    found = [obj for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, QCAlgorithm) and obj.__module__ == "main"]
    if not found:
        raise ValueError(f"{project.main} defines no QCAlgorithm subclass")
    # LEAN picks the algorithm class defined in main.py; with several, the most derived one.
    found.sort(key=lambda cls: len(cls.__mro__), reverse=True)
    return found[0]
