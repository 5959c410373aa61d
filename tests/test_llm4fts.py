"""LLM4FTS model pieces: DTW vs tslearn, SIPR on planted motifs, the wavelet module vs pywt,
patches, the ranking loss, both training stages, saving, determinism, and no look-ahead."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import pywt
import torch

from lean_local.engine.object_store import ObjectStore
from models.llm4fts import (LearnableWavelet, LLM4FTSRanker, PricePanel, RankerConfig, SiprConfig,
                            cross_section, dtw_distance, finetune_until, fit_sipr, pairwise_ranking_loss, patch_starts, pretrain,
                            ranking_loss, top_fraction, walk_forward, window_features)
from models.llm4fts.backbone import BackboneLoadError
from models.llm4fts.checkpoint import load_stage1, resume_running, running_state, save_pretrained, save_running
from models.llm4fts.dtw import dtw_barycenter, normalised_shape
from models.llm4fts.sipr import PatternLibrary

# sampled: 3 steps a month keep the shared fixtures cheap (test_stored_state kills subprocesses that use them);
# the daily schedule is tested in test_llm4fts_learns.py and end to end in test_llm4fts_ranker.py.
TINY = dict(model_id="gpt2", weights="random", gpt_layers=2, gpt_width=32, gpt_heads=2, seed=5, finetune_steps=3,
            finetune_schedule="sampled", finetune_window_days=40, finetune_epochs=1)
SHAPES = [lambda t: np.abs(2 * t - 1), lambda t: 1 - np.abs(2 * t - 1),
          lambda t: np.interp(t, [0, 1 / 3, 2 / 3, 1], [0, 1, 0, 1]),
          lambda t: np.interp(t, [0, .25, .5, .75, 1], [1, 0, .6, 0, 1])]


def planted_series(segments: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Known shapes at lengths 8..16, amplitudes 0.5..3 and random levels, plus 1% noise."""
    rng = np.random.default_rng(seed)
    parts, starts, position = [], [], 0
    for _ in range(segments):
        length = int(rng.integers(8, 17))
        shape = SHAPES[int(rng.integers(len(SHAPES)))](np.linspace(0, 1, length))
        parts.append(shape * rng.uniform(0.5, 3) + rng.uniform(-1, 1))
        starts.append(position)
        position += length
    values = np.concatenate(parts)
    return values + rng.normal(0, 0.01, len(values)), np.array(starts)


def boundary_recall(found: np.ndarray, truth: np.ndarray, tolerance: int = 1) -> float:
    return float(np.mean([np.min(np.abs(found - b)) <= tolerance for b in truth]))


def synthetic_panel(days: int = 260, stocks: int = 12, seed: int = 0) -> tuple[PricePanel, pd.Series]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-02", periods=days)
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (days, stocks)), 0)), index=dates,
                         columns=[f"S{i}" for i in range(stocks)])
    frames = {"close": close, "open": close * 1.001, "high": close * 1.01, "low": close * 0.99,
              "volume": close * 0 + 1e6}
    return PricePanel(frames), close.mean(axis=1)


def tiny_ranker(**changes) -> LLM4FTSRanker:
    config = RankerConfig(**{**TINY, **changes})
    library = fit_sipr(planted_series(40, 1)[0], SiprConfig(n_patterns=4, iterations=3)) if config.use_sipr else None
    return LLM4FTSRanker.from_config(config, library)


# --- DTW and SIPR ---
def test_dtw_kernel_equals_tslearn_on_random_sequences():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tslearn.metrics import dtw
    rng = np.random.default_rng(0)
    for _ in range(30):
        a, b = rng.normal(size=rng.integers(2, 25)), rng.normal(size=rng.integers(2, 25))
        assert dtw_distance(a, b) == pytest.approx(dtw(a, b), rel=1e-12)
        radius = int(rng.integers(0, 4))
        c = rng.normal(size=len(a))
        assert dtw_distance(a, c, radius) == pytest.approx(dtw(a, c, global_constraint="sakoe_chiba",
                                                               sakoe_chiba_radius=radius), rel=1e-12)


def test_dtw_barycenter_equals_tslearn_dba():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tslearn.barycenters import dtw_barycenter_averaging
    members = np.random.default_rng(1).random((15, 16))
    ours = dtw_barycenter(members, members[0].copy(), 5)
    theirs = dtw_barycenter_averaging(members[:, :, None], barycenter_size=16, init_barycenter=members[0][:, None],
                                      max_iter=5, tol=0).ravel()
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_greedy_segmentation_with_the_planted_shapes_finds_the_boundaries():
    values, truth = planted_series(150, seed=2)
    shapes = np.stack([normalised_shape(s(np.linspace(0, 1, 16)), 16) for s in SHAPES])
    library = PatternLibrary(shapes, SiprConfig(n_patterns=4))
    assert boundary_recall(library.segment(values).starts, truth) >= 0.9


