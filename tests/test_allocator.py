"""The Chronos-LoRA allocator with tiny Chronos-T5 configurations built in code (no downloads)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lean_local.engine.object_store import ObjectStore
from models.allocator import (AllocatorConfig, BackboneLoadError, OnlineAllocator, allocation_loss, build_random,
                              checkpoint_keys, chronos_t5_config, entropy, load_backbone, resume_from_store,
                              save_to_store)
from models.allocator.checkpoint import checkpoint_files
from models.allocator.network import AllocatorNetwork
from models.allocator.precision import keep_in_fp32

ROOT = Path(__file__).resolve().parents[1]
TINY = {"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 4, "d_kv": 8, "vocab_size": 64, "dropout_rate": 0.0}
N, T, F = 30, 21, 42


def tiny_config(**changes) -> AllocatorConfig:
    settings = dict(model_id="amazon/chronos-t5-tiny", weights="random", seed=7, backbone_overrides=dict(TINY))
    settings.update(changes)
    return AllocatorConfig(**settings)


def month(seed: int, n: int = N) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, T, F)).astype(np.float32)
    mask = np.ones((n, T), dtype=bool)
    returns = {i: float(r) for i, r in enumerate(rng.normal(0.01, 0.08, n))}
    return features, mask, returns


def trainable_state(learner: OnlineAllocator) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in learner.model.named_parameters() if p.requires_grad}


# --- weights ---
def test_weights_are_long_only_sum_to_one_and_respect_the_mask():
    learner = OnlineAllocator.from_config(tiny_config())
    features, mask, _ = month(0)
    mask[2] = False  # no history at all
    mask[5, -1] = False  # no value at the decision time
    mask[7, :15] = False  # less than half the window
    mask[9, :5] = False  # partial but enough: present
    weights = learner.allocate(features, mask, list(range(N)))
    assert weights.shape == (N,)
    assert (weights >= 0).all() and weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert weights[[2, 5, 7]].tolist() == [0.0, 0.0, 0.0]
    assert weights[9] > 0
    # An untrained allocator (zero-initialised head) is the equal-weight baseline over the present stocks.
    assert np.allclose(weights[weights > 0], 1 / (N - 3))


def test_no_present_stock_gives_no_weights_and_bad_shapes_are_named():
    learner = OnlineAllocator.from_config(tiny_config())
    features, mask, _ = month(0)
    assert learner.allocate(features, np.zeros_like(mask), list(range(N))).sum() == 0
    with pytest.raises(ValueError, match="features per step"):
        learner.allocate(features[:, :, :40], mask, list(range(N)))
    with pytest.raises(ValueError, match="do not line up"):
        learner.allocate(features, mask, list(range(N - 1)))


@pytest.mark.parametrize("pooling", ["encoder_mean", "decoder_first"])
def test_both_poolings_train_and_stay_normalised(pooling):
    learner = OnlineAllocator.from_config(tiny_config(pooling=pooling, steps_per_update=3))
    features, mask, returns = month(1)
    learner.allocate(features, mask, list(range(N)))
    learner.learn(returns)
    weights = learner.allocate(features, mask, list(range(N)))
    assert weights.sum() == pytest.approx(1.0) and weights.std() > 0
    assert (learner.model.base_model.model.decoder is not None) == (pooling == "decoder_first")


# --- the loss ---
def optimum(returns: torch.Tensor, eta: float, sign: float = 1.0, steps: int = 1500) -> torch.Tensor:
    """Minimise the loss over free softmax logits (what the model could reach with enough capacity)."""
    logits = torch.zeros_like(returns, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        w = torch.softmax(logits, 0)
        loss = allocation_loss(w, returns, eta) if sign > 0 else -(w * returns).sum() + eta * entropy(w)
        loss.backward()
        opt.step()
    return torch.softmax(logits.detach(), 0)


def test_entropy_is_zero_for_one_stock_and_log_n_for_equal_weights():
    assert float(entropy(torch.tensor([1.0, 0.0, 0.0]))) == pytest.approx(0.0, abs=1e-6)
    assert float(entropy(torch.full((50,), 0.02))) == pytest.approx(math.log(50), abs=1e-5)
    w, r = torch.tensor([0.5, 0.5]), torch.tensor([0.1, -0.1])
    assert float(allocation_loss(w, r, eta=0.2)) == pytest.approx(0.0 - 0.2 * math.log(2), abs=1e-6)


def test_equal_returns_make_the_uniform_portfolio_optimal():
    w = optimum(torch.full((20,), 0.03), eta=0.01)
    assert float(entropy(w)) == pytest.approx(math.log(20), abs=1e-4)
    # The paper's sign as printed (+eta*H) would do the opposite: concentrate on one stock.
    printed = optimum(torch.full((20,), 0.03) + torch.linspace(0, 1e-4, 20), eta=0.01, sign=-1.0)
    assert float(printed.max()) > 0.9


def test_larger_eta_gives_a_higher_entropy_optimum_equal_to_softmax_r_over_eta():
    returns = torch.tensor(np.random.default_rng(3).normal(0, 0.05, 25), dtype=torch.float32)
    low, high = optimum(returns, eta=0.01), optimum(returns, eta=0.1)
    assert float(entropy(high)) > float(entropy(low)) + 0.5
    assert torch.allclose(high, torch.softmax(returns / 0.1, 0), atol=1e-3)


# --- online learning ---
def test_one_online_step_lowers_that_months_loss_and_leaves_the_backbone_alone():
    learner = OnlineAllocator.from_config(tiny_config())
    base = {n: p.detach().clone() for n, p in learner.model.named_parameters() if not p.requires_grad}
    features, mask, returns = month(2)
    learner.allocate(features, mask, list(range(N)))
    decision = learner.pending
    r = torch.tensor([returns[i] for i in range(N)])
    before = learner.evaluate(decision, r)
    report = learner.learn(returns)
    after = learner.evaluate(decision, r)
    assert report.skipped == 0 and report.loss == pytest.approx(before, abs=1e-6)
    assert after < before
    assert all(torch.equal(p, base[n]) for n, p in learner.model.named_parameters() if not p.requires_grad)
    moved = learner.allocate(features, mask, list(range(N)))
    assert not np.allclose(moved, decision.weights) and np.isfinite(moved).all()


def test_only_adapter_projection_and_head_are_trainable():
    config = tiny_config(lora_targets="q,k,v,o,wi,wo")
    learner = OnlineAllocator.from_config(config)
    names = learner.trainable_parameter_names()
    assert names and all(".lora_" in n or "modules_to_save" in n for n in names)
    assert {n.split(".")[2] for n in names if "modules_to_save" in n} == {"feature_projection", "score_head"}
    d, ff, r, layers = TINY["d_model"], TINY["d_ff"], config.lora_r, TINY["num_layers"]
    lora = layers * r * (4 * 2 * d + (d + ff) + (ff + d))  # q,k,v,o + wi + wo in each encoder block
    heads = (F * d + d) + (d + 1)
    assert sum(p.numel() for p in learner.model.parameters() if p.requires_grad) == lora + heads


def test_same_seed_same_weights_over_three_months_and_another_seed_differs():
    def run(seed: int) -> list[np.ndarray]:
        learner = OnlineAllocator.from_config(tiny_config(seed=seed, lora_dropout=0.1,
                                                          backbone_overrides=TINY | {"dropout_rate": 0.1}))
        out = []
        for m in range(3):
            features, mask, returns = month(10 + m)
            out.append(learner.allocate(features, mask, list(range(N))))
            learner.learn(returns)
        return out

    first, again, other = run(11), run(11), run(12)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.allclose(first[2], other[2])


# --- precision ---
def test_fp16_skips_non_finite_steps_and_keeps_the_last_good_adapter():
    learner = OnlineAllocator.from_config(tiny_config(precision="fp16"))
    assert learner.precision.uses_scaler
    features, mask, returns = month(4)
    learner.allocate(features, mask, list(range(N)))
    learner.learn(returns)  # one good step first: the optimizer has state to protect
    good, opt_state = trainable_state(learner), json.dumps(learner.optimizer.state_dict()["param_groups"])
    scale = learner.scaler.get_scale()

    learner.allocate(features * 1e6, mask, list(range(N)))  # fp16 activations overflow -> non-finite loss
    assert learner.learn(returns).skipped == 1
    learner.allocate(features, mask, list(range(N)))
    assert learner.learn({i: 1e36 for i in range(N)}).skipped == 1  # finite loss, gradients overflow when scaled
    after = trainable_state(learner)
    assert all(torch.equal(after[n], good[n]) for n in good)
    assert json.dumps(learner.optimizer.state_dict()["param_groups"]) == opt_state
    assert learner.scaler.get_scale() < scale  # the scaler backed off
    assert learner.steps_skipped == 2

    learner.allocate(features, mask, list(range(N)))
    assert learner.learn(returns).skipped == 0
    assert any(not torch.equal(p, good[n]) for n, p in trainable_state(learner).items())


def test_feed_forward_in_fp32_prevents_the_t5_fp16_overflow():
    t5 = build_random("tiny", seed=0, **TINY)
    with torch.no_grad():
        for block in t5.encoder.block:
            block.layer[-1].DenseReluDense.wo.weight.mul_(1e9)  # random init is small: push wo past 65504
    network = AllocatorNetwork(t5, F, "encoder_mean").eval()
    x, mask = torch.randn(4, T, F), torch.ones(4, T, dtype=torch.bool)
    with torch.no_grad():
        reference = network.summarise(x, mask)
        with torch.autocast("cpu", dtype=torch.float16):
            naive = network.summarise(x, mask)
        keep_in_fp32(network)
        with torch.autocast("cpu", dtype=torch.float16):
            guarded = network.summarise(x, mask)
    assert torch.isfinite(reference).all() and not torch.isfinite(naive).all()
    assert torch.isfinite(guarded).all()
    assert torch.allclose(guarded.float(), reference, atol=0.05, rtol=0.02)


@pytest.mark.gpu
def test_auto_precision_on_cuda_trains_finite():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    learner = OnlineAllocator.from_config(tiny_config(device="cuda"))
    major, _ = torch.cuda.get_device_capability()
    assert learner.precision.name == ("bf16" if major >= 8 else "fp16")
    features, mask, returns = month(5)
    learner.allocate(features, mask, list(range(N)))
    assert learner.learn(returns).skipped == 0
    assert np.isfinite(learner.allocate(features, mask, list(range(N)))).all()


# --- backbone ---
def test_architectures_match_the_published_parameter_counts():
    counts = {"tiny": 8.4e6, "mini": 20.5e6, "small": 46.2e6, "base": 201.4e6, "large": 709.0e6}
    from transformers import T5ForConditionalGeneration

    for size, expected in counts.items():
        with torch.device("meta"):
            model = T5ForConditionalGeneration(chronos_t5_config(size))
        assert sum(p.numel() for p in model.parameters()) == pytest.approx(expected, rel=0.01), size


def test_pretrained_loads_through_chronos_from_a_local_path(tmp_path):
    saved = build_random("tiny", seed=3, **TINY)
    path = tmp_path / "my-chronos-t5-tiny"
    saved.save_pretrained(path)
    model, info = load_backbone(str(path), "pretrained", seed=0)
    assert info.source == "pretrained" and info.warning is None and info.size == "tiny"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), saved.state_dict().values()))


def test_random_weights_are_never_silent(tmp_path):
    missing = str(tmp_path / "nowhere" / "chronos-t5-mini")
    with pytest.raises(BackboneLoadError, match="weights=auto"):
        load_backbone(missing, "pretrained", seed=0)
    model, info = load_backbone(missing, "auto", seed=0, overrides=TINY)
    assert info.source == "random" and "fell back to random" in info.warning and "RANDOM" in info.describe()
    with pytest.raises(BackboneLoadError, match="does not say which"):
        load_backbone(str(tmp_path / "some-model"), "random", seed=0)


def test_parameters_parse_from_lean_strings_and_bad_values_are_named():
    config = AllocatorConfig.from_parameters({"lr": "0.001", "lora_r": "4", "lora_targets": "q,v,wi",
                                              "steps_per_update": "2", "unrelated": "x"})
    assert (config.lr, config.lora_r, config.lora_targets, config.steps_per_update) == (0.001, 4, ("q", "v", "wi"), 2)
    assert config.model_id == "amazon/chronos-t5-large" and config.weights == "pretrained"
    learning = AllocatorConfig.from_parameters({"head_init": "random", "replay_months": "12", "demean_returns": "true",
                                                "turnover_penalty": "0.02", "standardise_features": "yes",
                                                "lr_half_life_months": "24"})
    assert (learning.head_init, learning.replay_months, learning.demean_returns, learning.turnover_penalty,
            learning.standardise_features, learning.lr_half_life_months) == ("random", 12, True, 0.02, True, 24.0)
    with pytest.raises(ValueError, match="head_init='gaussian'"):
        AllocatorConfig.from_parameters({"head_init": "gaussian"})
    with pytest.raises(ValueError, match="replay_months=-1"):
        AllocatorConfig.from_parameters({"replay_months": "-1"})
    with pytest.raises(ValueError, match="precision='fp8'"):
        AllocatorConfig.from_parameters({"precision": "fp8"})
    with pytest.raises(ValueError, match="lora_targets"):
        AllocatorConfig.from_parameters({"lora_targets": "q,attn"})
    with pytest.raises(ValueError, match="lora_r='four'"):
        AllocatorConfig.from_parameters({"lora_r": "four"})


# --- checkpoints ---
def trained_learner(config: AllocatorConfig | None = None) -> OnlineAllocator:
    learner = OnlineAllocator.from_config(config or tiny_config())
    for m in range(2):
        features, mask, returns = month(20 + m)
        learner.allocate(features, mask, list(range(N)))
        learner.learn(returns)
    return learner


def test_adapter_round_trip_in_a_fresh_process_gives_identical_weights(tmp_path):
    learner = trained_learner()
    files = checkpoint_files(learner)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert {"adapter_model.safetensors", "adapter_config.json"} <= set(files)
    from safetensors.torch import load as load_safetensors  # every tensor file is safetensors, the rest JSON

    assert all(load_safetensors(data) for name, data in files.items() if name.endswith(".safetensors"))
    assert all(json.loads(data) for name, data in files.items() if name.endswith(".json"))
    features, mask, _ = month(30)
    np.save(tmp_path / "features.npy", features)
    expected = learner.allocate(features, mask, list(range(N)))
    script = f"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, {str(ROOT / 'Library')!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})
from test_allocator import tiny_config, N, T
from models.allocator import OnlineAllocator
from models.allocator.checkpoint import restore_files
learner = OnlineAllocator.from_config(tiny_config())
folder = Path({str(tmp_path)!r})
restore_files(learner, {{p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in ('.json', '.safetensors')}})
weights = learner.allocate(np.load(folder / 'features.npy'), np.ones((N, T), bool), list(range(N)))
print(json.dumps([learner.months_learned, weights.tolist()]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    months, weights = json.loads(out.stdout.strip().splitlines()[-1])
    assert months == 2
    assert np.array_equal(np.asarray(weights), expected)


@pytest.mark.parametrize("learning", [{}, {"replay_months": 1, "turnover_penalty": 0.01, "lr_half_life_months": 2.0}])
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, learning):
    store = ObjectStore(tmp_path)
    straight = trained_learner(tiny_config(**learning))
    save_to_store(store, "perl/test", straight)
    resumed = OnlineAllocator.from_config(tiny_config(**learning))
    outcome = resume_from_store(store, "perl/test", resumed, stamp="s1")
    assert outcome.resumed and not outcome.rejected and resumed.months_learned == 2
    for learner in (straight, resumed):
        features, mask, returns = month(40)
        learner.allocate(features, mask, list(range(N)))
        learner.learn(returns)
    features, mask, _ = month(41)
    assert np.array_equal(straight.allocate(features, mask, list(range(N))),
                          resumed.allocate(features, mask, list(range(N))))


def stored_checkpoint(tmp_path: Path) -> tuple[ObjectStore, dict[str, bytes]]:
    store = ObjectStore(tmp_path)
    save_to_store(store, "perl/test", trained_learner(), extra={"trained_through": "2012-06-29 18:00:00"})
    return store, {name: store.read_bytes(key) for name, key in checkpoint_keys(store, "perl/test").items()}


def assert_fresh_and_kept(store: ObjectStore, learner: OnlineAllocator, outcome, original: dict[str, bytes]) -> None:
    fresh = OnlineAllocator.from_config(learner.config)
    assert not outcome.resumed and outcome.rejected and "Starting fresh" in outcome.message
    assert learner.months_learned == 0
    assert all(torch.equal(a, b) for a, b in zip(trainable_state(learner).values(), trainable_state(fresh).values()))
    kept = outcome.message.split("kept under '")[1].rstrip("'/")
    assert {name: store.read_bytes(f"{kept}/{name}") for name in original} == original
    assert {name: store.read_bytes(key) for name, key in checkpoint_keys(store, "perl/test").items()} == original


def test_a_corrupted_adapter_is_reported_kept_and_not_loaded(tmp_path):
    store, original = stored_checkpoint(tmp_path)
    key = checkpoint_keys(store, "perl/test")["adapter_model.safetensors"]
    corrupted = bytearray(original["adapter_model.safetensors"])
    corrupted[-8:] = b"\xff" * 8
    store.save_bytes(key, bytes(corrupted))
    original["adapter_model.safetensors"] = bytes(corrupted)
    learner = OnlineAllocator.from_config(tiny_config())
    outcome = resume_from_store(store, "perl/test", learner, stamp="s2")
    assert "adapter_model.safetensors" in outcome.message and "checksum" in outcome.message
    assert_fresh_and_kept(store, learner, outcome, original)


def test_every_learning_option_is_an_algorithm_parameter_with_its_default_in_config_json():
    import ast

    main = ast.parse((ROOT / "algorithms" / "perl_portfolio" / "main.py").read_text())
    names = next(ast.literal_eval(node.value) for node in main.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", "") == "PARAMETERS")
    defaults = json.loads((ROOT / "algorithms" / "perl_portfolio" / "config.json").read_text())["parameters"]
    learning = ("head_init", "replay_months", "demean_returns", "turnover_penalty", "standardise_features",
                "lr_half_life_months")
    assert set(learning) <= set(names) and set(names) == set(defaults)
    assert AllocatorConfig.from_parameters(defaults).to_dict() == AllocatorConfig().to_dict()
    # Standardisation changes what an adapter's inputs mean; the training settings do not.
    assert "standardise_features" in AllocatorConfig().identity()
    assert not {"replay_months", "turnover_penalty", "lr_half_life_months", "demean_returns"} & set(
        AllocatorConfig().identity())


def test_an_incompatible_adapter_is_reported_with_the_differing_settings(tmp_path):
    store, original = stored_checkpoint(tmp_path)
    learner = OnlineAllocator.from_config(tiny_config(lora_r=4))
    outcome = resume_from_store(store, "perl/test", learner, stamp="s3")
    assert "other settings" in outcome.message and "lora_r" in outcome.message
    assert_fresh_and_kept(store, learner, outcome, original)


def test_a_checkpoint_trained_after_the_run_starts_is_refused_as_look_ahead(tmp_path):
    store, original = stored_checkpoint(tmp_path)
    learner = OnlineAllocator.from_config(tiny_config())
    outcome = resume_from_store(store, "perl/test", learner, stamp="s4", not_after="2010-01-04")
    assert "look-ahead" in outcome.message
    assert_fresh_and_kept(store, learner, outcome, original)
    later = OnlineAllocator.from_config(tiny_config())
    assert resume_from_store(store, "perl/test", later, stamp="s5", not_after="2012-07-02").resumed
