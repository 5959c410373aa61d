"""``python -m lean_local optimize``: LEAN's grid (step rule, decimal values, order), targets and constraints by
lean-cli's names, the best combination on a market where it is known by construction, failures reported while the
rest finish, resume after a kill, the lean-cli equivalents, two worker processes and a local Ray cluster."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lean_local import cli
from lean_local.optimize.grid import StepParameter, ValuesParameter, combinations, grid_size
from lean_local.optimize.results import write_lean_equivalents
from lean_local.optimize.runner import OptimizationSpec, combination_name, run_optimization
from lean_local.optimize.targets import Constraint, Statistic, Target
from markets import DAYS, bars, write_market, write_project

# Holds `weight` of AAA from the first day. AAA rises 1 a day except a 20% dip on days 12-15, so both the return
# and the drawdown grow with the weight: maximizing CAR picks the largest weight, and "Drawdown < 0.14" keeps
# weights up to 0.6 (drawdown ~ 0.19 x weight x 1.1 / (1 - w + 1.1 w): 0.08, 0.12, 0.16, 0.19 for 0.4 ... 1.0).
WEIGHTED = """
import os
from AlgorithmImports import *


class Weighted(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2020, 1, 6)
        self.set_end_date(2020, 2, 28)
        self.set_cash(100000)
        self.weight = float(self.get_parameter("weight"))
        with open(self.get_parameter("runs_log"), "a") as log:
            log.write(self.get_parameter("weight") + "\\n")
        fail_file = self.get_parameter("fail_file")
        if fail_file and os.path.exists(fail_file) and self.get_parameter("weight") == self.get_parameter("fail_weight"):
            raise RuntimeError("asked to fail")
        self.aaa = self.add_equity("AAA", Resolution.DAILY).symbol

    def on_data(self, data):
        if not self.portfolio.invested:
            self.set_holdings(self.aaa, self.weight)
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("optimize")
    closes = [100.0 + i for i in range(len(DAYS))]
    for day in range(12, 16):
        closes[day] *= 0.8
    data = write_market(root / "market", [bars("AAA", closes)])
    project = write_project(root / "cli", "weighted", WEIGHTED, parameters={
        "weight": "1", "runs_log": "", "fail_file": "", "fail_weight": ""})
    return project, data


def _runs(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _spec(project: Path, data: Path, log: Path, weights: tuple[str, str, str], constraints: list[str],
          extra: list | None = None) -> OptimizationSpec:
    return OptimizationSpec(project, [StepParameter.parse("weight", *weights), ValuesParameter("runs_log", (str(log),))]
                            + (extra or []), Target.parse("Compounding Annual Return", "max"),
                            [Constraint.parse(c) for c in constraints], str(data))


# ---- the grid -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("min_", "max_", "step", "values"), [
    ("0", "0.3", "0.1", ["0.0", "0.1", "0.2", "0.3"]),  # decimal: binary floats would stop at 0.2 (3 x 0.1 > 0.3)
    ("1", "2", "0.5", ["1.0", "1.5", "2.0"]),  # the decimal's scale is kept, as LEAN writes it
    ("1", "3", "1", ["1", "2", "3"]),  # whole numbers stay whole ("1", not "1.0", for int parameters)
    ("1.0", "3.0", "1.0", ["1", "2", "3"]),  # lean-cli's floats: 1.0 reaches LEAN as decimal 1
    ("1", "2.9", "1", ["1", "2"]),  # a max off the step is not reached
    ("5", "5", "1", ["5"]),  # min == max: one value
    ("-1", "1", "0.75", ["-1.00", "-0.25", "0.50"]),  # 0 x 0.75 is 0.00 in decimal: scale 2 throughout
])
def test_grid_follows_lean_step_rule(min_, max_, step, values):
    assert StepParameter.parse("p", min_, max_, step).values() == values


