"""Errors the local engine raises for things LEAN would do differently or not at all."""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Any


class UnsupportedMemberError(NotImplementedError):
    """An algorithm used a LEAN member the local runner does not implement."""

    def __init__(self, owner: str, member: str) -> None:
        super().__init__(
            f"{owner}.{member} is part of LEAN but not supported by the local runner (lean_local). "
            "Run this algorithm with `lean backtest` (Docker), or add the member to lean_local/engine "
            "with LEAN's semantics and a test.")
        self.owner = owner
        self.member = member


@lru_cache(maxsize=1)
def lean_member_names() -> frozenset[str] | None:
    """Every method and property name in quantconnect-stubs (None when the stubs are not installed)."""
    spec = importlib.util.find_spec("QuantConnect")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    names: set[str] = set()
    # methods and properties, and class-level constants and enum members (``USA: str = "usa"``, ``LIMIT = 1``)
    pattern = re.compile(r"def (\w+)\(|^    ([A-Za-z]\w*)\s*(?::[^=\n]*)?=", re.M)
    for stub in root.rglob("*.pyi"):
        names.update(a or b for a, b in pattern.findall(stub.read_text(errors="ignore")))
    return frozenset(names)


class UnsupportedType(type):
    """Metaclass of the placeholders ``AlgorithmImports`` binds for LEAN names the runner lacks.

    A LEAN algorithm may name any of LEAN's types at module level: in annotations (``data: Slice``,
    ``Optional[SimpleMovingAverage]``, ``RollingWindow[float]``) or as a base class
    (``class MyAlpha(AlphaModel)``). Those mentions must work; creating an instance, calling, or reading a
    member must stop with an error that names the LEAN type, never a ``NameError``. ``isinstance`` against a
    placeholder is False: no object can be an instance of a type that cannot be constructed.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedMemberError(cls.__lean_module__, cls.__lean_name__)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise UnsupportedMemberError(f"{cls.__lean_module__}.{cls.__lean_name__}", name)

    def __getitem__(cls, item: Any) -> "UnsupportedType":
        return cls  # generic parameters in annotations: RollingWindow[float]

    def __instancecheck__(cls, instance: Any) -> bool:
        return False

    def __repr__(cls) -> str:
        return f"<LEAN type {cls.__lean_module__}.{cls.__lean_name__}, not supported by lean_local>"


def unsupported_type(module: str, name: str) -> type:
    """A placeholder for LEAN's ``module.name`` (see :class:`UnsupportedType`)."""
    return UnsupportedType(name, (), {"__lean_module__": module, "__lean_name__": name, "__module__": module,
                                      "__doc__": f"LEAN's {module}.{name}: not supported by the local runner."})


class StrictType(type):
    """Metaclass: class-level access to a LEAN member the class lacks (``Market.OANDA``) raises
    ``UnsupportedMemberError``; a name LEAN lacks too stays an ``AttributeError``."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        known = lean_member_names()
        if known is not None and name not in known:
            raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r} "
                                 "(nor has LEAN's API a member of that name)")
        raise UnsupportedMemberError(cls.__name__, name)


class StrictAttributes:
    """Mixin: a LEAN member we lack raises UnsupportedMemberError; a name LEAN lacks raises AttributeError.

    LEAN objects expose hundreds of members; a user reaching for one we lack should learn that
    the runner is the limit, and a typo should still read as a typo.
    """

    def __getattr__(self, name: str):  # only called when normal lookup fails
        if name.startswith("_"):
            raise AttributeError(name)
        owner = next((c.__name__ for c in type(self).__mro__ if c.__module__.startswith("lean_local")),
                     type(self).__name__)
        known = lean_member_names()
        if known is not None and name not in known:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r} "
                                 "(nor has LEAN's API a member of that name)")
        raise UnsupportedMemberError(owner, name)
