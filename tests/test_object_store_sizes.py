"""What the models put in LEAN's object store, and what happens over its quota.

QuantConnect's cloud gives an organization 50 MB of object store; over the quota LEAN's ``SaveBytes``
returns False and only logs (``Lean:Engine/Storage/LocalObjectStore.cs`` L377-438). These tests pin:
the local store refuses like LEAN, the model package turns a refusal into an error naming key and
size, each model's running state with its DEFAULT configuration (chronos-t5-large; pretrained gpt2,
full width) is at most 20 MB, and a state loads only onto the base weights it was trained on.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2Model

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.object_store import (DEFAULT_STORAGE_FILE_COUNT, DEFAULT_STORAGE_LIMIT, ObjectStore,
                                            StorageLimitExceededError, configured_store)
from lean_local.engine.quantbook import QuantBook
from lean_local.engine.runner import run_backtest
from markets import write_project
from models.allocator import AllocatorConfig, OnlineAllocator
from models.allocator.backbone import build_random, chronos_t5_config
from models.allocator.checkpoint import checkpoint_files, resume_from_store, save_to_store
from models.llm4fts import LLM4FTSRanker, RankerConfig
from models.llm4fts.checkpoint import (RUNNING, RUNNING_MANIFEST, STAGE1, STAGE1_MANIFEST, resume_running,
                                       save_running, state_files)
from models.llm4fts.network import LLM4FTSNetwork
from models.llm4fts.patching import patch_starts
from models.llm4fts.ranker import CrossSection
from models.stored_state import LARGE_FILE_BYTES, ObjectStoreSaveError, save_file
from models.weights_info import WeightsInfo

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 20_000_000  # bytes: "20 MB" in the strict decimal sense (LEAN's MB, 2^20 bytes, would allow 20,971,520)


# --- the local object store: LEAN's quota rules ---
def test_a_save_over_the_quota_returns_false_and_writes_nothing(tmp_path):
    errors: list[str] = []
    store = ObjectStore(tmp_path, max_size=1000, max_files=3, on_error=errors.append)
    assert store.save_bytes("a/one.bin", b"x" * 600)
    assert not store.save_bytes("a/two.bin", b"y" * 401)  # 600 + 401 > 1000
    assert not (tmp_path / "a" / "two.bin").exists()
    assert errors == ["ObjectStore Persistence Error: You have reached the ObjectStore storage capacity limit: "
                      "0.00MB/0.00MB. Unable to save the new file. You can find the limit with the "
                      "ObjectStore.MaxSize property."]
    assert store.save_bytes("a/two.bin", b"y" * 400)  # exactly at the limit is allowed (LEAN: > MaxSize fails)
    assert store.save_bytes("a/one.bin", b"z" * 600)  # replacing a key does not count its old size
    assert store.read_bytes("a/one.bin") == b"z" * 600
    assert store.save_bytes("b.bin", b"") and not store.save_bytes("c.bin", b"")  # a 4th file: over max_files
    assert "limit for files it can save: 4/3" in errors[-1]


def test_in_research_a_save_over_the_quota_raises_like_leans_quantbook(tmp_path):
    store = ObjectStore(tmp_path, max_size=10, research=True)
    with pytest.raises(StorageLimitExceededError, match="storage capacity limit"):
        store.save_bytes("big.bin", b"x" * 11)


def test_get_file_path_then_save_registers_the_file_and_checks_the_quota(tmp_path):
    store = ObjectStore(tmp_path, max_size=100)
    path = Path(store.get_file_path("models/deep/weights.safetensors"))
    assert path == tmp_path / "models" / "deep" / "weights.safetensors" and path.parent.is_dir()
    with pytest.raises(ValueError, match="There is no file associated with path"):
        store.save("models/deep/weights.safetensors")  # LEAN's Save(path) with nothing written there
    path.write_bytes(b"w" * 100)
    assert store.save("models/deep/weights.safetensors") and store.contains_key("models/deep/weights.safetensors")
    path.write_bytes(b"w" * 101)
    assert not store.save("models/deep/weights.safetensors")


def test_the_quota_comes_from_lean_json_with_leans_defaults(tmp_path):
    assert (configured_store(tmp_path).max_size, configured_store(tmp_path).max_files) == (10_737_418_240, 10_000)
    assert (DEFAULT_STORAGE_LIMIT, DEFAULT_STORAGE_FILE_COUNT) == (10 * 1024 ** 3, 10_000)
    (tmp_path / "lean.json").write_text('{\n  // the free cloud tier\n  "storage-limit": 52428800,\n'
                                        '  "storage-file-count": 500\n}\n')
    store = configured_store(tmp_path)
    assert (store.max_size, store.max_files, store.root) == (52_428_800, 500, tmp_path / "storage")


# --- the model package: a refusal is an error naming key and size ---
@pytest.mark.parametrize("size", [10, LARGE_FILE_BYTES])  # through save_bytes, and through get_file_path + save
def test_a_refused_save_raises_an_error_naming_the_key_and_the_size(tmp_path, size):
    store = ObjectStore(tmp_path, max_size=size - 1)
    with pytest.raises(ObjectStoreSaveError) as caught:
        save_file(store, "perl/adapter_model.safetensors", b"x" * size)
    assert caught.value.key == "perl/adapter_model.safetensors" and caught.value.size == size
    assert "'perl/adapter_model.safetensors'" in str(caught.value) and f"{size:,} bytes" in str(caught.value)
    assert not store.contains_key("perl/adapter_model.safetensors")  # no file left behind that the store refused


def test_a_large_file_goes_through_get_file_path_and_reads_back(tmp_path):
    store = ObjectStore(tmp_path)
    data = bytes(range(256)) * (LARGE_FILE_BYTES // 256 + 1)
    save_file(store, "llm4fts/stage1/model.safetensors", data)
    assert (tmp_path / "llm4fts" / "stage1" / "model.safetensors").read_bytes() == data


def test_the_running_state_over_quota_raises_before_its_manifest_is_written(tmp_path):
    ranker = small_ranker()
    store = ObjectStore(tmp_path, max_size=1000)
    with pytest.raises(ObjectStoreSaveError, match="'llm4fts_ranker/t/gen-1/model.safetensors'"):
        save_running(store, "llm4fts_ranker/t", ranker, {"trained_through": "2015-01-01"})
    assert not store.contains_key(f"llm4fts_ranker/t/gen-1/{RUNNING_MANIFEST}")
    assert [key for key in store.keys if "/gen-" in key or key.endswith("current.json")] == []  # nothing left


def test_the_algorithm_reports_a_refused_checkpoint_as_an_error_with_key_and_size(tmp_path):
    market = tmp_path / "market"
    write_synthetic_market(market, seed=3, start="2009-01-02", end="2010-06-30")
    main = (ROOT / "algorithms" / "perl_portfolio" / "main.py").read_text()
    project = write_project(tmp_path / "root", "perl_portfolio", main,
                            {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "seed": "3"})
    (tmp_path / "root" / "lean.json").write_text('{"data-folder": "data", "storage-limit": 20000}')
    result = run_backtest(project, data_dir=market, start="2010-01-01", end="2010-02-28", progress=False,
                          output=tmp_path / "out")
    log = (result.output_dir / "log.txt").read_text()
    key = "perl_portfolio/amazon_chronos-t5-tiny_seed3/gen-1/adapter_model.safetensors"
    assert f"perl_portfolio: checkpoint NOT saved: the object store refused to save '{key}'" in log
    assert "ObjectStore Persistence Error: You have reached the ObjectStore storage capacity limit" in log
    assert "adapter not saved" in log and "saved the adapter under" not in log
    assert not (tmp_path / "root" / "storage" / key).exists()
    (tmp_path / "lean.json").write_text('{"storage-limit": 100}')  # a QuantBook over the same data: research
    book = QuantBook(market)
    assert book.object_store.max_size == 100 and book.object_store.root == tmp_path / "storage"
    with pytest.raises(StorageLimitExceededError):
        book.object_store.save_bytes("notes.txt", b"x" * 101)


# --- sizes with each algorithm's default configuration ---
def default_ranker(**changes) -> LLM4FTSRanker:
    """config.json's defaults (openai-community/gpt2, 6 layers, full width) on a GPT-2 built like the
    pretrained one (1024 positions) with random weights: the stored tensors have the same shapes.
    SIPR adds no parameters, so it is left out."""
    config = RankerConfig(model_id="openai-community/gpt2", weights="random", use_sipr=False, device="cpu",
                          **changes)
    torch.manual_seed(0)
    backbone = GPT2Model(GPT2Config(n_layer=config.gpt_layers, resid_pdrop=0.2, embd_pdrop=0.2, attn_pdrop=0.2))
    network = LLM4FTSNetwork(config, backbone)
    info = WeightsInfo(config.model_id, "pretrained", "pretrained", "gpt2", family="GPT-2")
    return LLM4FTSRanker(config, network, info, None, torch.device("cpu"))


def small_ranker() -> LLM4FTSRanker:
    config = RankerConfig(model_id="gpt2", weights="random", gpt_layers=2, gpt_width=32, gpt_heads=2,
                          use_sipr=False, device="cpu", seed=5)
    return LLM4FTSRanker.from_config(config)


def one_month(ranker: LLM4FTSRanker, seed: int = 0) -> None:
    """One stage-2 step on a random 4-stock cross-section, so the optimizer has its state."""
    rng = np.random.default_rng(seed)
    cfg = ranker.config
    section = CrossSection(rng.normal(size=(4, 5, cfg.lookback_days)).astype(np.float32),
                           patch_starts(cfg.lookback_days, cfg.patch_length, cfg.patch_stride),
                           rng.normal(scale=0.05, size=4))
    assert ranker.finetune([section]).losses


def with_optimizer_state(ranker: LLM4FTSRanker) -> LLM4FTSRanker:
    """Adam's moments for every stage-2 parameter, as after a step (a real step at full width takes ~20 s
    on a CPU here; the state's shapes, hence its size, are the same)."""
    for parameter in ranker.finetune_parameters:
        parameter.grad = torch.zeros_like(parameter)
    ranker.optimizer.step()
    return ranker