def test_sipr_recovers_planted_boundaries_better_than_chance():
    """Fitted from K-means++: the greedy loop has many fixed points, so recovery is partial (the
    README reports the recall); it must still beat random cuts of the same lengths clearly."""
    recalls, chance = [], []
    for seed in range(3):
        values, truth = planted_series(150, seed)
        library = fit_sipr(values, SiprConfig(n_patterns=4, seed=seed))
        assert library.losses[-1] < library.losses[0]
        recalls.append(boundary_recall(np.array(library.training_starts), truth))
        random_cuts = np.cumsum(np.r_[0, np.random.default_rng(seed + 10).integers(8, 17, 200)])
        chance.append(boundary_recall(random_cuts, truth))
    assert np.mean(recalls) > np.mean(chance) + 0.08, (recalls, chance)


def test_sipr_artifact_round_trip_and_bad_artifact_message():
    library = fit_sipr(planted_series(40, 3)[0], SiprConfig(n_patterns=3, iterations=2), fitted_on={"series": "x"})
    again = PatternLibrary.from_json(library.to_json())
    np.testing.assert_array_equal(again.centroids, library.centroids)
    assert again.config == library.config and again.fitted_on == {"series": "x"}
    with pytest.raises(ValueError, match="storage/x.json: not a usable SIPR pattern library"):
        PatternLibrary.from_json(b"{}", "storage/x.json")


# --- wavelet ---
@pytest.mark.parametrize("n", [31, 32, 19])
def test_wavelet_module_reproduces_pywt_at_initialisation(n):
    x = torch.randn(2, 3, n, dtype=torch.float32)
    module = LearnableWavelet(3, "db4", "symmetric")
    approximation, detail = module(x)
    expected_a, expected_d = pywt.dwt(x.numpy(), "db4", "symmetric", axis=-1)
    np.testing.assert_allclose(approximation.detach().numpy(), expected_a, atol=1e-5)
    np.testing.assert_allclose(detail.detach().numpy(), expected_d, atol=1e-5)
    rebuilt = module.inverse(torch.as_tensor(expected_a, dtype=torch.float32),
                             torch.as_tensor(expected_d, dtype=torch.float32))
    np.testing.assert_allclose(rebuilt.detach().numpy(), pywt.idwt(expected_a, expected_d, "db4", "symmetric",
                                                                   axis=-1), atol=1e-5)


def test_wavelet_filters_stay_orthogonal_through_training():
    module = LearnableWavelet(2)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
    x = torch.randn(8, 2, 31)
    start = module.low_pass.detach().clone()
    for _ in range(20):
        approximation, detail = module(x)
        loss = (approximation ** 2).mean() - (detail.abs()).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        module.renormalise_()
        assert module.filter_inner_products().abs().max() < 1e-6
        assert torch.allclose(module.low_pass.norm(dim=-1), torch.ones(2), atol=1e-6)
    assert not torch.allclose(module.low_pass, start)  # it did learn


# --- patches and loss ---
def test_every_patch_lies_inside_its_window_and_the_newest_point_is_covered():
    rng = np.random.default_rng(0)
    for _ in range(50):
        length, patch = int(rng.integers(10, 60)), int(rng.integers(2, 10))
        segments = rng.integers(-5, length + 5, size=5)
        starts = patch_starts(length, patch, int(rng.integers(1, 6)), segments)
        assert starts.min() >= 0 and starts.max() + patch <= length
        assert starts.max() + patch == length and list(starts) == sorted(set(starts.tolist()))
        assert set(s for s in segments if 0 <= s <= length - patch) <= set(starts.tolist())


def test_ranking_loss_is_zero_for_perfect_order_and_positive_otherwise():
    realised = torch.tensor([0.03, -0.01, 0.10, 0.00])
    assert pairwise_ranking_loss(realised * 2 + 1, realised, 0.1) == 0
    swapped = realised.clone()
    swapped[[0, 2]] = swapped[[2, 0]]
    assert pairwise_ranking_loss(swapped, realised, 0.1) > 0
    assert ranking_loss(realised, realised, 1.0, 1.0, 0.1, "printed") == 0
    assert ranking_loss(realised * 20, realised * 20, 1.0, 1.0, 0.1) == 0  # every pair apart by >= the margin
    assert ranking_loss(realised, realised, 1.0, 1.0, 0.1) > 0  # 0.03 vs 0.00: closer than the margin


