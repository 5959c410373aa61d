"""It can learn: the allocator's learner finds a planted signal in REAL dev-data features.

Returns are planted (``r = m_t + b*z + e``, noise sd 0.07) with ``z`` a visible function of each stock's
features (:mod:`models.allocator.planted`); the tiny random Chronos-T5 is built in code. With ``z``
shuffled across stocks each month (the features then say nothing about the returns) the same learner
fails the same criteria, so they measure learning of the signal and not luck. Also: the new learning options do what
their docstrings say (replay only of closed months, demeaning is a gradient no-op, the lr schedule, the
turnover penalty, standardisation) and a resumed run with a replay buffer continues exactly.
"""
from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from lean_local.engine.object_store import ObjectStore
from models.allocator import OnlineAllocator, resume_from_store, save_to_store
from models.allocator.planted import load_real_panel, planted_months, publish, run_planted, summarise, tiny_config
from models.allocator.replay import standardise

MONTHS = ("2009-06-01", "2012-05-31")  # 36 decisions


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on one thread: several times less CPU than two threads waiting on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def real_panel(dev_data, request, tmp_path_factory):
    """36 months of the 42 real features of 100 stocks (the universe's size: fewer stocks give each month's
    cross-section too little evidence), cached across sessions under pytest's cache (this session's temporary
    folder when the cache plugin is off)."""
    cache_plugin = getattr(request.config, "cache", None)
    folder = cache_plugin.mkdir("allocator_planted") if cache_plugin else tmp_path_factory.mktemp("allocator_planted")
    cache = folder / "panel_2009_2012_100.npz"
    return load_real_panel(*MONTHS, n_stocks=100, data_dir=dev_data, cache=cache)


def learned(real_panel, ic: float, seed: int, shuffle: bool = False, **changes):
    """The harness's summary plus ``reached``: the best 3-month mean of the monthly rank correlation within
    the 36 months (the issue's "reaches 0.7 within 36 months", averaged over 3 months so one lucky month
    cannot meet it)."""
    months = planted_months(real_panel, ic, seed, signal="mean", shuffle=shuffle)
    frame = run_planted(tiny_config(seed=seed, **changes), months)
    return summarise(frame) | {"reached": float(frame.rank_corr.rolling(3).mean().max())}


def test_the_panel_is_36_months_of_real_features(real_panel):
    assert len(real_panel.decisions) == 36 and real_panel.features.shape[1:] == (100, 21, 42)
    assert real_panel.masks.mean() > 0.99 and np.isfinite(real_panel.features).all()
    assert real_panel.features[:, :, -1].std(axis=1).mean() > 0.3  # a real cross-section, not a constant


STRONG, REALISTIC = 0.2, 0.05  # cross-sectional IC of the planted signal


@pytest.fixture(scope="module")
def strong_runs(real_panel):
    return [learned(real_panel, STRONG, seed) for seed in range(1, 7)]


def strong_criterion(runs) -> bool:
    """In every seed the weights' rank correlation with the signal reaches 0.7 (as a 3-month mean) within the
    36 months, and it holds: Spearman > 0.6 over the last 12 months on average over six seeds, > 0.45 in every
    seed. Measured (seeds 1-6, tiny random backbone): 3-month best 0.72-0.87, first above 0.7 after 9-23
    months; last 12 months 0.52-0.84 (a last-12 mean above 0.7 in every seed would fail); with the signal
    shuffled the 3-month best is 0.08-0.19."""
    last12 = [r["last12_rank_corr"] for r in runs]
    return all(r["reached"] > 0.7 for r in runs) and float(np.mean(last12)) > 0.6 and min(last12) > 0.45


def realistic_criterion(runs) -> bool:
    """Better than chance in every seed: the mean monthly rank correlation is positive with t > 2."""
    return all(r["mean_rank_corr"] > 0 and r["t_stat"] > 2 for r in runs)


def test_a_strong_signal_is_learned(strong_runs):
    assert strong_criterion(strong_runs), strong_runs


REALISTIC_SEEDS, STRONG_SEEDS = range(1, 5), range(1, 7)


def test_a_realistic_signal_orders_the_weights_better_than_chance(real_panel):
    runs = [learned(real_panel, REALISTIC, seed) for seed in REALISTIC_SEEDS]
    assert realistic_criterion(runs), runs


