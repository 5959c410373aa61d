"""Projection -> Chronos-T5 -> score head -> masked softmax: one stock's indicator sequence in,
one portfolio weight out.

The tokenizer is bypassed: each day's 42 indicators are projected to ``d_model`` and passed as
``inputs_embeds``. Layer names avoid T5's (``q``, ``k``, ``v``, ``o``, ``wi``, ``wo``) because peft
matches LoRA targets by suffix.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import T5ForConditionalGeneration


class AllocatorNetwork(nn.Module):
    """Scores every stock from its own sequence; the softmax across stocks turns scores into weights.

    ``head_init="zero"``: the score head starts at zero, so an untrained allocator holds the present
    stocks in equal weights (the top-100 baseline) and every departure from it is learned from realised
    returns. ``"random"``: ``nn.Linear``'s default init (the paper's), drawn from the caller's seeded stream.
    """

    def __init__(self, t5: T5ForConditionalGeneration, n_features: int, pooling: str,
                 head_init: str = "zero") -> None:
        super().__init__()
        d_model = t5.config.d_model
        self.pooling = pooling
        self.feature_projection = nn.Linear(n_features, d_model)
        self.encoder = t5.get_encoder()
        self.decoder = t5.get_decoder() if pooling == "decoder_first" else None
        self.decoder_start_token_id = int(t5.config.decoder_start_token_id or 0)
        self.score_head = nn.Linear(d_model, 1)
        if head_init == "zero":
            nn.init.zeros_(self.score_head.weight)
            nn.init.zeros_(self.score_head.bias)

    def summarise(self, features: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """(N, T, F) features and (N, T) valid steps -> (N, d_model) summary per stock."""
        attention = step_mask.long()
        hidden = self.encoder(inputs_embeds=self.feature_projection(features),
                              attention_mask=attention).last_hidden_state
        if self.decoder is not None:
            start = torch.full((features.shape[0], 1), self.decoder_start_token_id, dtype=torch.long,
                               device=features.device)
            return self.decoder(input_ids=start, encoder_hidden_states=hidden,
                                encoder_attention_mask=attention).last_hidden_state[:, 0]
        weights = step_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def scores(self, features: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        return self.score_head(self.summarise(features, step_mask).float()).squeeze(-1).float()

    def forward(self, features: torch.Tensor, step_mask: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Long-only weights (N,) summing to 1 over ``present`` stocks, exactly 0 elsewhere."""
        if not bool(present.any()):
            return torch.zeros(features.shape[0], device=features.device)
        scores = self.scores(features, step_mask).masked_fill(~present, float("-inf"))
        return torch.softmax(scores, dim=0).masked_fill(~present, 0.0)
