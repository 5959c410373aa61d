"""The LLM4FTS network: patch embedding -> truncated GPT-2 (causal, positions = patch starts) ->
next-patch head (stage 1) or, with the wavelet bands, a return score per stock (stage 2).

Channels are independent sequences (the paper's B x M layout): a cross-section (stocks, C, L)
runs as stocks*C univariate series; their last-token states are concatenated per stock.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import GPT2Model

from .config import RankerConfig
from .patching import extract_patches, patch_starts
from .wavelet import LearnableWavelet

N_CHANNELS = 5  # close, open, high, low, volume (see .samples.window_features)


class LLM4FTSNetwork(nn.Module):
    def __init__(self, config: RankerConfig, backbone: GPT2Model, channels: int = N_CHANNELS) -> None:
        super().__init__()
        width = backbone.config.n_embd
        self.config, self.channels = config, channels
        self.backbone = backbone
        self.patch_embedding = nn.Linear(config.patch_length, width)
        self.next_patch_head = nn.Linear(width, config.patch_length)
        branches = 1
        if config.use_wavelet:
            self.wavelet = LearnableWavelet(channels, config.wavelet)
            self.low_embedding = nn.Linear(config.patch_length, width)
            self.high_embedding = nn.Linear(config.patch_length, width)
            branches = 3
        self.dropout = nn.Dropout(config.dropout)
        self.score_head = nn.Linear(channels * branches * width, 1)

    def encode(self, series: torch.Tensor, starts: np.ndarray, embedding: nn.Linear) -> torch.Tensor:
        """(n, L) series and their patch starts -> GPT-2 states (n, patches, width)."""
        patches = extract_patches(series, starts, self.config.patch_length)
        positions = torch.as_tensor(starts, dtype=torch.long, device=series.device).expand(series.shape[0], -1)
        return self.backbone(inputs_embeds=embedding(patches), position_ids=positions).last_hidden_state

    def next_patch(self, series: torch.Tensor, starts: np.ndarray) -> torch.Tensor:
        """Stage 1: the prediction made at each patch of the patch ``stride`` points later (n, patches, P)."""
        return self.next_patch_head(self.encode(series, starts, self.patch_embedding))

    def forward(self, windows: torch.Tensor, starts: np.ndarray) -> torch.Tensor:
        """Stage 2: (stocks, C, L) normalised windows -> (stocks,) predicted returns."""
        stocks, channels, length = windows.shape
        flat = windows.reshape(stocks * channels, length)
        states = [self.encode(flat, starts, self.patch_embedding)[:, -1]]
        if self.config.use_wavelet:
            low, high = self.wavelet(windows)
            band_starts = patch_starts(low.shape[-1], self.config.patch_length, self.config.patch_stride)
            states.append(self.encode(low.reshape(stocks * channels, -1), band_starts, self.low_embedding)[:, -1])
            states.append(self.encode(high.reshape(stocks * channels, -1), band_starts, self.high_embedding)[:, -1])
        joined = torch.cat(states, dim=-1).reshape(stocks, -1)
        return self.score_head(self.dropout(joined)).squeeze(-1)

    def finetune_parameters(self) -> list[nn.Parameter]:
        """``ln_wpe``: GPT-2's layer norms and position embeddings plus everything outside GPT-2 (GPT4TS
        and the LLM4FTS scripts); ``all``: every parameter."""
        if self.config.finetune_layers == "all":
            return list(self.parameters())
        chosen = [p for n, p in self.backbone.named_parameters() if n.startswith("wpe") or ".ln_" in n or
                  n.startswith("ln_f")]
        backbone_ids = {id(p) for p in self.backbone.parameters()}
        return chosen + [p for p in self.parameters() if id(p) not in backbone_ids]