def test_training_changes_only_what_each_saved_state_holds():
    ranker = small_ranker()
    before = {k: v.clone() for k, v in ranker.network.state_dict().items()}
    rng = np.random.default_rng(1)
    cfg = ranker.config
    assert np.isfinite(ranker.pretrain_step(rng.normal(size=(6, cfg.lookback_days + cfg.patch_stride)),
                                            patch_starts(cfg.lookback_days, cfg.patch_length, cfg.patch_stride)))
    after_stage1 = {k: v.clone() for k, v in ranker.network.state_dict().items()}
    changed = {k for k in before if not torch.equal(before[k], after_stage1[k])}
    assert changed <= ranker.network.stored_keys("all") and "backbone.h.0.attn.c_attn.weight" in changed
    one_month(ranker)
    one_month(ranker, 1)  # head_init=zero: the first step reaches the score head only, the second GPT-2
    changed = {k for k in before if not torch.equal(after_stage1[k], ranker.network.state_dict()[k])}
    assert changed <= ranker.network.stored_keys("ln_wpe") and "backbone.wpe.weight" in changed


def test_llm4fts_default_running_state_holds_only_what_stage2_trains_and_fits_20_mb():
    ranker = with_optimizer_state(default_ranker())
    files = state_files(ranker, RUNNING_MANIFEST, RUNNING, {"trained_through": "2015-01-01"})
    tensors = ranker.network.stored_keys("ln_wpe")
    assert "backbone.wpe.weight" in tensors and "backbone.h.5.ln_2.weight" in tensors
    assert not any(".attn." in k or ".mlp." in k or "wte" in k for k in tensors)
    assert ranker.network.backbone.wpe.weight.shape == (64, 768)  # positions 0..63 of 1024: the rest never used
    stored = sum(ranker.network.state_dict()[k].numel() for k in tensors)
    # GPT-2: wpe 64 x 768, 6 blocks x 2 layer norms x 2 x 768, ln_f 2 x 768; outside: patch, low and high
    # embeddings 3 x (8 x 768 + 768), next-patch head 768 x 8 + 8, score head 15 x 768 + 1, wavelet 5 x 8.
    assert stored == 64 * 768 + 6 * 4 * 768 + 2 * 768 + 3 * 6912 + 6152 + 11521 + 40 == 107_569
    total = sum(map(len, files.values()))
    assert 12 * stored < total < 12 * stored + 40_000  # weights + two Adam moments, 4 bytes each, and headers
    assert total <= LIMIT