def test_grid_refuses_what_lean_refuses_and_orders_first_parameter_slowest():
    with pytest.raises(ValueError, match="greater than max"):
        StepParameter.parse("p", "2", "1", "1")
    with pytest.raises(ValueError, match="must be positive"):
        StepParameter.parse("p", "1", "2", "0")
    with pytest.raises(ValueError, match="more than once"):
        list(combinations([StepParameter.parse("p", "1", "2", "1"), ValuesParameter("p", ("a",))]))
    grid = [StepParameter.parse("a", "1", "2", "1"), ValuesParameter("b", ("x", "y", "z")), ValuesParameter("c", ("k",))]
    assert list(combinations(grid)) == [{"a": a, "b": b, "c": "k"} for a in ("1", "2") for b in ("x", "y", "z")]
    assert grid_size(grid) == 6


# ---- targets and constraints ----------------------------------------------------------------------------------------
def test_statistics_by_lean_cli_names():
    stats = {"algorithm": {"Sharpe Ratio": 0.7, "Drawdown": 0.25, "Net Profit": 2.2}, "lean": {"Net Profit": "221.019%"}}
    sharpe = Statistic.parse("Sharpe Ratio")
    assert sharpe.path == "TotalPerformance.PortfolioStatistics.SharpeRatio" and sharpe.value(stats) == 0.7
    assert Statistic.parse("SharpeRatio").path == sharpe.path and sharpe.cloud_supported
    assert Statistic.parse("Total Net Profit").value(stats) == 2.2
    assert Statistic.parse("Statistics.Net Profit").value(stats) == pytest.approx(2.21019)
    with pytest.raises(ValueError, match="NetProfit is not a property"):  # lean optimize would find no optimum
        Statistic.parse("Net Profit")
    with pytest.raises(ValueError, match="not computed"):
        Statistic.parse("Value At Risk99")
    assert Constraint.parse("Drawdown < 0.3").is_met(stats) and not Constraint.parse("Drawdown >= 0.3").is_met(stats)
    assert not Constraint.parse("Sortino Ratio > 0").is_met(stats)  # missing: not met (Constraint.cs:68-72)
    with pytest.raises(ValueError, match="operator"):
        Constraint.parse("Drawdown =< 0.3")
    assert Constraint.parse("Drawdown <= 0.25").to_lean() == {
        "target": "TotalPerformance.PortfolioStatistics.Drawdown", "operator": "lessOrEqual", "target-value": 0.25}
    # every digit survives the round trip through optimization.json (a resume parses the text back)
    precise = Constraint.parse("End Equity > 1234567.89")
    assert Constraint.parse(str(precise)).value == 1234567.89
    # LEAN's PortfolioStatistics has DrawdownRecovery (PortfolioStatistics.cs L192); a non-number reads as missing
    assert Statistic.parse("Drawdown Recovery").value({"algorithm": {"Drawdown Recovery": 12}}) == 12
    assert Statistic.parse("Sharpe Ratio").value({"algorithm": {"Sharpe Ratio": "n/a"}}) is None


def test_lean_equivalents(tmp_path):
    grid = [StepParameter.parse("weight", "0.2", "1", "0.2"), ValuesParameter("seed", ("1", "2")),
            ValuesParameter("model", ("tiny/x",))]
    target = Target.parse("Sharpe Ratio", "max")
    commands = write_lean_equivalents(tmp_path, "algorithms/p", grid, target, [Constraint.parse("Drawdown < 0.3")], 4)
    assert len(commands) == 2 and [c["fixed"] for c in commands] == [{"seed": "1"}, {"seed": "2"}]
    config = json.loads((tmp_path / "optimizer-config-2.json").read_text())
    assert config["optimization-strategy"] == "QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy"
    assert config["optimization-criterion"] == {"target": "TotalPerformance.PortfolioStatistics.SharpeRatio",
                                                "extremum": "max"}
    assert config["parameters"] == [{"name": "weight", "min": 0.2, "max": 1.0, "step": 0.2},
                                    {"name": "seed", "value": "2"}, {"name": "model", "value": "tiny/x"}]
    # "tiny/x" is no number: lean optimize needs the config file, the cloud cannot take it
    assert "--optimizer-config" in commands[0]["lean_optimize"] and commands[0]["lean_cloud_optimize"] is None
    fine = write_lean_equivalents(tmp_path / "f", "algorithms/p", [StepParameter.parse("lr", "0.1234567", "0.2",
                                                                                       "0.0123456789")], target, [], 1)
    assert "--parameter lr 0.1234567 0.2 0.0123456789" in fine[0]["lean_optimize"]  # not rounded to 6 digits
    numeric = write_lean_equivalents(tmp_path / "n", "algorithms/p", grid[:2], target, [], 30)
    assert numeric[1]["lean_optimize"] == ("lean optimize algorithms/p --strategy 'Grid Search' --target 'Sharpe Ratio' "
                                           "--target-direction max --parameter weight 0.2 1 0.2 --parameter seed 2 2 1 "
                                           "--max-concurrent-backtests 30")
    assert numeric[1]["lean_cloud_optimize"].endswith("--parameter seed 2 2 1 --node O2-8 --parallel-nodes 24")


