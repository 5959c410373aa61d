"""Multicollinearity filter: iterative variance-inflation-factor elimination.

VIF_j = 1 / (1 - R_j^2) with R_j^2 from regressing feature j on all others with an intercept; it
equals the j-th diagonal element of the inverse correlation matrix. The correlation matrix is
computed once; each step inverts the sub-matrix of the features still in (tests check the values
against ``statsmodels.stats.outliers_influence.variance_inflation_factor``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def vif_from_corr(corr: np.ndarray) -> np.ndarray:
    """diag(inv(R)) through R = V diag(w) V': VIF_j = sum_k V_jk^2 / w_k.

    Exact collinearity gives ~1e15. A pseudo-inverse would instead drop the null directions and
    report perfectly collinear columns (TYPPRICE and MEDPRICE after scaling, CMO and RSI) as harmless.
    """
    w, v = np.linalg.eigh(corr)
    return (v * v) @ (1.0 / np.maximum(w, 1e-15))


EXACT_COLLINEARITY = 1e10  # VIF above this: R^2 within 1e-10 of 1, a linear identity up to rounding


def _worst(values: np.ndarray) -> int:
    """The column to drop next: the largest VIF, except that exactly collinear columns all count as infinite.

    Their computed VIFs (1e14..1e15) are rounding noise, so the largest of them flips with the last bits
    of the sample (CMO/RSI, STDDEV/VAR, ATR/NATR ...). Among them the one latest in the candidate order is
    dropped, so the selection does not depend on that noise.
    """
    infinite = np.flatnonzero(values >= EXACT_COLLINEARITY)
    return int(infinite[-1]) if len(infinite) else int(np.argmax(values))


def vif(x: np.ndarray) -> np.ndarray:
    """VIF of each column of ``x`` (rows = observations)."""
    return vif_from_corr(np.corrcoef(x, rowvar=False))


@dataclass
class Selection:
    features: list[str]
    vif: dict[str, float]
    removed: list[tuple[str, float]] = field(default_factory=list)  # in removal order, with its VIF then
    constant: list[str] = field(default_factory=list)
    count_below: dict[str, int] = field(default_factory=dict)  # threshold -> features left when first all below


def select_by_vif(x: np.ndarray, names: list[str], threshold: float = 10.0, target: int | None = None,
                  report: tuple[float, ...] = (5.0, 10.0, 20.0)) -> Selection:
    """Drop constant columns, then repeatedly the column with the largest VIF.

    Without ``target`` the result is the first set whose VIFs are all below ``threshold``; with it,
    the set of ``target`` columns on the same elimination path (which must then be below
    ``threshold``, else ValueError). ``count_below`` gives, for each threshold in ``report``, how many
    columns the plain threshold rule would keep, so the choice can be stated.
    """
    std = x.std(axis=0)
    constant = [n for n, s in zip(names, std) if not s > 1e-10]
    keep = [i for i, s in enumerate(std) if s > 1e-10]
    corr = np.corrcoef(x[:, keep], rowvar=False)
    index = list(range(len(keep)))
    removed: list[tuple[str, float]] = []
    chosen: tuple[list[int], np.ndarray] | None = None
    count_below: dict[str, int] = {}
    while len(index) > 1:
        values = vif_from_corr(corr[np.ix_(index, index)])
        worst = _worst(values)
        for t in report + (threshold,):
            if values[worst] < t and f"{t:g}" not in count_below:
                count_below[f"{t:g}"] = len(index)
        done = len(index) == target if target is not None else values[worst] < threshold
        if done and chosen is None:
            chosen = (list(index), values)
        if chosen is not None and len(count_below) == len(set(report + (threshold,))):
            break
        removed.append((names[keep[index[worst]]], float(values[worst])))
        del index[worst]
    if chosen is None:
        raise ValueError("no selection: fewer columns than the target")
    picked, values = chosen
    if values.max() >= threshold:
        raise ValueError(f"the {len(picked)} columns on the elimination path have a VIF of {values.max():.1f} "
                         f">= {threshold}: raise the threshold or lower the target")
    steps = len(removed) if target is None else len(x[0]) - len(constant) - len(picked)
    return Selection([names[keep[i]] for i in picked], {names[keep[i]]: float(v) for i, v in zip(picked, values)},
                     removed[:steps], constant, count_below)


def render_selection_module(result: dict) -> str:
    """The committed selection as Python source (``selected_42.py``).

    A Python module, not JSON, because ``lean cloud push`` sends only ``.py .cs .ipynb .css .html`` files
    (lean-cli 1.0.230 ``components/util/project_manager.py`` ``get_source_files``, L147): a data file next
    to the library would be missing in QuantConnect's cloud and ``initialize`` would fail there.
    """
    import pprint

    body = pprint.pformat(result, indent=1, width=110, sort_dicts=False)
    return ('"""The 42 features the models read, with how they were chosen.\n\n'
            'Generated by ``scripts/select_features.py --write``; do not edit by hand.\n"""\n\n'
            "from typing import Any\n\n"
            f"SELECTION: dict[str, Any] = {body}\n\nFEATURES: tuple[str, ...] = tuple(SELECTION[\"features\"])\n")
