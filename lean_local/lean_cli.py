"""What lean-cli does with this folder, reproduced where a user's first run depends on it.

Read from lean-cli 1.0.230 (PyPI ``lean``), not imported: lean-cli cannot even be imported offline
(``lean/models/__init__.py`` downloads its modules list at import time).

- **Organization id.** ``lean backtest``, ``lean cloud push`` and ``lean cloud backtest`` call
  ``OrganizationManager.try_get_working_organization_id()`` (``commands/backtest.py`` L361,
  ``components/util/organization_manager.py`` L55-69), which fails unless ``lean.json`` has
  ``job-organization-id`` or, failing that, ``organization-id`` (``get_organization``, L20-27).
  ``lean init`` would write both (``configure_working_organization_id``, L71-79) but refuses a folder
  that already holds ``lean.json`` or ``data/`` (``commands/init.py`` L152-159).
- **What ``lean cloud push`` sends.** Only files ending in ``.py .cs .ipynb .css .html``, from every
  folder except hidden ones, virtual environments, LEAN's reserved names and output folders
  (``components/util/project_manager.py`` ``get_source_files`` L127-152, ``components/__init__.py``
  L14-19), for the project and for each library in its ``config.json`` (``push_manager.py`` L49-57).
  Description, parameters and library references travel as project metadata (``_push_metadata``).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

PUSHED_SUFFIXES = (".py", ".cs", ".ipynb", ".css", ".html")
SKIPPED_FOLDERS = frozenset([
    "CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10)),
    "bin", "obj", "__pycache__", ".ipynb_checkpoints", ".idea", ".vscode",
    "backtests", "live", "optimizations", "storage", "report"])
ORGANIZATION_KEYS = ("job-organization-id", "organization-id")
_ORG_ID = re.compile(r"^[0-9a-f]{32}$")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\r\n]*|/\*.*?\*/', re.S)


def parse_lean_json(text: str) -> dict[str, Any]:
    """``lean.json`` as lean-cli reads it (``LeanConfigManager.parse_json``): JSON with ``//`` and ``/* */``
    comments. Strings are matched first, so a ``//`` inside one (an URL) is kept."""
    return json.loads(_TOKENS.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text))


def organization_id(config: dict[str, Any]) -> str | None:
    """The organization lean-cli works with: ``job-organization-id`` first, then ``organization-id``."""
    for key in ORGANIZATION_KEYS:
        if key in config:
            return config[key]
    return None


def check_organization_id(value: str) -> str:
    """QuantConnect organization ids are 32 lowercase hex digits (the id in the organization page's URL)."""
    value = value.strip()
    if not _ORG_ID.match(value):
        raise ValueError(f"organization id {value!r} is not 32 hexadecimal digits: copy it from "
                         "https://www.quantconnect.com/organization (the id in the page's address)")
    return value


def write_organization_id(lean_json: Path, value: str) -> dict[str, Any]:
    """Set both organization keys in ``lean.json`` as ``lean init`` would, keep every other key.

    lean-cli itself rewrites the file with ``json.dumps`` (``LeanConfigManager.set_properties``), which
    drops comments; we do the same, but atomically (temporary sibling, then one rename).
    """
    value = check_organization_id(value)
    config = parse_lean_json(lean_json.read_text(encoding="utf-8"))
    for key in ORGANIZATION_KEYS:
        config[key] = value
    tmp = lean_json.with_name(lean_json.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    tmp.replace(lean_json)
    return config


def pushed_files(directory: Path) -> list[Path]:
    """The files of one project folder that ``lean cloud push`` sends, in a stable order."""
    found: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            if (entry.name in SKIPPED_FOLDERS or entry.name.startswith(".") or (entry / "pyvenv.cfg").is_file()
                    or (entry / "conda-meta").is_dir()):
                continue
            found.extend(pushed_files(entry))
        elif entry.suffix in PUSHED_SUFFIXES:
            found.append(entry)
    return found


def project_config(project: Path) -> dict[str, Any]:
    path = project / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def copy_as_pushed(cli_root: Path, project: Path, destination: Path) -> Path:
    """Copy ``project`` and its libraries to ``destination`` as the cloud receives them; return the copy.

    Each project's ``config.json`` is copied too (the cloud keeps its parameters and library references as
    metadata) and ``lean.json`` so that the copy is a CLI root the local runner accepts.
    """
    cli_root, project = cli_root.resolve(), project.resolve()
    folders = [project, *(cli_root / lib["path"] for lib in project_config(project).get("libraries", []))]
    for folder in folders:
        target = destination / folder.relative_to(cli_root)
        for source in pushed_files(folder):
            copy = target / source.relative_to(folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        if (folder / "config.json").is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / "config.json", target / "config.json")
    shutil.copy2(cli_root / "lean.json", destination / "lean.json")
    return destination / project.relative_to(cli_root)
