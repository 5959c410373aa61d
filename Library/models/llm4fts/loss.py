"""Stage-2 loss (the paper's eq. 9): alpha * pairwise ranking hinge + beta * MSE over one cross-section."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_ranking_loss(predicted: torch.Tensor, realised: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over ordered pairs i != j of (M - dp(i,j))^2 where the predicted and realised orders disagree.

    Zero when every pair is ordered as realised (ties in either count as agreement).
    """
    dp = predicted[:, None] - predicted[None, :]
    dr = realised[:, None] - realised[None, :]
    wrong = (dp * dr < 0).to(predicted.dtype)
    pairs = max(predicted.shape[0] * (predicted.shape[0] - 1), 1)
    return torch.relu((margin - dp) ** 2 * wrong).sum() / pairs


def ranking_loss(predicted: torch.Tensor, realised: torch.Tensor, alpha: float, beta: float,
                 margin: float) -> torch.Tensor:
    return alpha * pairwise_ranking_loss(predicted, realised, margin) + beta * F.mse_loss(predicted, realised)
