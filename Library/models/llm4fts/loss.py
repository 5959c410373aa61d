"""Stage-2 loss (the paper's eq. 9): alpha * pairwise ranking term + beta * MSE over one cross-section.

Two ranking terms (``RankerConfig.ranking_loss``):

- ``margin_hinge`` (default): mean over ordered pairs with ``dr != 0`` of ``relu(M - dp * sign(dr))^2``.
  It is zero only when every pair is ordered as realised by at least the margin, so a constant prediction
  costs ``M^2`` per pair and the gradient pushes misordered pairs *past* each other.
- ``printed``: the paper's printed form, mean over ordered pairs of ``ReLU((M - dp)^2 [dp * dr < 0])``. For
  a misordered pair the two orders add to ``2 M^2 + 2 dp^2``: the gradient pulls the pair to a tie, where
  the indicator switches off; a constant prediction has zero loss and alone the term collapses predictions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import RANKING_LOSSES


def pairwise_ranking_loss(predicted: torch.Tensor, realised: torch.Tensor, margin: float) -> torch.Tensor:
    """The paper's printed term: mean over ordered pairs i != j of (M - dp(i,j))^2 where the predicted and
    realised orders disagree (ties in either count as agreement, so a constant prediction scores 0)."""
    dp = predicted[:, None] - predicted[None, :]
    dr = realised[:, None] - realised[None, :]
    wrong = (dp * dr < 0).to(predicted.dtype)
    pairs = max(predicted.shape[0] * (predicted.shape[0] - 1), 1)
    return torch.relu((margin - dp) ** 2 * wrong).sum() / pairs


def margin_hinge_loss(predicted: torch.Tensor, realised: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over ordered pairs with a realised difference of relu(M - dp * sign(dr))^2 (0 when none differ)."""
    dp = predicted[:, None] - predicted[None, :]
    sign = torch.sign(realised[:, None] - realised[None, :])
    counted = (sign != 0).to(predicted.dtype)
    hinge = torch.relu(margin - dp * sign) ** 2 * counted
    return hinge.sum() / counted.sum().clamp(min=1.0)


def ranking_loss(predicted: torch.Tensor, realised: torch.Tensor, alpha: float, beta: float,
                 margin: float, term: str = "margin_hinge") -> torch.Tensor:
    """alpha * ranking term (``term``, see the module docstring) + beta * MSE."""
    if term == "margin_hinge":
        ranking = margin_hinge_loss(predicted, realised, margin)
    elif term == "printed":
        ranking = pairwise_ranking_loss(predicted, realised, margin)
    else:
        raise ValueError(f"unknown ranking term {term!r}: use one of {RANKING_LOSSES}")
    return alpha * ranking + beta * F.mse_loss(predicted, realised)
