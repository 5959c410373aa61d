"""The LLM4FTS ranker (Liu & Jia 2025): GPT-2 over dynamically patched price series, with SIPR
patterns, a learnable wavelet module, next-patch pre-training and ranking fine-tuning.

Public API: :class:`RankerConfig` -> :meth:`LLM4FTSRanker.from_config` (with a
:class:`PatternLibrary` from :func:`fit_sipr`) -> :func:`pretrain` / :func:`finetune_until` /
``predict``; stored states through :mod:`.checkpoint`.
"""
from .backbone import BackboneLoadError, load_gpt2
from .config import RankerConfig
from .dtw import dtw_distance
from .loss import margin_hinge_loss, pairwise_ranking_loss, ranking_loss
from .patching import extract_patches, patch_starts
from .ranker import CrossSection, LLM4FTSRanker, TrainingReport, top_fraction
from .samples import PricePanel, WindowBank, rank_normal, window_features
from .sipr import PatternLibrary, SiprConfig, fit_sipr
from .training import (cross_section, decision_scores, finetune_until, information_coefficients, pretrain, summarise,
                       training_section, walk_forward)
from .wavelet import LearnableWavelet

__all__ = ["BackboneLoadError", "CrossSection", "LLM4FTSRanker", "LearnableWavelet", "PatternLibrary", "PricePanel",
           "RankerConfig", "SiprConfig", "TrainingReport", "WindowBank", "cross_section", "decision_scores",
           "dtw_distance", "extract_patches", "finetune_until", "fit_sipr", "information_coefficients", "load_gpt2",
           "margin_hinge_loss", "pairwise_ranking_loss", "patch_starts", "pretrain", "rank_normal", "ranking_loss",
           "summarise", "top_fraction", "training_section", "walk_forward", "window_features"]
