"""Symbols and the enums algorithms import (``Lean:Common/Symbol.cs``, ``Lean:Common/Global.cs``)."""
from __future__ import annotations

import enum
from typing import Any


class SecurityType(enum.IntEnum):
    BASE = 0
    EQUITY = 1


class Resolution(enum.IntEnum):
    TICK = 0
    SECOND = 1
    MINUTE = 2
    HOUR = 3
    DAILY = 4


class Market:
    USA = "usa"


class DataNormalizationMode(enum.IntEnum):
    RAW = 0
    ADJUSTED = 1


class SecurityIdentifier:
    """Holds LEAN's SID string; ``symbol`` is the first ticker, as in LEAN."""

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def symbol(self) -> str:
        return self._value.split(" ")[0]

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecurityIdentifier({self._value!r})"


class Symbol:
    """A US-equity symbol. Equal to, and hashed like, its ticker string.

    LEAN's pandas wrappers accept ``df.loc["SPY"]`` as well as ``df.loc[symbol]``; hashing like the
    ticker string gives the local DataFrames the same behaviour.
    """

    __slots__ = ("value", "id", "security_type")

    def __init__(self, ticker: str, sid: str | None = None, security_type: SecurityType = SecurityType.EQUITY) -> None:
        self.value = ticker.upper()
        self.id = SecurityIdentifier(sid or f"{self.value} UNKNOWN")
        self.security_type = security_type

    @staticmethod
    def create(ticker: str, security_type: SecurityType = SecurityType.EQUITY, market: str = Market.USA) -> "Symbol":
        if security_type != SecurityType.EQUITY or market != Market.USA:
            raise NotImplementedError("the local runner supports US equities only")
        return Symbol(ticker)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Symbol):
            return self.value == other.value
        if isinstance(other, str):
            return self.value == other.upper()
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        return self.value < str(other).upper()

    def __gt__(self, other: Any) -> bool:
        return self.value > str(other).upper()


def to_symbol(value: "Symbol | str | Any") -> Symbol:
    if isinstance(value, Symbol):
        return value
    if isinstance(value, str):
        return Symbol(value)
    symbol = getattr(value, "symbol", None)  # a Security
    if isinstance(symbol, Symbol):
        return symbol
    raise TypeError(f"expected a Symbol, a ticker string or a Security, got {type(value).__name__}")
