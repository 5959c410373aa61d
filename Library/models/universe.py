"""Point-in-time universe rules shared by every algorithm, free of LEAN types.

The selection itself runs inside LEAN (``Library/skeleton``); these functions hold the rules so
they can be tested without an engine.
"""
from __future__ import annotations

from typing import Iterable, Sequence, TypeVar

T = TypeVar("T")
SELECTION_MONTHS = (1, 4, 7, 10)


def is_selection_month(month: int, months: Sequence[int] = SELECTION_MONTHS) -> bool:
    """Quarterly reselection in January, April, July and October (the paper's schedule)."""
    return month in months


def top_by_weight(items: Iterable[tuple[T, float | None]], count: int) -> list[T]:
    """The ``count`` items with the largest weight; missing weights never qualify; ties keep input order."""
    ranked = sorted(((key, w) for key, w in items if w is not None and w > 0), key=lambda kw: kw[1], reverse=True)
    return [key for key, _ in ranked[:count]]


def equal_weights(keys: Sequence[T]) -> dict[T, float]:
    """1/N for each key; an empty universe gets no weights."""
    return {k: 1.0 / len(keys) for k in keys} if keys else {}