def test_llm4fts_default_stage1_artifact_holds_every_block_but_no_token_embeddings():
    ranker = default_ranker()
    files = state_files(ranker, STAGE1_MANIFEST, STAGE1, {"trained_through": "2012-12-31"}, with_optimizer=False)
    manifest = json.loads(files[STAGE1_MANIFEST])
    block = 2 * 768 + 768 * 2304 + 2304 + 768 * 768 + 768 + 2 * 768 + 768 * 3072 + 3072 + 3072 * 768 + 768
    assert block == 7_087_872
    expected = 6 * block + 2 * 768 + 64 * 768 + 3 * 6912 + 6152 + 11521 + 40
    assert manifest["trained"]["parameters"] == expected == 42_616_369
    assert 4 * expected < len(files["model.safetensors"]) < 4 * expected + 40_000
    assert manifest["base"]["tensors"] == 1  # wte: the only GPT-2 tensor stage 1 leaves as it was
    small = default_ranker(pretrain_layers="ln_wpe")
    light = state_files(small, STAGE1_MANIFEST, STAGE1, {"trained_through": "2012-12-31"}, with_optimizer=False)
    assert sum(map(len, light.values())) < 1_000_000


def allocator_on(t5, config: AllocatorConfig) -> OnlineAllocator:
    return OnlineAllocator.from_backbone(config, t5, WeightsInfo(config.model_id, "random", "random", "x", 42))


