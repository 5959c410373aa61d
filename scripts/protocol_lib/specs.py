"""What the protocol runs: windows, the small candidate grids, the ablations and the CPU-sized random models.

Changing any of these changes the unit hashes, so finished units of another protocol are never reused.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Small RANDOM backbones on CPU (the figures say nothing about pretrained weights).
ALLOCATOR_BASE: dict[str, Any] = {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "device": "cpu",
                                  "precision": "fp32"}
# The ranker at the CPU demo size (2 layers, one pass over the first year): at the default 6 layers the full
# protocol is ~7 h on 2 cores (0.25 s per stage-2 step); at this size it is about a third of that.
RANKER_BASE: dict[str, Any] = {"model_id": "gpt2", "weights": "random", "gpt_width": 64, "gpt_heads": 4,
                               "gpt_layers": 2, "finetune_epochs": 1, "device": "cpu"}
LR_HALF_LIFE_ON = 12.0  # months: the planted harness's best-directed schedule (README, learning options)
TURNOVER_PENALTY_ON = 0.01  # lambda of the "on" arm: ||w - w_prev||_1 <= 2, so at most 2 % a month of loss
REPLAY_ON = 6  # months of replay in the "on" arm


@dataclass(frozen=True)
class Ablation:
    """One option switched on the frozen setting: each group in ``arms`` that differs from the frozen
    setting's values becomes a variant (so a boolean toggles, and a three-way choice runs the other arms)."""

    name: str
    arms: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ModelSpec:
    model: str  # "allocator" | "ranker"
    base: dict[str, Any]
    grid: dict[str, dict[str, Any]]
    ablations: tuple[Ablation, ...]
    run_from: str  # first decision day of every unit
    select: tuple[str, str]  # the window scored for selection (selection units end with it)
    report: tuple[str, str]  # the window scored for the report
    selection_seeds: tuple[int, ...]
    report_seeds: tuple[int, ...]
    criterion: str  # "net_active" (allocator) | "daily_ic" (ranker)
    pretrain: tuple[str, str] | None = None  # ranker stage 1
    universe_size: int = 100
    top_fraction: float = 0.1
    sipr: dict[str, Any] = field(default_factory=dict)  # SiprConfig overrides (ranker; default: SiprConfig())
    ablation_seeds: int = 0  # the first this many report seeds run each ablation (0: all of them)
    notes: dict[str, str] = field(default_factory=dict)


ALLOCATOR_ABLATIONS = (
    Ablation("replay_months", ({"replay_months": 0}, {"replay_months": REPLAY_ON})),
    Ablation("head_init", ({"head_init": "zero"}, {"head_init": "random"})),
    # demean_returns is not ablated: with weights summing to 1 it cannot change a gradient (tested).
    Ablation("lr_half_life_months", ({"lr_half_life_months": 0.0}, {"lr_half_life_months": LR_HALF_LIFE_ON})),
    Ablation("turnover_penalty", ({"turnover_penalty": 0.0}, {"turnover_penalty": TURNOVER_PENALTY_ON})),
)
RANKER_ABLATIONS = (
    Ablation("label", ({"label": "rank_normal", "label_horizon_days": 1}, {"label": "raw", "label_horizon_days": 21})),
    Ablation("ranking_loss", ({"ranking_loss": "margin_hinge"}, {"ranking_loss": "printed"})),
    Ablation("input_standardise", ({"input_standardise": "window"}, {"input_standardise": "cross_section"})),
    Ablation("finetune_schedule", ({"finetune_schedule": "daily"}, {"finetune_schedule": "sampled"})),
    Ablation("head_init", ({"head_init": "zero"}, {"head_init": "random"})),
)


def seeds(count: int) -> tuple[int, ...]:
    return tuple(range(1, count + 1))


def full_specs(report_seeds: int = 5) -> dict[str, ModelSpec]:
    """The protocol as stated in ``scripts/protocol.py``'s docstring."""
    allocator = ModelSpec(
        "allocator", ALLOCATOR_BASE,
        grid={"lr0.003": {"lr": 0.003}, "lr0.01": {"lr": 0.01},
              "lr0.003_std": {"lr": 0.003, "standardise_features": True},
              "lr0.01_std": {"lr": 0.01, "standardise_features": True}},
        ablations=ALLOCATOR_ABLATIONS, run_from="2009-06-01", select=("2009-06-01", "2013-12-31"),
        report=("2014-01-01", "2018-12-31"), selection_seeds=seeds(2), report_seeds=seeds(report_seeds),
        criterion="net_active")
    ranker = ModelSpec(
        "ranker", RANKER_BASE,
        grid={"lr1e-4": {"lr": 1e-4}, "lr3e-4": {"lr": 3e-4}, "lr1e-3": {"lr": 1e-3}},
        ablations=RANKER_ABLATIONS, run_from="2011-01-01", select=("2011-01-01", "2012-12-31"),
        report=("2013-01-01", "2018-12-31"), selection_seeds=seeds(2), report_seeds=seeds(report_seeds),
        criterion="daily_ic", pretrain=("2005-01-01", "2010-12-31"))
    return {"allocator": allocator, "ranker": ranker}


def quick_specs(report_seeds: int = 2) -> dict[str, ModelSpec]:
    """A few months on the real data, 30 stocks, two candidates, tiny training: a smoke run of every step."""
    full = full_specs(report_seeds)
    allocator = replace(full["allocator"], grid={"lr0.001": {"lr": 0.001}, "lr0.01": {"lr": 0.01}},
                        run_from="2013-09-01", select=("2013-09-01", "2013-12-31"),
                        report=("2014-01-01", "2014-03-31"), selection_seeds=seeds(1), universe_size=30)
    tiny_ranker = {**RANKER_BASE, "gpt_layers": 2, "pretrain_steps": 20, "finetune_steps": 2, "finetune_epochs": 1,
                   "finetune_window_days": 42}
    ranker = replace(full["ranker"], base=tiny_ranker,
                     grid={"lr3e-4": {"lr": 3e-4}, "lr1e-3": {"lr": 1e-3}}, run_from="2012-10-01",
                     select=("2012-10-01", "2012-12-31"), report=("2013-01-01", "2013-03-31"),
                     pretrain=("2010-01-01", "2012-09-30"), selection_seeds=seeds(1), universe_size=30,
                     sipr={"n_patterns": 4, "iterations": 3, "restarts": 1})
    return {"allocator": allocator, "ranker": ranker}
