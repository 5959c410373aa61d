"""The one stored-state mechanism both models use (Library/models/stored_state): generations that survive a
kill at any moment of a save, one live writer per state, configured optimizer settings winning over stored
ones, and every file of the LLM4FTS stage-1 artifact under one manifest and one look-ahead guard.

Tiny models built in code (tests/test_allocator.py, tests/test_llm4fts.py); kills are real SIGKILLs of a
subprocess paused by the saver's test hook (MODELS_TEST_PAUSE_AT) exactly between two stages of a save.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine.object_store import ObjectStore
from lean_local.engine.runner import run_backtest
from markets import write_project
from models.allocator import OnlineAllocator, checkpoint_keys, checkpoint_state, resume_from_store, save_to_store
from models.allocator.checkpoint import checkpoint_files
from models.llm4fts import cross_section, finetune_until
from models.llm4fts.checkpoint import (load_stage1, resume_running, resume_stage1, running_state, save_pretrained,
                                       save_running, save_stage1, stage1_state)
from models.llm4fts.sipr import PatternLibrary
from models.stored_state import (PAUSE_AT, PAUSE_MARKER, CheckpointError, ObjectStoreSaveError, StateInUseError,
                                 generations)
from test_allocator import N, month, tiny_config, trained_learner
from test_llm4fts import synthetic_panel, tiny_ranker

ROOT = Path(__file__).resolve().parents[1]
PERL, RUNNING, ARTIFACT = "perl/t", "llm4fts_ranker/t", "llm4fts/t"
SUBPROCESS_PATHS = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'Library')!r}, {str(ROOT / 'tests')!r}]\n"


# --- helpers ---
def perl_weights(learner: OnlineAllocator) -> np.ndarray:
    features, mask, _ = month(30)
    return learner.allocate(features, mask, list(range(N)))


def finetuned_ranker(months: int):
    """A tiny ranker (no SIPR: no numba compile in subprocesses) fine-tuned for ``months`` months."""
    ranker = tiny_ranker(use_sipr=False)
    panel, index = synthetic_panel()
    for row in (180, 201, 222)[:months]:
        finetune_until(ranker, panel, index, row, panel.symbols)
    return ranker


def ranker_scores(ranker) -> np.ndarray:
    panel, index = synthetic_panel()
    section, _, _ = cross_section(ranker, panel, index, 240, panel.symbols)
    return ranker.predict(section)


def run_paused(tmp_path: Path, script: str, stage: str) -> subprocess.Popen:
    """Start ``script`` with the saver told to pause at ``stage``; return once it is paused there."""
    marker = tmp_path / f"paused-{stage}"
    env = dict(os.environ, **{PAUSE_AT: stage, PAUSE_MARKER: str(marker)})
    process = subprocess.Popen([sys.executable, "-c", SUBPROCESS_PATHS + textwrap.dedent(script)], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the saver ended without pausing at {stage!r} (no such stage?):\n{process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the saver did not reach {stage!r} in time")
        time.sleep(0.05)
    return process


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def generation_keys(store: ObjectStore, prefix: str, number: int) -> list[str]:
    return [key for key in store.keys if key.startswith(f"{prefix}/gen-{number}/")]


# --- 6a: a kill at any moment of a save leaves the previous generation loadable ---
SAVE_PERL = """
from lean_local.engine.object_store import ObjectStore
from models.allocator import save_to_store
from test_allocator import month, N, trained_learner
learner = trained_learner()
features, mask, returns = month(22)
learner.allocate(features, mask, list(range(N)))
learner.learn(returns)  # a third month: this save must not replace the two-month checkpoint until complete
save_to_store(ObjectStore("store"), "perl/t", learner, extra={"trained_through": "2012-07-31"})
"""

SAVE_RUNNING = """
from lean_local.engine.object_store import ObjectStore
from models.llm4fts import finetune_until
from models.llm4fts.checkpoint import save_running
from test_llm4fts import synthetic_panel, tiny_ranker
ranker = tiny_ranker(use_sipr=False)
panel, index = synthetic_panel()
for row in (180, 201, 222):  # three months: this save must not replace the one-month state until complete
    finetune_until(ranker, panel, index, row, panel.symbols)