def trained_shapes(learner: OnlineAllocator) -> dict[str, tuple[int, ...]]:
    return {n: tuple(p.shape) for n, p in learner.model.named_parameters() if p.requires_grad}


def test_perl_default_running_state_fits_20_mb():
    """chronos-t5-large takes too long to build on a CPU in a test, so its trained parameters are counted
    on the meta device, through the learner's own code; the bytes per trained parameter (adapter + two
    AdamW moments, 4 bytes each) and the overhead are measured on a real tiny checkpoint."""
    tiny_config = AllocatorConfig(model_id="amazon/chronos-t5-tiny", weights="random", device="cpu")
    tiny = allocator_on(build_random("tiny", 42), tiny_config)
    rng = np.random.default_rng(0)
    tiny.allocate(rng.normal(size=(6, 21, 42)), np.ones((6, 21), bool), list(range(6)))
    tiny.learn({k: float(r) for k, r in enumerate(rng.normal(scale=0.05, size=6))})
    tiny_bytes = sum(map(len, checkpoint_files(tiny).values()))
    tiny_params = sum(int(np.prod(s)) for s in trained_shapes(tiny).values())
    overhead = tiny_bytes - 12 * tiny_params
    assert 0 < overhead < 60_000
    with torch.device("meta"):
        meta_tiny = allocator_on(build_random_meta("tiny"), AllocatorConfig(model_id="amazon/chronos-t5-tiny",
                                                                             weights="random", device="meta"))
        assert trained_shapes(meta_tiny) == trained_shapes(tiny)  # the meta count is the real one
        large = allocator_on(build_random_meta("large"), AllocatorConfig(weights="random", device="meta"))
    shapes = trained_shapes(large)
    params = sum(int(np.prod(s)) for s in shapes.values())
    # LoRA r 8 on q, k, v, o (1024 -> 1024) of 24 encoder blocks, projection 42 -> 1024, head 1024 -> 1.
    assert params == 24 * 4 * 8 * (1024 + 1024) + 42 * 1024 + 1024 + 1025 == 1_617_921
    per_tensor = overhead / len(trained_shapes(tiny))  # headers grow with the number of tensors
    estimate = 12 * params + per_tensor * len(shapes) + AllocatorConfig().replay_months * replay_month_bytes()
    assert estimate <= LIMIT


