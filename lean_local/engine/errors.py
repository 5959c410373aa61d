"""Errors the local engine raises for things LEAN would do differently or not at all."""
from __future__ import annotations


class UnsupportedMemberError(NotImplementedError):
    """An algorithm used a LEAN member the local runner does not implement."""

    def __init__(self, owner: str, member: str) -> None:
        super().__init__(
            f"{owner}.{member} is part of LEAN but not supported by the local runner (lean_local). "
            "Run this algorithm with `lean backtest` (Docker), or add the member to lean_local/engine "
            "with LEAN's semantics and a test.")
        self.owner = owner
        self.member = member


class StrictAttributes:
    """Mixin: unknown attributes raise UnsupportedMemberError instead of AttributeError.

    LEAN objects expose hundreds of members; a user reaching for one we lack should learn that
    the runner is the limit, not that LEAN lacks it.
    """

    def __getattr__(self, name: str):  # only called when normal lookup fails
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise UnsupportedMemberError(type(self).__name__, name)