@pytest.mark.parametrize("ic, seeds, criterion", [(REALISTIC, REALISTIC_SEEDS, realistic_criterion),
                                                  (STRONG, STRONG_SEEDS, strong_criterion)])
def test_with_the_signal_shuffled_across_stocks_the_same_criteria_fail(real_panel, ic, seeds, criterion):
    """The placebo: the same learner (lr > 0, same seeds, same market and noise draws) on returns planted with
    ``z`` permuted across stocks each month, so the features say nothing about the returns. A criterion met
    here would be met by luck or by something other than the signal; it must not be. (An lr=0 control could
    not fail: the zero head stays at 1/N, rank correlation 0 by construction.) Measured: mean rank corr
    -0.02..0.04 and |t| < 2.3 in every seed."""
    shuffled = [learned(real_panel, ic, seed, shuffle=True) for seed in seeds]
    assert not criterion(shuffled), shuffled
    assert all(abs(r["mean_rank_corr"]) < 0.1 for r in shuffled), shuffled  # no learned ordering at all


def test_shuffling_permutes_the_planted_signal_and_keeps_market_and_noise(real_panel):
    plain, shuffled = (planted_months(real_panel, REALISTIC, 3, signal="mean", shuffle=s) for s in (False, True))
    for a, b in zip(plain, shuffled):
        assert sorted(a.z) == pytest.approx(sorted(b.z)) and not np.array_equal(a.z, b.z)
        r_a, r_b = np.array(list(a.returns.values())), np.array(list(b.returns.values()))
        coefficient = (r_a - r_b) / np.where(a.z != b.z, a.z - b.z, np.nan)  # the same b, market and noise
        assert np.nanstd(coefficient) < 1e-9 and np.nanmean(coefficient) > 0


# --- the options, on hand-made months ---
N, T, F = 12, 21, 42


def month(seed: int) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, T, F)).astype(np.float32), np.ones((N, T), bool),
            {i: float(r) for i, r in enumerate(rng.normal(0.01, 0.08, N))})


def run(learner: OnlineAllocator, seeds) -> list[np.ndarray]:
    out = []
    for s in seeds:
        features, mask, returns = month(s)
        out.append(learner.allocate(features, mask, list(range(N))))
        learner.learn(returns)
    return out


def test_demeaning_returns_changes_the_loss_but_not_a_single_weight():
    plain, demeaned = (OnlineAllocator.from_config(tiny_config(demean_returns=d, replay_months=2))
                       for d in (False, True))
    for a, b in zip(run(plain, range(4)), run(demeaned, range(4))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)


def test_replay_holds_only_closed_months_up_to_its_capacity_and_changes_the_update():
    replay = OnlineAllocator.from_config(tiny_config(replay_months=2))
    features, mask, _ = month(0)
    replay.allocate(features, mask, list(range(N)))
    assert replay.replay.months == []  # the month is not closed yet: nothing of it may be replayed
    run(replay, range(1, 5))
    assert len(replay.replay.months) == 2 and replay.replay.months[-1].features.dtype == torch.float16
    paper = OnlineAllocator.from_config(tiny_config(replay_months=0))
    assert not np.allclose(run(paper, range(6))[-1], run(OnlineAllocator.from_config(tiny_config(replay_months=2)),
                                                          range(6))[-1])
    assert paper.replay.months == []


def test_replay_accumulates_month_by_month_to_the_gradient_of_the_mean_loss():
    """The replayed update backpropagates one month at a time (peak memory of one month's graph): its gradient
    is the gradient of the mean month loss taken over one graph, and the loss it reports is that mean."""
    learner = OnlineAllocator.from_config(tiny_config(replay_months=3, turnover_penalty=0.01))
    run(learner, range(5))
    batch = learner.replay.months[::-1]
    assert len(batch) == 3
    params = [p for p in learner.model.parameters() if p.requires_grad]
    learner.model.train()
    learner.optimizer.zero_grad(set_to_none=True)
    mean = torch.stack([learner.month_loss(learner.model(m.features.float(), m.step_mask, m.present), m)
                        for m in batch]).mean()
    mean.backward()
    one_graph = [p.grad.clone() for p in params]
    learner.optimizer.zero_grad(set_to_none=True)
    reported = learner._accumulate_gradients(batch)
    assert reported == pytest.approx(float(mean.detach()), rel=1e-6)
    for a, b in zip(one_graph, (p.grad for p in params)):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-8)
    assert any(float(g.abs().sum()) > 0 for g in one_graph)