# --- backbone, training, saving ---
def test_pretrained_weights_are_never_replaced_silently(tmp_path):
    with pytest.raises(BackboneLoadError, match="could not load GPT-2 weights"):
        LLM4FTSRanker.from_config(RankerConfig(model_id=str(tmp_path / "missing"), use_sipr=False))
    with pytest.raises(ValueError, match="only apply to weights=random"):
        RankerConfig(gpt_width=32, gpt_heads=2)
    assert "RANDOM weights" in tiny_ranker().weights_info.describe()


def test_stage1_loss_falls_on_periodic_series():
    days = 400
    t = np.arange(days)
    close = pd.DataFrame({f"S{i}": 100 + 5 * np.sin(2 * np.pi * (t + 3 * i) / 12) for i in range(8)},
                         index=pd.bdate_range("2015-01-02", periods=days))
    panel = PricePanel({"close": close, "open": close, "high": close, "low": close, "volume": close * 0 + 1})
    ranker = tiny_ranker(lr=3e-3)
    losses = pretrain(ranker, panel, close.mean(axis=1), 0, days - 1, steps=80, seed=0)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert ranker.stage == "stage1"


def test_stage1_trains_only_on_the_given_universe():
    """Stocks outside ``symbols`` (e.g. ones that join the universe after the training window) must not
    reach stage 1: training with them in the panel equals training on a panel without them."""
    panel, index = synthetic_panel()
    members = panel.symbols[:6]
    narrow = PricePanel({field: frame[members] for field, frame in panel.frames.items()})
    trained = []
    for source, symbols in ((panel, members), (narrow, None)):
        ranker = tiny_ranker()
        trained.append(pretrain(ranker, source, index, 0, 150, steps=3, seed=0, symbols=symbols))
    np.testing.assert_allclose(trained[0], trained[1], rtol=1e-5)
    widest = pretrain(tiny_ranker(), panel, index, 0, 150, steps=3, seed=0)
    assert not np.allclose(widest, trained[0], rtol=1e-3)


def test_finetuning_moves_predictions_and_the_same_seed_gives_the_same_predictions():
    """Both stages, with the caller's global torch generator in a different state each time (as in two
    processes): dropout must draw from the model's own seeded stream."""
    panel, index = synthetic_panel()
    results = []
    for caller_state in range(2):
        ranker = tiny_ranker()
        torch.manual_seed(caller_state)
        pretrain(ranker, panel, index, 0, 150, steps=2, seed=0)
        section, _, _ = cross_section(ranker, panel, index, 200, panel.symbols, horizon=21)
        before = ranker.predict(section)
        report = finetune_until(ranker, panel, index, 230, panel.symbols)
        after = ranker.predict(section)
        assert len(report.losses) == 3 and np.isfinite(after).all() and not np.allclose(before, after)
        results.append(after)
    np.testing.assert_array_equal(results[0], results[1])


def test_walk_forward_scores_only_decisions_whose_returns_are_known():
    panel, index = synthetic_panel()
    days = [panel.dates[row] for row in (200, 221, 242, 255)]  # 255: 21 days ahead is past the data
    universes = {day: panel.symbols for day in days}
    months = walk_forward(tiny_ranker(label_horizon_days=21), panel, index, universes, top_fraction=0.25)
    assert list(months.index) == days[:3]
    close = panel.frames["close"]
    realised = close.iloc[221] / close.iloc[200] - 1  # the first month, by hand: held to the next decision
    assert months["universe_return"].iloc[0] == pytest.approx(realised.mean())
    assert np.isfinite(months[["ic", "rank_ic", "top_return"]].to_numpy()).all()


