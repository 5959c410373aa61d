"""Nothing lost, nothing silent (issue 15): output folders are transactions, crashes leave a log, a window
without data is refused, user errors are one line, parameters never fall back silently, a model that cannot
decide yet says so and holds, and notebook tests are sized to finish in seconds.

Cases are grouped A (output folders), B (the window against the data), C (one-line errors), D (parameters),
E (too little history to decide), F (notebook sizes) and G (object-store keys)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from lean_local import cli
from lean_local.data.synthetic import write_synthetic_market
from lean_local.engine import runner
from lean_local.engine.engine import BacktestEngine
from lean_local.engine.object_store import ObjectStore
from lean_local.engine.runner import run_backtest
from markets import DAYS, bars, write_market, write_project
from models.allocator import AllocatorConfig, OnlineAllocator
from models.llm4fts import RankerConfig
from models.parameters import convert_parameter

ROOT = Path(__file__).resolve().parents[1]
PERL_MAIN = (ROOT / "algorithms" / "perl_portfolio" / "main.py").read_text()
LLM4FTS_MAIN = (ROOT / "algorithms" / "llm4fts_ranker" / "main.py").read_text()
TINY_PERL = {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "seed": "3"}
TINY_LLM4FTS = {"model_id": "gpt2", "weights": "random", "seed": "3", "gpt_layers": "2", "gpt_width": "32",
                "gpt_heads": "2", "top_fraction": "0.2", "finetune_steps": "2", "pretrain_days": "250"}

BUY_AND_HOLD = """
from AlgorithmImports import *


class BuyAndHold(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2020, 1, 6)
        self.set_end_date(2020, 2, 28)
        self.set_cash(100000)
        self.aaa = self.add_equity("AAA", Resolution.DAILY).symbol

    def on_data(self, data):
        if not self.portfolio.invested:
            self.log("buying AAA")
            self.set_holdings(self.aaa, 1.0)
"""

CRASHES_ON_JAN_20 = BUY_AND_HOLD + """
        if self.time.date() >= date(2020, 1, 20):
            self.log("about to fail")
            raise RuntimeError(f"boom on {self.time.date()}")
"""


@pytest.fixture(scope="module")
def hand_market(tmp_path_factory) -> Path:
    """AAA closes 100, 101, ... on every weekday of 2020-01-01..2020-03-31 (DAYS); SPY likewise."""
    return write_market(tmp_path_factory.mktemp("hand"), [bars("AAA", [100.0 + i for i in range(len(DAYS))])])


@pytest.fixture(scope="module")
def young_market(tmp_path_factory) -> Path:
    """A synthetic market whose data starts 2009-01-02: the indicators (150 bars of warm-up) are not ready
    before the end of August 2009."""
    out = tmp_path_factory.mktemp("young")
    write_synthetic_market(out, seed=3, start="2009-01-02", end="2009-10-30")
    return out


def _run_json(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


class _Frozen(dt.datetime):
    """``datetime.now()`` stuck at one second: two runs 'started in the same second'."""

    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return cls(2024, 5, 6, 7, 8, 9)


def _freeze_runner_clock(monkeypatch) -> None:
    clock = types.SimpleNamespace(datetime=_Frozen, date=dt.date, time=dt.time, timedelta=dt.timedelta)
    monkeypatch.setattr(runner, "dt", clock)


# --- A. output folders -------------------------------------------------------------------------------------

def test_A1_two_runs_in_the_same_second_keep_both_results(hand_market, tmp_path, monkeypatch):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    _freeze_runner_clock(monkeypatch)
    first = run_backtest(project, data_dir=hand_market, end="2020-01-31", progress=False)
    second = run_backtest(project, data_dir=hand_market, end="2020-02-28", progress=False)
    folders = sorted(p for p in (project / "backtests").iterdir())
    assert first.output_dir != second.output_dir and len(folders) == 2
    assert {_run_json(p)["end"] for p in folders} == {"2020-01-31", "2020-02-28"}
    assert [p.name for p in folders] == ["2024-05-06_07-08-09", "2024-05-06_07-08-09_2"]  # lean-cli's stamp first


def test_A2_a_run_killed_while_writing_leaves_no_half_folder_and_a_rerun_recovers(hand_market, tmp_path):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    script = textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT / 'Library')!r}]
        from lean_local.engine import results
        from lean_local.engine.runner import run_backtest
        real = results.atomic_write_bytes
        def dying(path, data):
            if path.name == "holdings.csv":
                os._exit(9)  # a kill -9 in the middle of writing the results
            real(path, data)
        results.atomic_write_bytes = dying
        run_backtest({str(project)!r}, data_dir={str(hand_market)!r}, progress=False, tearsheet=False)
    """)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert killed.returncode == 9, killed.stderr
    backtests = project / "backtests"
    published = [p for p in backtests.iterdir() if ".backtest-tmp-" not in p.name]
    assert published == [], f"half-written result folders at final names: {published}"
    rerun = run_backtest(project, data_dir=hand_market, progress=False)
    assert [p.name for p in backtests.iterdir()] == [rerun.output_dir.name]  # the dead run's staging is gone
    assert _run_json(rerun.output_dir)["status"] == "completed"


