"""The PERL objective: realised portfolio return plus an entropy bonus for diversification.

The paper prints ``L = -w'r + eta * (-w' log(w + eps))``, i.e. ``+eta * H(w)``. Minimising that
*rewards* concentration (its optimum is one stock), the opposite of what the paper's text says the
term is for. We implement the intended version, ``L = -w'r - eta * H(w)``, whose optimum for
softmax weights is ``softmax(r / eta)``: uniform when returns are equal, flatter as eta grows.
"""
from __future__ import annotations

import torch


def entropy(weights: torch.Tensor, epsilon: float = 1e-8) -> torch.Tensor:
    """H(w) = -sum_i w_i log(w_i + eps) over the last axis (0 for one stock, log N for 1/N)."""
    weights = weights.float()
    return -(weights * torch.log(weights + epsilon)).sum(-1)


def allocation_loss(weights: torch.Tensor, returns: torch.Tensor, eta: float,
                    epsilon: float = 1e-8) -> torch.Tensor:
    """L(w, r) = -w'r - eta * H(w), always computed in fp32 (fp16 loses small monthly returns)."""
    weights = weights.float()
    return -(weights * returns.float()).sum(-1) - eta * entropy(weights, epsilon)