def test_save_and_load_round_trip_through_the_object_store(tmp_path):
    panel, index = synthetic_panel()
    store = ObjectStore(tmp_path)
    ranker = tiny_ranker(head_init="random")  # a zero head predicts 0 before and after: nothing to compare
    pretrain(ranker, panel, index, 0, 150, steps=3, seed=0)
    save_pretrained(store, "llm4fts/t", ranker, {"trained_through": "2015-08-01"})
    section, _, _ = cross_section(ranker, panel, index, 200, panel.symbols)
    other = tiny_ranker(head_init="random")
    assert not np.allclose(other.predict(section), ranker.predict(section))
    assert load_stage1(store, "llm4fts/t", other, not_after="2016-01-01") is not None
    np.testing.assert_allclose(other.predict(section), ranker.predict(section), atol=1e-6)
    with pytest.raises(Exception, match="look-ahead"):
        load_stage1(store, "llm4fts/t", tiny_ranker(), not_after="2015-06-01")
    ranker.finetuned_through = "2015-08-31"  # where the daily schedule continues
    save_running(store, "llm4fts_ranker/t", ranker, {"trained_through": "2015-09-01"})
    fresh = tiny_ranker(head_init="random")  # the running state holds what stage 2 trains, on top of the stage-1 weights
    assert load_stage1(store, "llm4fts/t", fresh, not_after="2016-01-01") is not None
    assert resume_running(store, "llm4fts_ranker/t", fresh, "s1", not_after="2016-01-01").resumed
    np.testing.assert_allclose(fresh.predict(section), ranker.predict(section), atol=1e-6)
    assert fresh.finetuned_through == "2015-08-31"
    (tmp_path / running_state(store, "llm4fts_ranker/t").current_keys()["model.safetensors"]).write_bytes(b"broken")
    outcome = resume_running(store, "llm4fts_ranker/t", tiny_ranker(), "s2", not_after="2016-01-01")
    assert outcome.rejected and "checksum" in outcome.message
    assert (tmp_path / "llm4fts_ranker/t/rejected/s2/model.safetensors").exists()


def test_inputs_at_a_date_do_not_change_when_future_bars_are_appended():
    panel, index = synthetic_panel(days=260)
    short = PricePanel({k: v.iloc[:201] for k, v in panel.frames.items()})
    ranker = tiny_ranker()
    full_section, full_symbols, _ = cross_section(ranker, panel, index, 200, panel.symbols)
    short_section, short_symbols, _ = cross_section(ranker, short, index.iloc[:201], 200, panel.symbols)
    assert full_symbols == short_symbols
    np.testing.assert_array_equal(full_section.windows, short_section.windows)
    np.testing.assert_array_equal(full_section.starts, short_section.starts)
    np.testing.assert_array_equal(ranker.predict(full_section), ranker.predict(short_section))


def test_bad_symbols_are_left_out_with_a_reason_and_top_fraction_is_exact():
    panel, _ = synthetic_panel()
    panel.frames["close"].iloc[195, 3] = np.nan
    windows = window_features(panel, 200, 31)
    assert "S3" not in windows.symbols and any("S3: missing" in p for p in windows.problems)
    assert np.isfinite(windows.values).all()
    assert sorted(top_fraction(np.array([0.1, 0.5, -0.2, 0.4, 0.0]), 0.4).tolist()) == [1, 3]


# --- dropout: the same inverted dropout as nn.Dropout, its mask drawn the cheap way ---------------------------

def test_mask_dropout_keeps_each_element_with_probability_one_minus_p_and_rescales():
    from models.llm4fts.dropout import MaskDropout

    layer = MaskDropout(0.2).train()
    x = torch.full((1000, 1000), 3.0)
    torch.manual_seed(0)
    y = layer(x)
    kept = y != 0
    # 1e6 Bernoulli(0.8) draws: sd of the kept share 4e-4, so 0.8 +- 2e-3 is 5 sd
    assert abs(kept.float().mean().item() - 0.8) < 2e-3
    assert torch.allclose(y[kept], torch.tensor(3.0 / 0.8))
    torch.manual_seed(0)
    assert torch.equal(layer(x), y)  # seeded: the same mask
    assert torch.equal(layer.eval()(x), x)  # eval: identity
    assert torch.equal(MaskDropout(0.0).train()(x), x) and not MaskDropout(1.0).train()(x).any()
    x.requires_grad_(True)
    layer.train()(x).sum().backward()  # the gradient is the mask times 1 / (1 - p)
    assert set(torch.unique(x.grad).tolist()) == {0.0, 1.0 / 0.8}


def test_the_ranker_uses_mask_dropout_everywhere_with_the_configured_rate():
    from models.llm4fts.dropout import MaskDropout

    ranker = tiny_ranker()
    dropouts = [m for m in ranker.network.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and all(type(m) is MaskDropout and m.p == 0.2 for m in dropouts)
    assert ranker.network.backbone.h[0].attn.attn_dropout.p == 0.2  # SDPA's own attention dropout keeps its rate