# ---- end to end ---------------------------------------------------------------------------------------------------
def test_best_by_construction_with_and_without_a_constraint(setup, tmp_path):
    project, data = setup
    log, out = tmp_path / "runs.txt", tmp_path / "opt"
    result = run_optimization(_spec(project, data, log, ("0.2", "1", "0.2"), ["Drawdown < 0.14"]), output=out,
                              progress=False)
    weights = [r.parameters["weight"] for r in result.rows]
    assert weights == ["0.2", "0.4", "0.6", "0.8", "1.0"] and sorted(_runs(log)) == weights
    assert all(r.status == "completed" for r in result.rows)
    car = [r.statistics["algorithm"]["Compounding Annual Return"] for r in result.rows]
    drawdown = [r.statistics["algorithm"]["Drawdown"] for r in result.rows]
    assert car == sorted(car) and drawdown == sorted(drawdown) and len(set(car)) == 5  # monotone by construction
    assert result.best is not None and result.best.parameters["weight"] == "0.6"
    table = json.loads((out / "results.json").read_text())
    assert table["best"]["parameter:weight"] == "0.6" and [r["meets_constraints"] for r in table["rows"]] == \
        [True, True, True, False, False]
    assert (out / "results.csv").read_text().count("\n") == 6 and (out / "optimizer-config.json").is_file()
    # the same grid ranked without the constraint: nothing runs again, the largest weight wins
    again = run_optimization(_spec(project, data, log, ("0.2", "1", "0.2"), []), output=out, progress=False)
    assert again.best is not None and again.best.parameters["weight"] == "1.0" and len(_runs(log)) == 5
    with pytest.raises(ValueError, match="whose grid differ"):
        run_optimization(_spec(project, data, log, ("0.2", "0.8", "0.2"), []), output=out, progress=False)
    # config.json's other parameters reach every combination, and the code decides each result: a resume after
    # either changed would mix two experiments in one table
    config = json.loads((project / "config.json").read_text())
    config["parameters"]["fail_weight"] = "0.9"
    (project / "config.json").write_text(json.dumps(config))
    try:
        with pytest.raises(ValueError, match="config_parameters differ"):
            run_optimization(_spec(project, data, log, ("0.2", "1", "0.2"), []), output=out, progress=False)
    finally:
        config["parameters"]["fail_weight"] = ""
        (project / "config.json").write_text(json.dumps(config))
    main = project / "main.py"
    source = main.read_text()
    main.write_text(source + "\n# edited\n")
    try:
        with pytest.raises(ValueError, match="code differ"):
            run_optimization(_spec(project, data, log, ("0.2", "1", "0.2"), []), output=out, progress=False)
    finally:
        main.write_text(source)


