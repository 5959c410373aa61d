"""Errors the local engine raises for things LEAN would do differently or not at all."""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path


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
    pattern = re.compile(r"def (\w+)\(")
    for stub in root.rglob("*.pyi"):
        names.update(pattern.findall(stub.read_text(errors="ignore")))
    return frozenset(names)


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
