"""LEAN's public Python API as ``quantconnect-stubs`` declares it.

The stubs are generated from the real LEAN assemblies (pinned in requirements.txt), so they are the
list of what an algorithm may name. Three readers:

* :func:`algorithm_imports_namespace` - every public name ``from AlgorithmImports import *`` brings
  inside LEAN (the star imports listed in the stubs' ``AlgorithmImports/__init__.pyi``, later imports
  shadowing earlier ones as in Python), with the integer values of LEAN's enums. A fast line scan,
  not a parse: the stubs are ~11 MB and this runs once per process when ``AlgorithmImports`` is imported.
* :func:`lean_namespace` - that namespace as Python objects: LEAN's enums as ``IntEnum`` classes and
  every other name as a placeholder type (:class:`~lean_local.engine.errors.UnsupportedType`) that can be
  named in annotations and class statements but raises ``UnsupportedMemberError`` when used.
* :func:`stub_overloads` - the parameter names of each overload of a class's methods (an ``ast`` parse of
  one stub module; used by the tests that hold the runner's keyword names to LEAN's).
"""
from __future__ import annotations

import ast
import enum
import importlib.util
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import unsupported_type

log = logging.getLogger(__name__)

_STAR_IMPORT = re.compile(r"^from ([\w.]+) import \*", re.M)
_TOP_LEVEL = re.compile(r"^(?:class|def) ([A-Za-z]\w*)|^([A-Za-z]\w*)\s*(?::[^=\n]*)?=", re.M)
_ENUM_BLOCK = re.compile(r"^class (\w+)\((?:IntEnum|Enum)\):\n(.*?)(?=^\S)", re.M | re.S)
_ENUM_MEMBER = re.compile(r"^    ([A-Z_][A-Z0-9_]*) = (-?\d+)$", re.M)


@lru_cache(maxsize=1)
def stubs_root() -> Path | None:
    """The site-packages folder holding quantconnect-stubs' ``QuantConnect``/``System`` packages, or None."""
    spec = importlib.util.find_spec("QuantConnect")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent


def _module_stub(root: Path, module: str) -> Path | None:
    path = root.joinpath(*module.split("."), "__init__.pyi")
    return path if path.exists() else None


@dataclass(frozen=True)
class StubNamespace:
    """What ``from AlgorithmImports import *`` binds in LEAN, per quantconnect-stubs."""

    modules: tuple[str, ...]           # the CLR namespaces star-imported, in order
    names: dict[str, str]              # public name -> the namespace that binds it (the last one wins)
    enums: dict[str, dict[str, int]]   # enum name -> {MEMBER: value}


@lru_cache(maxsize=1)
def algorithm_imports_namespace() -> StubNamespace | None:
    """Read the stubs once; None when quantconnect-stubs is not installed."""
    root = stubs_root()
    header = root / "AlgorithmImports" / "__init__.pyi" if root else None
    if root is None or header is None or not header.exists():
        log.debug("quantconnect-stubs not installed: AlgorithmImports gets no placeholders for LEAN's names")
        return None
    modules = tuple(m for m in _STAR_IMPORT.findall(header.read_text())
                    if m.split(".")[0] in ("System", "QuantConnect"))
    names: dict[str, str] = {}
    enums: dict[str, dict[str, int]] = {}
    for module in modules:
        path = _module_stub(root, module)
        if path is None:
            continue
        text = path.read_text(errors="ignore")
        for class_or_def, assigned in _TOP_LEVEL.findall(text):
            name = class_or_def or assigned
            names.pop(name, None)  # re-insert so iteration order follows the shadowing order
            names[name] = module
        for name, body in _ENUM_BLOCK.findall(text):
            members = {k: int(v) for k, v in _ENUM_MEMBER.findall(body)}
            if members:
                enums[name] = members
    return StubNamespace(modules, names, enums)


def lean_enum(name: str, members: dict[str, int], module: str) -> type[enum.IntEnum]:
    """One of LEAN's enums as an ``IntEnum`` with LEAN's member names and values."""
    made = enum.IntEnum(name, members, module=module)  # type: ignore[misc]
    made.__doc__ = f"LEAN's {module}.{name} (values from quantconnect-stubs)."
    return made


def lean_namespace() -> dict[str, Any]:
    """Every name of LEAN's ``AlgorithmImports``: enums as real ``IntEnum`` classes (values are data, and an
    API that is not supported fails where it is called), everything else as a placeholder type. The caller
    binds its implemented classes over these."""
    stubs = algorithm_imports_namespace()
    if stubs is None:
        return {}
    out: dict[str, Any] = {}
    for name, module in stubs.names.items():
        members = stubs.enums.get(name)
        out[name] = lean_enum(name, members, module) if members else unsupported_type(module, name)
    return out


# --- method signatures, for the keyword-name contract ---

@dataclass(frozen=True)
class Overload:
    """The parameter names of one stub overload (``self`` excluded)."""

    names: tuple[str, ...]
    required: tuple[str, ...]


def _overload(fn: ast.FunctionDef) -> Overload:
    args = fn.args.args[1:]  # drop self
    n_required = len(args) - len(fn.args.defaults)
    return Overload(tuple(a.arg for a in args), tuple(a.arg for a in args[:n_required]))


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def _returned_class(fn: ast.FunctionDef) -> str | None:
    """``QuantConnect.Algorithm._QCAlgorithm_History`` -> ``_QCAlgorithm_History`` (an overload set)."""
    ret = fn.returns
    if isinstance(ret, ast.Attribute) and ret.attr.startswith("_"):
        return ret.attr
    return None


@lru_cache(maxsize=8)
def _module_classes(module: str) -> dict[str, ast.ClassDef]:
    root = stubs_root()
    path = _module_stub(root, module) if root else None
    if path is None:
        raise FileNotFoundError(f"quantconnect-stubs has no module {module}")
    tree = ast.parse(path.read_text(errors="ignore"))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def stub_overloads(module: str, class_name: str) -> dict[str, list[Overload]]:
    """Method name -> the parameter names of each of its overloads in the stubs. Methods that the stubs
    declare as a property returning an overload-set class (``history``, ``add_universe``) get that
    class's ``__call__`` overloads; plain properties are left out."""
    classes = _module_classes(module)
    out: dict[str, list[Overload]] = {}
    for node in classes[class_name].body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        if _is_property(node):
            target = _returned_class(node)
            if target in classes:
                calls = [f for f in classes[target].body if isinstance(f, ast.FunctionDef) and f.name == "__call__"]
                out.setdefault(node.name, []).extend(_overload(f) for f in calls)
            continue
        if any(isinstance(d, ast.Attribute) and d.attr == "setter" for d in node.decorator_list):
            continue
        out.setdefault(node.name, []).append(_overload(node))
    return out
