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
from .dropout import MaskDropout
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
        self.dropout = MaskDropout(config.dropout)
        self.score_head = nn.Linear(channels * branches * width, 1)
        self.reset_score_head(config.head_init, config.seed)
        trim_positions(backbone, position_rows(config))

    @torch.no_grad()
    def reset_score_head(self, kind: str, seed: int) -> None:
        """``zero``: weights and bias 0, so a fresh ranker predicts exactly 0 and the first steps move
        the head towards the labels' scale instead of undoing a random one (mean -0.5, spread 0.33 with the
        paper's init, against ``rank_normal`` labels of spread about 1, the default, or ``raw`` 21-day
        returns of spread about 0.05); ``small``: N(0, 1e-3) weights, bias 0, seeded;
        ``random``: left as drawn (``nn.Linear``'s default, the paper's code)."""
        if kind == "random":
            return
        self.score_head.bias.zero_()
        if kind == "zero":
            self.score_head.weight.zero_()
        elif kind == "small":
            generator = torch.Generator().manual_seed(seed + 17)
            drawn = torch.randn(self.score_head.weight.shape, generator=generator) * 1e-3
            self.score_head.weight.copy_(drawn.to(self.score_head.weight.device))
        else:
            raise ValueError(f"unknown head_init {kind!r}: use zero, small or random")

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

    # --- what each stage trains, and so what a saved state holds ---
    def trained_backbone_names(self, layers: str) -> set[str]:
        """GPT-2 parameters a stage trains. ``ln_wpe``: layer norms and position embeddings (GPT4TS;
        aLLM4TS's fine-tuning ``sft_layers=ln_wpe``); ``all``: every GPT-2 parameter the network uses,
        i.e. aLLM4TS's pre-training ``pt_layers=ln_wpe_attn_mlp``. The token embeddings ``wte`` are never
        used (the inputs are patch embeddings), so no choice trains or stores them."""
        names = [n for n, _ in self.backbone.named_parameters() if not n.startswith("wte.")]
        if layers == "all":
            return set(names)
        if layers == "ln_wpe":
            return {n for n in names if n.startswith("wpe.") or ".ln_" in n or n.startswith("ln_f.")}
        raise ValueError(f"unknown layer choice {layers!r}: use ln_wpe or all")

    def trained_parameters(self, layers: str) -> list[nn.Parameter]:
        """The chosen GPT-2 parameters plus everything outside GPT-2 (embeddings, heads, wavelet)."""
        chosen = self.trained_backbone_names(layers)
        backbone = [p for n, p in self.backbone.named_parameters() if n in chosen]
        backbone_ids = {id(p) for p in self.backbone.parameters()}
        return backbone + [p for p in self.parameters() if id(p) not in backbone_ids]

    def set_trainable(self, layers: str) -> list[nn.Parameter]:
        """``requires_grad`` on for the stage's parameters only (no weight gradients for frozen GPT-2
        matrices, and gradient clipping sees only what the step changes); returns them."""
        trained = self.trained_parameters(layers)
        ids = {id(p) for p in trained}
        for parameter in self.parameters():
            parameter.requires_grad_(id(parameter) in ids)
        return trained

    def stored_keys(self, layers: str) -> set[str]:
        """``state_dict`` entries a stage can change: everything outside GPT-2 and its chosen GPT-2
        tensors. The rest is the base it was trained on, identified by a digest, never stored."""
        chosen = {f"backbone.{n}" for n in self.trained_backbone_names(layers)}
        return {k for k in self.state_dict() if not k.startswith("backbone.") or k in chosen}


def position_rows(config: RankerConfig) -> int:
    """Position embeddings the ranker can address: patch starts lie inside the ``lookback_days`` window
    (wavelet bands are shorter), kept with the margin of the random build (``backbone.build_random_gpt2``)."""
    return max(64, config.lookback_days * 2)


def trim_positions(backbone: GPT2Model, rows: int) -> None:
    """Keep the first ``rows`` of GPT-2's position table (pretrained: 1024). Rows never addressed get no
    gradient and never change, so cutting them changes no output and no training step, and a saved
    state need not carry them (768 x 960 floats for gpt2)."""
    if backbone.wpe.num_embeddings <= rows:
        return
    kept = backbone.wpe.weight.detach()[:rows].clone()
    backbone.wpe = nn.Embedding.from_pretrained(kept, freeze=False)
    backbone.config.n_positions = rows
