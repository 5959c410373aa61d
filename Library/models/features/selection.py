"""Multicollinearity filter: iterative variance-inflation-factor elimination.

VIF_j = 1 / (1 - R_j^2) with R_j^2 from regressing feature j on all others with an intercept; it
equals the j-th diagonal element of the inverse correlation matrix, which is what we compute (one
inversion per step instead of one regression per feature). ``tests`` check it against
``statsmodels.stats.outliers_influence.variance_inflation_factor`` on a design with a constant column.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def vif(x: np.ndarray) -> np.ndarray:
    """VIF of each column of ``x`` (rows = observations)."""
    corr = np.corrcoef(x, rowvar=False)
    return np.diag(np.linalg.pinv(corr, hermitian=True))


@dataclass
class Selection:
    features: list[str]
    vif: dict[str, float]
    removed: list[tuple[str, float]] = field(default_factory=list)  # in removal order, with its VIF then
    constant: list[str] = field(default_factory=list)
    count_at_threshold: int = 0


def select_by_vif(x: np.ndarray, names: list[str], threshold: float = 10.0, target: int | None = None) -> Selection:
    """Drop constant columns, then repeatedly the column with the largest VIF.

    Stops when every VIF is below ``threshold``; with ``target`` it goes on past the threshold
    (removing the most collinear column each time) until ``target`` columns remain. The count where
    the threshold alone would have stopped is recorded in ``count_at_threshold``.
    """
    std = x.std(axis=0)
    constant = [n for n, s in zip(names, std) if not s > 1e-10]
    keep = [i for i, s in enumerate(std) if s > 1e-10]
    removed: list[tuple[str, float]] = []
    count_at_threshold = 0
    while True:
        values = vif(x[:, keep])
        worst = int(np.argmax(values))
        below = values[worst] < threshold
        if below and not count_at_threshold:
            count_at_threshold = len(keep)
        if (below and (target is None or len(keep) <= target)) or (target is not None and len(keep) <= target):
            if not count_at_threshold:
                count_at_threshold = -1  # target reached while some VIF was still above the threshold
            return Selection([names[i] for i in keep], {names[i]: float(v) for i, v in zip(keep, values)},
                             removed, constant, count_at_threshold)
        removed.append((names[keep[worst]], float(values[worst])))
        del keep[worst]