def test_failure_reported_others_finish_and_resume_after_a_kill(setup, tmp_path, caplog):
    project, data = setup
    log, out, flag = tmp_path / "runs.txt", tmp_path / "opt", tmp_path / "fail-now"
    flag.write_text("")
    args = ["optimize", str(project), "--data", str(data), "--parameter", "weight", "0.2", "0.6", "0.2",
            "--parameter-values", "runs_log", str(log), "--parameter-values", "fail_file", str(flag),
            "--parameter-values", "fail_weight", "0.4", "--target", "Sharpe Ratio", "--target-direction", "max",
            "--output", str(out), "--no-progress"]
    assert cli.main(args) == 1  # one combination failed
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["completed", "failed", "completed"]
    assert "RuntimeError: asked to fail" in rows[1]["error"] and rows[0]["error"] is None
    failed_lines = [r.getMessage() for r in caplog.records if "failed" in r.getMessage() and "combination" in r.getMessage()]
    assert len(failed_lines) == 1 and "weight=0.4" in failed_lines[0] and "\n" not in failed_lines[0]
    # a kill: the first combination's marker never written, a dead worker's staging folder left behind
    first = out / rows[0]["folder"]
    (first / "run.json").unlink()
    (out / f"{rows[2]['folder']}.backtest-tmp-99999999").mkdir()
    flag.unlink()
    assert cli.main(["optimize", "--resume", str(out), "--no-progress"]) == 0
    assert _runs(log) == ["0.2", "0.4", "0.6", "0.2", "0.4"]  # the finished 0.6 was not run again
    table = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in table["rows"]] == ["completed"] * 3 and table["best"] is not None
    assert not list(out.glob("*.backtest-tmp-*"))


def test_a_second_optimize_on_the_same_folder_is_refused_while_the_first_runs(setup, tmp_path):
    from lean_local.optimize.runner import exclusive

    project, data = setup
    out = tmp_path / "opt"
    out.mkdir()
    with exclusive(out):  # the first process, mid-run
        with pytest.raises(RuntimeError, match="another optimize process is running there"):
            run_optimization(_spec(project, data, tmp_path / "runs.txt", ("0.2", "0.4", "0.2"), []), output=out,
                             progress=False)
    assert not (tmp_path / "runs.txt").exists()  # nothing ran


def test_two_worker_processes_match_one(setup, tmp_path):
    project, data = setup
    spec = _spec(project, data, tmp_path / "runs.txt", ("0.5", "1", "0.5"), [])
    parallel = run_optimization(spec, output=tmp_path / "two", workers=2, progress=False)
    serial = run_optimization(_spec(project, data, tmp_path / "runs.txt", ("0.5", "0.5", "1"), []),
                              output=tmp_path / "one", progress=False)
    assert [r.status for r in parallel.rows] == ["completed", "completed"]
    assert parallel.rows[0].statistics["algorithm"] == serial.rows[0].statistics["algorithm"]
    assert combination_name(parallel.rows[0].parameters) == combination_name(serial.rows[0].parameters)


def test_ray_local_cluster(setup, tmp_path, monkeypatch):
    project, data = setup
    # Ray 2.53 warns that it will stop hiding accelerators from num_gpus=0 tasks; opt in now (no GPU here).
    monkeypatch.setenv("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    log = tmp_path / "runs.txt"
    result = run_optimization(_spec(project, data, log, ("0.5", "1", "0.5"), []), output=tmp_path / "ray",
                              ray_address="local", progress=False)
    assert [r.status for r in result.rows] == ["completed", "completed"] and sorted(_runs(log)) == ["0.5", "1.0"]
    assert result.best is not None and result.best.parameters["weight"] == "1.0"


def test_bad_grid_or_constraint_is_one_line_before_anything_runs(setup, tmp_path, capsys):
    project, data = setup
    base = ["optimize", str(project), "--data", str(data), "--target", "Sharpe Ratio", "--target-direction", "max",
            "--output", str(tmp_path / "opt"), "--no-progress"]
    for extra, words in ((["--parameter", "weight", "2", "1", "1"], "greater than max"),
                         (["--parameter", "weight", "1", "2", "1", "--constraint", "Drawdown << 1"], "operator"),
                         (["--parameter", "weight", "1", "2", "1", "--target", "Net Profit"], "is not a property")):
        assert cli.main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and words in err
    assert not (tmp_path / "opt").exists()