def test_the_lr_halves_every_half_life_of_months_learned():
    learner = OnlineAllocator.from_config(tiny_config(lr=0.02, lr_half_life_months=2.0))
    assert learner.current_lr() == pytest.approx(0.02)
    run(learner, range(4))
    assert learner.current_lr() == pytest.approx(0.005)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5 ** 1.5)  # the 4th month's step


def test_a_turnover_penalty_keeps_the_weights_closer_to_the_previous_ones():
    def turnover(penalty: float) -> float:
        weights = run(OnlineAllocator.from_config(tiny_config(turnover_penalty=penalty, lr=0.05, steps_per_update=3)),
                      [0, 0, 0, 0])
        return float(np.abs(np.diff(weights, axis=0)).sum())
    assert turnover(0.5) < turnover(0.0)


def test_standardise_gives_zero_mean_unit_variance_over_valid_present_steps_only():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(3.0, 5.0, size=(6, 4, 2)), dtype=torch.float32)
    mask = torch.ones(6, 4, dtype=torch.bool)
    mask[0, :2] = False
    present = torch.tensor([True] * 5 + [False])
    z = standardise(x, mask, present)
    valid = mask & present.unsqueeze(1)
    assert (z[~valid] == 0).all()
    for t in range(4):
        column = z[valid[:, t], t]
        assert torch.allclose(column.mean(0), torch.zeros(2), atol=1e-5)
        assert torch.allclose(column.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    x[5] = 1e6  # an absent stock does not move the others
    assert torch.equal(standardise(x, mask, present), z)


def test_random_head_is_seeded_and_not_equal_weight():
    a, b = (OnlineAllocator.from_config(tiny_config(head_init="random")).allocate(*month(9)[:2], list(range(N)))
            for _ in range(2))
    assert np.array_equal(a, b) and a.std() > 0


@pytest.mark.parametrize("changes", [dict(replay_months=2, turnover_penalty=0.01, lr_half_life_months=3.0,
                                          standardise_features=True)])
def test_resume_with_replay_continues_exactly_like_an_uninterrupted_run(tmp_path, changes):
    straight = OnlineAllocator.from_config(tiny_config(**changes))
    run(straight, range(3))
    save_to_store(ObjectStore(tmp_path), "perl/replay", straight)
    resumed = OnlineAllocator.from_config(tiny_config(**changes))
    assert resume_from_store(ObjectStore(tmp_path), "perl/replay", resumed, stamp="s1").resumed
    assert len(resumed.replay.months) == 2 and resumed.replay.held == straight.replay.held
    assert all(torch.equal(a.features, b.features) for a, b in zip(straight.replay.months, resumed.replay.months))
    assert [w.tolist() for w in run(straight, range(3, 6))] == [w.tolist() for w in run(resumed, range(3, 6))]
    assert math.isclose(straight.current_lr(), resumed.current_lr())


def test_the_harness_merges_its_results_under_a_lock_and_publishes_them_atomically(tmp_path):
    """Eight grid chunks (``--only``) publishing into one file at once: every chunk's row is kept, a chunk's
    rerun replaces its own row, and no temporary file is left beside the result."""
    out = tmp_path / "planted.json"
    row = lambda seed, value: {"setting": {"lr": 0.01}, "ic": 0.05, "seed": seed, "mean_rank_corr": value}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda seed: publish(out, {"months": 36}, [row(seed, 0.1)], merge=True), range(8)))
    publish(out, {"months": 36}, [row(3, 0.5)], merge=True)
    saved = json.loads(out.read_text())
    assert saved["months"] == 36 and sorted(r["seed"] for r in saved["rows"]) == list(range(8))
    assert [r["mean_rank_corr"] for r in saved["rows"] if r["seed"] == 3] == [0.5]
    assert [p.name for p in tmp_path.iterdir()] == ["planted.json"]
    publish(out, {"months": 12}, [row(9, 0.2)], merge=False)  # a whole grid replaces the file
    assert [r["seed"] for r in json.loads(out.read_text())["rows"]] == [9]