def replay_month_bytes(stocks: int = 100) -> int:
    """What one replayed month of a 100-stock universe adds to the stored state, measured on a tiny learner
    (the buffer's size does not depend on the backbone): float16 features, masks, returns, previous weights."""
    learner = allocator_on(build_random("tiny", 42), AllocatorConfig(model_id="amazon/chronos-t5-tiny",
                                                                     weights="random", device="cpu", replay_months=2))
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(2):
        learner.allocate(rng.normal(size=(stocks, 21, 42)), np.ones((stocks, 21), bool), [f"S{i:04d}" for i in
                                                                                         range(stocks)])
        learner.learn({f"S{i:04d}": float(r) for i, r in enumerate(rng.normal(scale=0.05, size=stocks))})
        sizes.append(sum(len(v) for k, v in checkpoint_files(learner).items() if k.startswith("replay")))
    per_month = sizes[1] - sizes[0]
    assert 2 * stocks * 21 * 42 <= per_month < 2 * stocks * 21 * 42 * 1.1  # float16 features dominate
    return per_month


def build_random_meta(size: str):
    from transformers import T5ForConditionalGeneration

    return T5ForConditionalGeneration(chronos_t5_config(size)).eval()


# --- a state loads only onto the base it was trained on ---
def test_a_running_state_is_refused_on_other_base_weights(tmp_path):
    store = ObjectStore(tmp_path)
    trained = small_ranker()
    one_month(trained)
    save_running(store, "llm4fts_ranker/t", trained, {"trained_through": "2015-01-01"})
    manifest = json.loads((tmp_path / "llm4fts_ranker/t/gen-1" / RUNNING_MANIFEST).read_text())
    assert manifest["base"]["model_id"] == "gpt2" and len(manifest["base"]["sha256"]) == 64
    other = small_ranker()
    with torch.no_grad():
        other.network.backbone.h[0].attn.c_attn.weight.add_(1e-3)  # a frozen GPT-2 tensor differs
    outcome = resume_running(store, "llm4fts_ranker/t", other, "s1")
    assert outcome.rejected and "trained on other base weights" in outcome.message
    assert other.months_learned == 0
    same = small_ranker()
    assert resume_running(store, "llm4fts_ranker/t", same, "s2").resumed and same.months_learned == 1


def test_an_adapter_is_refused_on_other_base_weights(tmp_path):
    store = ObjectStore(tmp_path)
    config = AllocatorConfig(model_id="amazon/chronos-t5-tiny", weights="random", device="cpu",
                             backbone_overrides={"num_layers": 1, "d_model": 32, "d_ff": 64, "num_heads": 2,
                                                 "d_kv": 16})
    save_to_store(store, "perl/t", OnlineAllocator.from_config(config))
    other = OnlineAllocator.from_config(config)
    with torch.no_grad():
        next(p for n, p in other.model.named_parameters() if "SelfAttention.q.base_layer" in n).add_(1e-3)
    outcome = resume_from_store(store, "perl/t", other, "s1")
    assert outcome.rejected and "trained on other base weights" in outcome.message
    assert resume_from_store(store, "perl/t", OnlineAllocator.from_config(config), "s2").resumed


def test_temporary_files_of_writes_in_progress_are_neither_keys_nor_counted(tmp_path):
    """Another run sharing storage/ may have an atomic write in flight (``.<name>.<random>.tmp``): it is not a stored
    object, and it may vanish between the quota walk and its stat."""
    store = ObjectStore(tmp_path / "storage", max_files=2)
    assert store.save_bytes("a/one.bin", b"1")
    (tmp_path / "storage" / "a" / ".two.bin.x1y2.tmp").write_bytes(b"22")
    assert store.keys == ["a/one.bin"]
    assert store.save_bytes("a/two.bin", b"2")  # 2 files: within max_files, the .tmp not counted