save_running(ObjectStore("store"), "llm4fts_ranker/t", ranker, {"trained_through": "2015-12-01"})
"""


@pytest.mark.parametrize("stage", ["payload-written", "manifest-written"])
def test_a_perl_save_killed_mid_way_leaves_the_previous_checkpoint_loadable(tmp_path, stage):
    store = ObjectStore(tmp_path / "store")
    first = trained_learner()
    save_to_store(store, PERL, first, extra={"trained_through": "2012-06-29"})
    expected = perl_weights(first)
    kill(run_paused(tmp_path, SAVE_PERL, stage))
    written = generation_keys(store, PERL, 2)  # the killed save got exactly this far
    assert any(key.endswith("adapter_model.safetensors") for key in written)
    assert any(key.endswith("learner.json") for key in written) == (stage == "manifest-written")
    resumed = OnlineAllocator.from_config(tiny_config())
    outcome = resume_from_store(store, PERL, resumed, "s1")
    assert outcome.resumed and outcome.generation == 1 and resumed.months_learned == 2
    assert np.array_equal(perl_weights(resumed), expected)
    save_to_store(store, PERL, resumed, extra={"trained_through": "2012-06-29"})  # takes over the killed lock
    assert generation_keys(store, PERL, 1) == generation_keys(store, PERL, 2) == []
    assert checkpoint_keys(store, PERL)["learner.json"] == f"{PERL}/gen-3/learner.json"


@pytest.mark.parametrize("stage", ["payload-written", "manifest-written"])
def test_an_llm4fts_save_killed_mid_way_leaves_the_previous_state_loadable(tmp_path, stage):
    store = ObjectStore(tmp_path / "store")
    first = finetuned_ranker(1)
    save_running(store, RUNNING, first, {"trained_through": "2015-09-01"})
    expected = ranker_scores(first)
    kill(run_paused(tmp_path, SAVE_RUNNING, stage))
    assert any(key.endswith("ranker.json") for key in generation_keys(store, RUNNING, 2)) == \
        (stage == "manifest-written")
    resumed = tiny_ranker(use_sipr=False)
    outcome = resume_running(store, RUNNING, resumed, "s1")
    assert outcome.resumed and outcome.generation == 1 and resumed.months_learned == 1
    np.testing.assert_array_equal(ranker_scores(resumed), expected)


def test_a_checkpoint_in_the_single_folder_layout_of_earlier_code_is_resumed_then_replaced(tmp_path):
    store = ObjectStore(tmp_path)
    learner = trained_learner()
    for name, data in checkpoint_files(learner, {"trained_through": "2012-06-29"}).items():
        store.save_bytes(f"{PERL}/{name}", data)  # how format 2 wrote it: in place, no generations
    resumed = OnlineAllocator.from_config(tiny_config())
    outcome = resume_from_store(store, PERL, resumed, "s1")
    assert outcome.resumed and outcome.generation == 0 and resumed.months_learned == 2
    save_to_store(store, PERL, resumed)
    assert not store.contains_key(f"{PERL}/learner.json") and checkpoint_keys(store, PERL)


def test_a_refused_new_generation_leaves_the_published_one_in_place(tmp_path):
    learner = trained_learner()
    size = sum(map(len, checkpoint_files(learner).values()))
    store = ObjectStore(tmp_path, max_size=int(size * 1.5))  # room for one generation, not for two
    save_to_store(store, PERL, learner, extra={"trained_through": "2012-06-29"})
    with pytest.raises(ObjectStoreSaveError, match="generation 1 stays the published one"):
        save_to_store(store, PERL, learner, extra={"trained_through": "2012-06-29"})
    assert generation_keys(store, PERL, 2) == []
    assert resume_from_store(store, PERL, OnlineAllocator.from_config(tiny_config()), "s1").generation == 1


def test_an_unreadable_pointer_falls_back_to_the_newest_complete_generation(tmp_path):
    store = ObjectStore(tmp_path)
    learner = trained_learner()
    save_to_store(store, PERL, learner, extra={"trained_through": "2012-06-29"})
    store.save_bytes(f"{PERL}/current.json", b'{"generation": ')  # what a kill while LEAN rewrote it leaves
    resumed = OnlineAllocator.from_config(tiny_config())
    outcome = resume_from_store(store, PERL, resumed, "s1")
    assert outcome.resumed and outcome.generation == 1 and resumed.months_learned == 2


# --- 6b: one live writer per state ---
HOLD = """
from lean_local.engine.object_store import ObjectStore
from models.allocator import checkpoint_state
from models.stored_state.generations import _pause_for_tests
state = checkpoint_state(ObjectStore("storage"), "perl_portfolio/amazon_chronos-t5-tiny_seed3")
state.hold("the first backtest")  # kept referenced: a dropped lock object releases its lock when collected
_pause_for_tests("payload-written")  # signal "holding", then stay alive until killed
"""


def test_a_second_live_run_is_refused_and_a_killed_runs_lock_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(generations, "WRITE_WAIT_S", 0.3)
    prefix = "perl_portfolio/amazon_chronos-t5-tiny_seed3"
    store = ObjectStore(tmp_path / "storage")  # the backtest below uses <project root>/storage
    save_to_store(store, prefix, trained_learner(), extra={"trained_through": "2010-01-29"})
    published = {key: store.read_bytes(key) for key in checkpoint_keys(store, prefix).values()}
    holder = run_paused(tmp_path, HOLD, "payload-written")
    with pytest.raises(StateInUseError, match=rf"in use by another live run.*process {holder.pid} .*the first backtest"):
        checkpoint_state(store, prefix).hold("a second backtest")
    with pytest.raises(StateInUseError, match="waited"):  # a one-off save waits a little, then refuses
        save_to_store(store, prefix, OnlineAllocator.from_config(tiny_config()))
    assert {key: store.read_bytes(key) for key in checkpoint_keys(store, prefix).values()} == published
    market = tmp_path / "market"
    write_synthetic_market(market, seed=3, start="2009-06-01", end="2010-02-28")
    project = write_project(tmp_path, "perl_portfolio", (ROOT / "algorithms/perl_portfolio/main.py").read_text(),
                            {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "seed": "3"})
    with pytest.raises(StateInUseError, match=f"process {holder.pid}"):  # the algorithm stops at its start
        run_backtest(project, data_dir=market, start="2010-01-01", end="2010-01-31", progress=False,
                     output=tmp_path / "out")
    kill(holder)
    state = checkpoint_state(store, prefix)
    note = state.hold("the next backtest")
    assert note is not None and f"process {holder.pid}" in note and "ended without releasing" in note
    state.release()


# --- 7: configured optimizer settings win over stored ones ---
def assert_one_adam_step(optimizer: torch.optim.Optimizer, before: dict, decoupled: bool, skip: str = "") -> int:
    """Every parameter that took the step moved exactly as (W)Adam moves it with the group's settings,
    computed by hand from its state after the step; returns how many parameters were checked."""
    group = optimizer.param_groups[0]
    lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
    checked = 0
    for name, (param, old) in before.items():
        if param.grad is None or (skip and skip in name):
            continue
        state = optimizer.state[param]
        step = float(state["step"])
        expected = old.double() * (1 - lr * decay) if decoupled else old.double()
        denominator = state["exp_avg_sq"].double().sqrt() / math.sqrt(1 - beta2 ** step) + eps
        expected = expected - lr / (1 - beta1 ** step) * state["exp_avg"].double() / denominator
        torch.testing.assert_close(param.detach().double() - old.double(), expected - old.double(),
                                   rtol=1e-4, atol=2e-6, msg=lambda m, n=name: f"{n}: {m}")
        checked += 1
    return checked


def test_resuming_perl_trains_at_the_configured_lr_and_weight_decay(tmp_path):
    store = ObjectStore(tmp_path)
    save_to_store(store, PERL, trained_learner())  # lr 0.01, weight_decay 0.01
    resumed = OnlineAllocator.from_config(tiny_config(lr=0.05, weight_decay=0.02))
    outcome = resume_from_store(store, PERL, resumed, "s1")
    group = resumed.optimizer.param_groups[0]
    assert outcome.resumed and (group["lr"], group["weight_decay"], group["eps"]) == (0.05, 0.02, 1e-8)
    assert "lr 0.01 stored -> 0.05 configured" in outcome.message  # and the log says so
    assert "weight_decay 0.01 stored -> 0.02 configured" in outcome.message
    assert {int(s["step"]) for s in resumed.optimizer.state.values()} == {2}  # the stored moments and steps
    before = {n: (p, p.detach().clone()) for n, p in resumed.model.named_parameters() if p.requires_grad}
    features, mask, returns = month(40)
    resumed.allocate(features, mask, list(range(N)))
    resumed.learn(returns)
    assert assert_one_adam_step(resumed.optimizer, before, decoupled=True) >= 4


def test_resuming_llm4fts_trains_at_the_configured_lr_and_weight_decay(tmp_path):
    store = ObjectStore(tmp_path)
    save_running(store, RUNNING, finetuned_ranker(1), {"trained_through": "2015-09-01"})  # lr 2e-4, decay 0
    resumed = tiny_ranker(use_sipr=False, lr=1e-3, weight_decay=0.01)
    outcome = resume_running(store, RUNNING, resumed, "s1")
    group = resumed.optimizer.param_groups[0]
    assert outcome.resumed and (group["lr"], group["weight_decay"]) == (1e-3, 0.01)
    assert "lr 0.0002 stored -> 0.001 configured" in outcome.message
    before = {n: (p, p.detach().clone()) for n, p in resumed.network.named_parameters() if p.requires_grad}
    panel, index = synthetic_panel()
    section, _, _ = cross_section(resumed, panel, index, 200, panel.symbols, horizon=21)
    assert len(resumed.finetune([section]).losses) == 1  # exactly one step
    assert assert_one_adam_step(resumed.optimizer, before, decoupled=False, skip="wavelet") >= 4


# --- 8: every file of the stage-1 artifact under one manifest and one look-ahead guard ---
def pretrained_ranker(fitted_through: str | None = None, **changes):
    ranker = tiny_ranker(**changes)
    if fitted_through and ranker.library is not None:
        ranker.library.fitted_on = {"series": "planted", "end": fitted_through}
    with torch.no_grad():  # something stage 1 trains and stores, different from a fresh ranker
        ranker.pretrain_parameters[0].add_(0.5)
    ranker.pretrain_steps_done = 3
    return ranker


def test_the_pattern_library_is_checked_by_the_stage1_manifest(tmp_path):
    store = ObjectStore(tmp_path)
    save_pretrained(store, ARTIFACT, pretrained_ranker(), {"trained_through": "2015-08-01"})
    key = next(k for k in store.keys if k.endswith("sipr.json"))  # wherever this code version puts it
    library = json.loads(store.read_bytes(key))
    library["centroids"][0][0] += 0.25  # still a valid library: only the checksum can tell
    store.save_bytes(key, json.dumps(library).encode())
    with pytest.raises(CheckpointError, match="sipr.json: content does not match the manifest's checksum"):
        load_stage1(store, ARTIFACT, tiny_ranker(), not_after="2016-01-01")


def test_a_pattern_library_fitted_after_the_run_starts_is_look_ahead(tmp_path):
    store = ObjectStore(tmp_path)
    save_pretrained(store, ARTIFACT, pretrained_ranker(fitted_through="2016-06-30"), {"trained_through": "2015-08-01"})
    with pytest.raises(CheckpointError, match="look-ahead"):
        load_stage1(store, ARTIFACT, tiny_ranker(), not_after="2016-01-01")
    assert load_stage1(store, ARTIFACT, tiny_ranker(), not_after="2016-07-01") is not None


def test_use_sipr_is_part_of_the_artifacts_identity_and_the_library_comes_with_the_weights(tmp_path):
    store = ObjectStore(tmp_path)
    saved = pretrained_ranker()
    save_pretrained(store, ARTIFACT, saved, {"trained_through": "2015-08-01"})
    with pytest.raises(CheckpointError, match="use_sipr: stored True, this run False"):
        load_stage1(store, ARTIFACT, tiny_ranker(use_sipr=False), not_after="2016-01-01")
    from models.llm4fts import LLM4FTSRanker, RankerConfig
    from test_llm4fts import TINY

    loaded = LLM4FTSRanker.from_config(RankerConfig(**TINY), library_pending=True)
    assert load_stage1(store, ARTIFACT, loaded, not_after="2016-01-01") is not None
    assert isinstance(loaded.library, PatternLibrary)
    np.testing.assert_array_equal(loaded.library.centroids, saved.library.centroids)
    fresh = LLM4FTSRanker.from_config(RankerConfig(**TINY), library_pending=True)
    for mine, stored in zip(loaded.pretrain_parameters, saved.pretrain_parameters):
        torch.testing.assert_close(mine, stored, rtol=0, atol=0)
    assert not torch.equal(loaded.pretrain_parameters[0], fresh.pretrain_parameters[0])


def test_a_refused_artifact_is_kept_under_rejected_before_a_new_one_replaces_it(tmp_path):
    store = ObjectStore(tmp_path)
    save_pretrained(store, ARTIFACT, pretrained_ranker(), {"trained_through": "2015-08-01"})
    refused = {name: store.read_bytes(key) for name, key in stage1_state(store, ARTIFACT).current_keys().items()}
    assert set(refused) == {"model.safetensors", "sipr.json", "stage1.json"}
    state = stage1_state(store, ARTIFACT)  # the algorithm's handle: load, refuse, pre-train again, save
    outcome = resume_stage1(state, tiny_ranker(), "20150601_s1", not_after="2015-06-01")
    assert outcome.rejected and "look-ahead" in outcome.message
    save_stage1(state, pretrained_ranker(seed=6), {"trained_through": "2015-05-29"})
    kept = {name: store.read_bytes(f"{ARTIFACT}/rejected/20150601_s1/{name}") for name in refused}
    assert kept == refused
    assert generation_keys(store, ARTIFACT, 1) == [] and stage1_state(store, ARTIFACT).current_keys()


def test_running_state_refused_as_look_ahead_is_kept_then_replaced(tmp_path):
    store = ObjectStore(tmp_path)
    save_running(store, RUNNING, finetuned_ranker(1), {"trained_through": "2015-09-01"})
    refused = {name: store.read_bytes(key) for name, key in running_state(store, RUNNING).current_keys().items()}
    outcome = resume_running(store, RUNNING, tiny_ranker(use_sipr=False), "s1", not_after="2015-06-01")
    assert outcome.rejected and "look-ahead" in outcome.message
    save_running(store, RUNNING, finetuned_ranker(1), {"trained_through": "2015-05-01"})
    assert {name: store.read_bytes(f"{RUNNING}/rejected/s1/{name}") for name in refused} == refused
    assert running_state(store, RUNNING).current_keys()["ranker.json"] == f"{RUNNING}/gen-2/ranker.json"


def test_a_lock_left_by_a_failed_run_in_this_process_does_not_block_the_next(tmp_path):
    """A run that raises never reaches on_end_of_algorithm (LEAN skips it after a runtime error too), so its lock is
    not released; once its objects are unreachable, the next run in the same process (a notebook, a test session)
    takes the lock. A live holder in this process is still refused."""
    from models.stored_state.lock import PrefixLock, StateInUseError

    store = ObjectStore(tmp_path / "storage")
    failed = PrefixLock(store, "p/x", "test state")
    failed.acquire("run 1")
    failed.cycle = failed  # kept alive by a reference cycle, as a traceback-bound algorithm would be, until collected
    del failed
    second = PrefixLock(store, "p/x", "test state")
    assert second.acquire("run 2") is None and second.held
    with pytest.raises(StateInUseError, match="in use by another live run"):
        PrefixLock(store, "p/x", "test state").acquire("run 3")
    second.release()


def test_a_date_only_training_end_counts_through_that_days_close():
    """Offline pre-training records the last bar's date; that bar is seen at 16:00, so a run whose first decision
    is that morning must refuse the artifact (it saw the day's close), and the next morning may use it."""
    import datetime as dt

    from models.stored_state.manifest import check_not_after

    manifest = {"extra": {"trained_through": "2013-01-02"}}
    with pytest.raises(Exception, match="look-ahead"):
        check_not_after(manifest, dt.datetime(2013, 1, 2, 10), "stage1.json")
    check_not_after(manifest, dt.datetime(2013, 1, 3, 10), "stage1.json")
    check_not_after({"extra": {"trained_through": "2013-01-02 18:00:00"}}, dt.datetime(2013, 1, 3, 10), "ranker.json")