def test_A3_a_crashing_algorithm_still_leaves_its_log_and_run_json(hand_market, tmp_path):
    project = write_project(tmp_path, "crash", CRASHES_ON_JAN_20)
    with pytest.raises(RuntimeError, match="boom on 2020-01-20"):
        run_backtest(project, data_dir=hand_market, progress=False)
    folders = list((project / "backtests").iterdir())
    assert len(folders) == 1
    log = (folders[0] / "log.txt").read_text()
    assert "buying AAA" in log and "about to fail" in log
    assert "Traceback" in log and "RuntimeError: boom on 2020-01-20" in log
    info = _run_json(folders[0])
    assert info["status"] == "failed" and info["error"] == "RuntimeError: boom on 2020-01-20"
    equity = pd.read_csv(folders[0] / "equity.csv")  # what the run had done is kept, not lost
    assert equity["date"].iloc[-1] == "2020-01-17"


def test_A4_output_naming_a_file_is_refused_before_the_run(hand_market, tmp_path, monkeypatch, capsys):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    taken = tmp_path / "results.txt"
    taken.write_text("keep me")

    def never(self):  # noqa: ANN001, ANN202
        raise AssertionError("the backtest ran although its output could never be written")

    monkeypatch.setattr(BacktestEngine, "run", never)
    code = cli.main(["backtest", str(project), "--data", str(hand_market), "--output", str(taken), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "--output" in err and str(taken) in err and "file" in err
    assert taken.read_text() == "keep me"


def test_A5_output_reused_replaces_an_earlier_result_only_when_the_new_one_succeeds(hand_market, tmp_path):
    good = write_project(tmp_path, "bh", BUY_AND_HOLD)
    out = tmp_path / "out"
    run_backtest(good, data_dir=hand_market, end="2020-01-31", progress=False, output=out)
    run_backtest(good, data_dir=hand_market, end="2020-02-28", progress=False, output=out)
    assert _run_json(out)["end"] == "2020-02-28"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == ["out"]
    bad = write_project(tmp_path, "crash", CRASHES_ON_JAN_20)
    with pytest.raises(RuntimeError) as raised:
        run_backtest(bad, data_dir=hand_market, progress=False, output=out)
    assert _run_json(out)["end"] == "2020-02-28"  # the earlier good result is kept
    failed = tmp_path / "out_failed"
    assert _run_json(failed)["status"] == "failed" and str(failed) in " ".join(raised.value.__notes__)


def test_A6_output_naming_a_foreign_folder_is_refused(hand_market, tmp_path):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    mine = tmp_path / "my_notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("not a backtest")
    with pytest.raises(FileExistsError, match="not empty"):
        run_backtest(project, data_dir=hand_market, progress=False, output=mine)
    assert [p.name for p in mine.iterdir()] == ["todo.txt"]


def test_A7_only_finished_successful_baseline_runs_are_compared_with(tmp_path):
    from lean_local.engine.tearsheet import find_baseline_run

    equity = pd.DataFrame({"date": ["2020-01-02", "2020-01-03"], "equity": [1.0, 1.1], "benchmark": [1.0, 1.0]})
    for name, status in (("2024-01-01_00-00-00.backtest-tmp-99999999", None), ("2024-01-01_00-00-01", "failed"),
                         ("2024-01-01_00-00-02", None)):
        folder = tmp_path / name
        folder.mkdir()
        equity.to_csv(folder / "equity.csv", index=False)
        if status:
            (folder / "run.json").write_text(json.dumps({"status": status}))
    assert find_baseline_run(tmp_path, pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-03")) is None
    (tmp_path / "2024-01-01_00-00-00" / "run.json").parent.mkdir()
    equity.to_csv(tmp_path / "2024-01-01_00-00-00" / "equity.csv", index=False)
    (tmp_path / "2024-01-01_00-00-00" / "run.json").write_text(json.dumps({"status": "completed"}))
    found = find_baseline_run(tmp_path, pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-03"))
    assert found is not None and found.folder.name == "2024-01-01_00-00-00"


def test_A8_a_run_killed_while_replacing_an_output_gets_the_earlier_results_back(tmp_path):
    from lean_local.engine.output_folder import recover

    dead = 99_999_999  # no such process
    aside = tmp_path / f"out.backtest-old-{dead}"  # killed after moving the earlier results aside
    aside.mkdir()
    (aside / "run.json").write_text('{"status": "completed"}')
    staging = tmp_path / f"out.backtest-tmp-{dead}"
    staging.mkdir()
    live = tmp_path / f"other.backtest-tmp-{os.getpid()}"  # a run still writing: left alone
    live.mkdir()
    recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", live.name])
    assert _run_json(tmp_path / "out")["status"] == "completed"


def test_A9_only_this_hosts_leftovers_are_judged_by_their_pid(tmp_path):
    """On a shared filesystem (optimize --ray-address over several nodes) another machine's staging folder has a
    pid that means nothing here: deleting it would destroy a backtest still running there."""
    from lean_local.engine.output_folder import HOST, BacktestOutput, recover

    dead = 99_999_999
    other_host = tmp_path / f"a.backtest-tmp-{dead}@not-{HOST}"
    mine_dead = tmp_path / f"b.backtest-tmp-{dead}@{HOST}"
    for folder in (other_host, mine_dead):
        folder.mkdir()
    recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [other_host.name]
    staging = BacktestOutput.begin(None, tmp_path, "c").staging
    assert staging.name == f"c.backtest-tmp-{os.getpid()}@{HOST}"


# --- B. the window against the data ----------------------------------------------------------------------

@pytest.mark.parametrize("start, end", [("2020-06-01", "2020-07-01"), ("2019-01-01", "2019-06-30")])
def test_B1_a_window_without_any_data_is_an_error(hand_market, tmp_path, start, end):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    with pytest.raises(ValueError, match=r"no trading day.*2020-01-01 to 2020-03-31"):
        run_backtest(project, data_dir=hand_market, start=start, end=end, progress=False, output=tmp_path / "out")


def test_B2_an_end_past_the_data_is_clamped_with_a_warning_and_recorded(hand_market, tmp_path):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    clamped = run_backtest(project, data_dir=hand_market, end="2020-12-31", progress=False, output=tmp_path / "a")
    exact = run_backtest(project, data_dir=hand_market, end="2020-03-31", progress=False, output=tmp_path / "b")
    info = _run_json(clamped.output_dir)
    assert info["end"] == "2020-03-31" and info["requested_end"] == "2020-12-31"
    log = (clamped.output_dir / "log.txt").read_text()
    assert "WARNING" in log and "2020-12-31" in log and "2020-03-31" in log
    assert clamped.statistics["lean"] == exact.statistics["lean"]  # annualised over the days that exist


def test_B3_a_start_before_the_data_starts_at_its_first_day(hand_market, tmp_path):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    result = run_backtest(project, data_dir=hand_market, start="2019-10-01", end="2020-01-31", progress=False,
                          output=tmp_path / "a")
    info = _run_json(result.output_dir)
    assert info["start"] == "2020-01-01" and info["requested_start"] == "2019-10-01"


def test_B4_a_bar_count_warm_up_from_the_datas_first_day_runs(hand_market, tmp_path):
    """set_warm_up(n) with nothing before the start used to raise IndexError before the first day."""
    source = BUY_AND_HOLD.replace('self.set_cash(100000)', 'self.set_cash(100000)\n        self.set_warm_up(5)')
    project = write_project(tmp_path, "bh", source)
    result = run_backtest(project, data_dir=hand_market, start="2020-01-01", end="2020-01-31", progress=False,
                          output=tmp_path / "a")
    assert _run_json(result.output_dir)["status"] == "completed" and len(result.record.orders) == 1


def test_B5_a_zero_bar_warm_up_warms_up_nothing(hand_market, tmp_path):
    source = BUY_AND_HOLD.replace('self.set_cash(100000)', 'self.set_cash(100000)\n        self.set_warm_up(0)')
    project = write_project(tmp_path, "bh", source)
    result = run_backtest(project, data_dir=hand_market, start="2020-02-03", end="2020-02-28", progress=False,
                          write=False)
    assert result.record.equity[0][0] == dt.date(2020, 2, 3)  # not the data's first day


def test_B6_a_malformed_date_is_refused_before_any_output_folder_exists(hand_market, tmp_path, capsys):
    project = write_project(tmp_path, "bh", BUY_AND_HOLD)
    assert cli.main(_cli_backtest(project, hand_market, "--start", "2020/01/06")) == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err
    assert not (project / "backtests").exists()


# --- C. user errors are one line; bugs keep their traceback ------------------------------------------------

def _cli_backtest(project: Path, data: Path, *extra: str) -> list[str]:
    return ["backtest", str(project), "--data", str(data), "--no-progress", "--no-tearsheet", *extra]


def test_C1_a_syntax_error_in_main_py_is_one_line_naming_file_and_line(hand_market, tmp_path, capsys):
    project = write_project(tmp_path, "broken", BUY_AND_HOLD.replace("def on_data(self, data):",
                                                                      "def on_data(self, data)"))
    line = (project / "main.py").read_text().splitlines().index("    def on_data(self, data)") + 1
    code = cli.main(_cli_backtest(project, hand_market))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert f"{project / 'main.py'}:{line}:" in err[0] and "Traceback" not in err[0]


def test_C2_pretrained_weights_that_cannot_load_are_one_line(young_market, tmp_path, capsys):
    project = write_project(tmp_path, "perl_portfolio", PERL_MAIN,
                            {"model_id": str(tmp_path / "missing"), "weights": "pretrained"})
    code = cli.main(_cli_backtest(project, young_market, "--start", "2009-09-01", "--end", "2009-09-30"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "could not load the Chronos checkpoint" in err[0], err


def test_C3_pretrain_require_with_nothing_stored_is_one_line(young_market, tmp_path, capsys):
    project = write_project(tmp_path, "llm4fts_ranker", LLM4FTS_MAIN, {**TINY_LLM4FTS, "pretrain": "require"})
    code = cli.main(_cli_backtest(project, young_market, "--start", "2009-09-01", "--end", "2009-09-30"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pretrain=require" in err[0] and "pretrain_llm4fts.py" in err[0], err


def test_C4_a_bug_in_the_algorithm_keeps_its_traceback(hand_market, tmp_path):
    project = write_project(tmp_path, "crash", CRASHES_ON_JAN_20)
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(_cli_backtest(project, hand_market))


# --- D. parameters: no silent fallbacks --------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("true", True), ("TRUE", True), (" Yes ", True), ("1", True),
                                         ("false", False), ("No", False), ("0", False)])
def test_D1_booleans_accept_true_false_yes_no_1_0(text, value):
    assert convert_parameter("use_sipr", text, True) is value


@pytest.mark.parametrize("text", ["ture", "", "on", "2", "flase"])
def test_D2_any_other_boolean_text_is_refused_naming_parameter_and_value(text):
    with pytest.raises(ValueError, match=rf"use_sipr={text!r}.*true or false"):
        RankerConfig.from_parameters({"use_sipr": text})


@pytest.mark.parametrize("config", [AllocatorConfig, RankerConfig])
def test_D3_fresh_start_typos_are_refused(config):
    with pytest.raises(ValueError, match="fresh_start='ture'"):
        config.from_parameters({"fresh_start": "ture"})
    assert config.from_parameters({"fresh_start": "yes"}).fresh_start is True


@pytest.mark.parametrize("config", [AllocatorConfig, RankerConfig])
@pytest.mark.parametrize("months", ["0", "-1"])
def test_D4_checkpoint_months_below_one_is_refused_at_start(config, months):
    with pytest.raises(ValueError, match=rf"checkpoint_months={months}: must be >= 1"):
        config.from_parameters({"checkpoint_months": months})


def test_D5_perl_portfolio_refuses_checkpoint_months_0_in_initialize(young_market, tmp_path):
    project = write_project(tmp_path, "perl_portfolio", PERL_MAIN, {**TINY_PERL, "checkpoint_months": "0"})
    with pytest.raises(ValueError, match="checkpoint_months=0"):
        run_backtest(project, data_dir=young_market, start="2009-09-01", end="2009-10-30", progress=False,
                     write=False)


# --- E. a model that cannot decide yet says so once and holds ---------------------------------------------

def test_E1_the_learner_skips_a_month_with_nothing_to_learn_from():
    learner = OnlineAllocator.from_config(AllocatorConfig(model_id="amazon/chronos-t5-tiny", weights="random",
                                                          n_features=3, lookback_days=4))
    before = [p.detach().clone() for p in learner.model.parameters() if p.requires_grad]
    weights = learner.allocate(np.zeros((5, 4, 3)), np.zeros((5, 4), dtype=bool), list("abcde"))
    assert not weights.any()
    report = learner.learn({k: 0.01 for k in "abcde"})
    assert report.steps == 0 and learner.months_learned == 0 and learner.pending is None
    after = [p.detach() for p in learner.model.parameters() if p.requires_grad]
    assert all(bool((a == b).all()) for a, b in zip(before, after))


def test_E2_perl_portfolio_waits_for_its_warm_up_then_trades(young_market, tmp_path):
    project = write_project(tmp_path, "perl_portfolio", PERL_MAIN, TINY_PERL)
    result = run_backtest(project, data_dir=young_market, start="2009-07-01", end="2009-09-30", progress=False,
                          output=tmp_path / "out")
    log = (result.output_dir / "log.txt").read_text()
    assert log.count("cannot decide yet") == 1, log  # said once, for July and August
    assert "PerlPortfolio decides now (held since 2009-07-01)" in log
    orders = result.record.orders
    assert orders and min(o.time for o in orders) >= dt.datetime(2009, 9, 1)
    assert result.algorithm.learner.months_learned == 1  # September only


def test_E3_llm4fts_ranker_waits_for_enough_history_to_pretrain(young_market, tmp_path):
    project = write_project(tmp_path, "llm4fts_ranker", LLM4FTS_MAIN, TINY_LLM4FTS)
    result = run_backtest(project, data_dir=young_market, start="2009-04-01", end="2009-05-29", progress=False,
                          output=tmp_path / "out")
    log = (result.output_dir / "log.txt").read_text()
    assert log.count("cannot decide yet") == 1, log
    assert result.record.orders == []


HOLDS_WHEN_UNDECIDED = """
from AlgorithmImports import *
from skeleton.top100 import Top100MonthlyAlgorithm


class DecidesOnce(Top100MonthlyAlgorithm):
    def initialize_model(self):
        self.decisions = 0

    def target_weights(self, symbols):
        self.decisions += 1
        if self.decisions == 1:
            return {s: 1.0 / len(symbols) for s in symbols}
        return None  # cannot decide: keep what is held
"""


def test_E4_no_decision_keeps_the_holdings(young_market, tmp_path):
    project = write_project(tmp_path, "decides_once", HOLDS_WHEN_UNDECIDED)
    result = run_backtest(project, data_dir=young_market, start="2009-07-01", end="2009-09-30", progress=False,
                          write=False)
    assert result.record.orders and {o.time.month for o in result.record.orders} == {7}
    assert result.algorithm.portfolio.invested


# --- F. notebooks are sized for tests ----------------------------------------------------------------------

def _first_code_cell(name: str) -> str:
    nb = nbformat.read(ROOT / "research" / name, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name, variable, expected", [
    ("llm4fts_pretraining.ipynb", "STEPS", 3), ("perl_online_loop.ipynb", "END", pd.Timestamp("2009-09-30"))])
def test_F1_notebook_sizes_come_from_the_environment(name, variable, expected, monkeypatch):
    monkeypatch.setenv("LLM4FTS_NOTEBOOK_STEPS", "3")
    monkeypatch.setenv("PERL_NOTEBOOK_END", "2009-09-30")
    source = _first_code_cell(name).replace("from AlgorithmImports import *", "import pandas as pd")
    namespace: dict = {}
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 - our own notebook's settings cell
    assert namespace[variable] == expected


def test_F2_notebook_tests_run_small_and_allow_a_busy_machine():
    import test_research

    assert test_research.CELL_TIMEOUT_SECONDS >= 1800
    assert int(test_research.NOTEBOOK_SIZES["LLM4FTS_NOTEBOOK_STEPS"]) <= 10
    assert pd.Timestamp(test_research.NOTEBOOK_SIZES["PERL_NOTEBOOK_END"]) <= pd.Timestamp("2012-06-30")


# --- G. object store (lean_local/engine/object_store.py is the objectstore helper's; test only) ------------

def test_key_slash_cannot_replace_the_storage_root(tmp_path):
    store = ObjectStore(tmp_path / "storage")
    with pytest.raises(ValueError):
        store.save("/", "x")
    assert not (tmp_path / "storage").is_file()
