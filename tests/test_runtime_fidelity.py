"""LEAN runtime rules the local runner follows: the benchmark's data feed, typed parameters and time limits.

Each test is worked out from the LEAN source (QuantConnect/Lean 24863901) named in its docstring.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import zipfile

import pytest

from lean_local.engine.algorithm import QCAlgorithm
from lean_local.engine.data_source import DataFolder
from lean_local.engine.engine import BacktestEngine
from lean_local.engine.runner import run_backtest
from lean_local.engine.symbols import Resolution
from lean_local.engine.time_budget import LeakyBucket, LeanTimeLimits, TimeBudget
from models.parameters import convert_parameter

from markets import DAYS, bars, write_market, write_project

SPY_CLOSES = [100.0 + i for i in range(len(DAYS))]  # write_market's SPY


class ManualClock:
    """A wall clock the test moves by hand (seconds), so no test sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _date(i: int) -> str:
    return f"{DAYS[i].year}, {DAYS[i].month}, {DAYS[i].day}"


# --- get_parameter: QCAlgorithm.cs L865-909 (string / int / double overloads) ---

def _algorithm(**parameters: str) -> QCAlgorithm:
    algo = QCAlgorithm()
    algo._parameters = dict(parameters)
    return algo


@pytest.mark.parametrize("raw, expected", [
    ("6", 6), (" 6 ", 6), ("+6", 6), ("-6", -6), ("2147483647", 2147483647),
    ("6.0", 5),          # int.TryParse(NumberStyles.Integer) has no decimal point: LEAN returns the default
    ("1e3", 5), ("1_000", 5), ("1,000", 5), ("", 5), ("six", 5),
    ("2147483648", 5),   # beyond Int32: TryParse fails
])
def test_int_parameter_returns_the_default_when_int_tryparse_fails(raw, expected):
    assert _algorithm(n=raw).get_parameter("n", 5) == expected


@pytest.mark.parametrize("raw, expected", [
    ("0.5", 0.5), (" 1e-3 ", 0.001), ("1,000.5", 1000.5), ("(2.5)", -2.5), ("2.5-", -2.5), (".5", 0.5),
    ("Infinity", math.inf), ("-infinity", -math.inf),
    ("abc", 0.25), ("", 0.25), ("inf", 0.25), ("1_0", 0.25), ("0x10", 0.25),
])
def test_float_parameter_parses_with_number_styles_any_and_invariant_culture(raw, expected):
    assert _algorithm(x=raw).get_parameter("x", 0.25) == expected


def test_nan_parameter_parses_as_nan():
    assert math.isnan(_algorithm(x="NaN").get_parameter("x", 0.25))


def test_string_overload_returns_the_raw_text_and_missing_names_return_the_default():
    algo = _algorithm(model="gpt2", n="6.0")
    assert algo.get_parameter("model") == "gpt2" and algo.get_parameter("n") == "6.0"
    assert algo.get_parameter("n", "x") == "6.0"
    assert algo.get_parameter("absent") is None and algo.get_parameter("absent", 7) == 7
    assert isinstance(algo.get_parameter("n", 1.0), float)


def test_a_default_of_no_overloaded_type_is_a_type_error():
    with pytest.raises(TypeError, match="get_parameter"):
        _algorithm(x="1").get_parameter("x", [1])


def test_the_model_package_keeps_its_own_clear_errors():
    """Algorithms pass strings (no default) to models.parameters, which names the bad parameter."""
    with pytest.raises(ValueError, match="lookback_days='6.0'"):
        convert_parameter("lookback_days", "6.0", 21)


# --- the benchmark: UniverseSelection.cs L328-398, SecurityService.cs L301-311, SecurityBenchmark.cs ---

BENCHMARK_ONLY = """
    from AlgorithmImports import *

    class BenchmarkOnly(QCAlgorithm):
        def initialize(self):
            self.set_start_date({start})
            self.set_end_date({end})
            self.set_cash(100000)
            self.aaa = self.add_equity("AAA", Resolution.DAILY).symbol
            {benchmark}
"""


def _benchmark_run(tmp_path, benchmark_line: str, write: bool = False):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0 + i for i in range(20)])])
    project = write_project(tmp_path / "root", "bench", BENCHMARK_ONLY.format(
        start=_date(1), end=_date(15), benchmark=benchmark_line))
    return data, run_backtest(project, data_dir=data, progress=False, write=write, output=tmp_path / "out")


def test_set_benchmark_without_hourly_data_keeps_the_benchmark_flat_as_lean(tmp_path):
    """LEAN feeds a SecurityBenchmark only from an internal HOUR subscription on its own Security object;
    a daily-only folder gives it no data, so Security.Price stays 0 and every sample is 0."""
    _, result = _benchmark_run(tmp_path, 'self.set_benchmark("SPY")', write=True)
    assert [b for _, _, b in result.record.equity] == [0.0] * 15
    (warning,) = [w for w in result.record.warnings if "benchmark" in w]
    assert "equity/usa/hour/spy.zip" in warning and "flat" in warning
    assert "SPY" not in result.algorithm.securities  # the benchmark security is not one of the algorithm's
    assert (tmp_path / "out" / "statistics.json").exists()


def test_the_default_benchmark_follows_the_same_rule(tmp_path):
    """No set_benchmark: LEAN's DefaultBrokerageModel.GetBenchmark makes the same SPY SecurityBenchmark."""
    _, result = _benchmark_run(tmp_path, "pass")
    assert {b for _, _, b in result.record.equity} == {0.0}
    assert any("equity/usa/hour/spy.zip" in w for w in result.record.warnings)


def test_a_daily_spy_subscription_does_not_feed_a_symbol_benchmark(tmp_path):
    """CreateBenchmarkSecurity passes reCreateSecurity: true, so the benchmark is a second SPY Security;
    the algorithm's daily SPY bars update the algorithm's SPY only."""
    _, result = _benchmark_run(tmp_path, 'self.spy = self.add_equity("SPY", Resolution.DAILY).symbol\n'
                                         '            self.set_benchmark(self.spy)')
    assert {b for _, _, b in result.record.equity} == {0.0}
    assert result.algorithm.securities["SPY"].price == SPY_CLOSES[15]


def test_a_function_benchmark_reads_the_daily_subscription(tmp_path):
    """set_benchmark(callable) is a FuncBenchmark: no internal feed, evaluated at each sample."""
    _, result = _benchmark_run(tmp_path, 'self.spy = self.add_equity("SPY", Resolution.DAILY).symbol\n'
                                         '            self.set_benchmark(lambda time: self.securities[self.spy].price)')
    assert [b for _, _, b in result.record.equity] == SPY_CLOSES[1:16]
    assert not any("benchmark" in w for w in result.record.warnings)


def test_with_an_hourly_file_the_symbol_benchmark_moves(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0 + i for i in range(20)])])
    hour = data / "equity" / "usa" / "hour"
    hour.mkdir(parents=True)
    with zipfile.ZipFile(hour / "spy.zip", "w") as z:
        z.writestr("spy.csv", "")
    project = write_project(tmp_path / "root", "bench", BENCHMARK_ONLY.format(
        start=_date(1), end=_date(15), benchmark='self.set_benchmark("SPY")'))
    result = run_backtest(project, data_dir=data, progress=False, write=False)
    assert [b for _, _, b in result.record.equity] == SPY_CLOSES[1:16]


SKELETON = """
    from AlgorithmImports import *
    from skeleton.top100 import Top100MonthlyAlgorithm

    class Base(Top100MonthlyAlgorithm):
        universe_size = 3
"""


def test_the_skeleton_benchmark_moves_and_spy_is_never_a_member_or_traded(tmp_path):
    frames = [bars(t, [20.0 + k + 0.1 * i for i in range(len(DAYS))], volume=1e6 * (k + 1))
              for k, t in enumerate(["AAA", "BBB", "CCC", "DDD"])]
    data = write_market(tmp_path / "m", frames)
    project = write_project(tmp_path / "root", "skel", SKELETON)
    result = run_backtest(project, data_dir=data, start="2020-01-01", end="2020-03-31", progress=False, write=False)
    samples = {d: b for d, _, b in result.record.equity}
    assert samples[DAYS[40].date()] == SPY_CLOSES[40] and samples[DAYS[-1].date()] == SPY_CLOSES[-1]
    assert "SPY" not in result.algorithm.members and len(result.algorithm.members) == 3
    assert not [o for o in result.record.orders if o.symbol.value == "SPY"]
    assert {o.symbol.value for o in result.record.orders} == {"BBB", "CCC", "DDD"}


MANUAL = """
    from AlgorithmImports import *

    class Manual(QCAlgorithm):
        def initialize(self):
            self.set_start_date({start})
            self.set_end_date({end})
            self.set_cash(100000)
            self.add_equity("AAA", Resolution.DAILY)
            self.added = []

        def on_securities_changed(self, changes):
            self.added += [(str(self.time), s.symbol.value) for s in changes.added_securities]
"""


def test_securities_added_in_initialize_reach_on_securities_changed_once(tmp_path):
    """LEAN's user-defined universe reports AddEquity securities in the first time step's changes."""
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * 20)])
    project = write_project(tmp_path / "root", "manual", MANUAL.format(start=_date(1), end=_date(5)))
    result = run_backtest(project, data_dir=data, progress=False, write=False)
    assert result.algorithm.added == [(f"{DAYS[1].date()} 00:00:00", "AAA")]


# --- time limits: BaseSetupHandler.cs L45, TimeMonitor.cs L90-113, AlgorithmTimeLimitManager.cs, LeakyBucket.cs ---

def _budget(**limits) -> tuple[TimeBudget, ManualClock]:
    clock = ManualClock()
    return TimeBudget(LeanTimeLimits(**limits), clock=clock), clock


WHEN = dt.datetime(2015, 3, 31, 18, 0)


def test_lean_defaults_for_a_local_backtest():
    limits = LeanTimeLimits()
    assert (limits.initialize_seconds, limits.time_loop_minutes) == (300.0, 20.0)
    assert (limits.capacity_minutes, limits.refill_minutes, limits.refill_interval_minutes) == (120, 18, 1440)


def test_an_event_under_a_minute_draws_nothing():
    budget, clock = _budget()
    budget.scheduled_event("Training: MonthEnd", WHEN, lambda: clock.advance(59.9))
    assert budget.bucket_left() == 120 and not budget.overruns


def test_each_full_minute_of_an_event_draws_one_minute_from_the_bucket():
    """TimeMonitor asks for one minute at 1:00, 2:00, ... of the event's wall time."""
    budget, clock = _budget()
    budget.scheduled_event("Rebalance", WHEN, lambda: clock.advance(150))
    budget.scheduled_event("Training", WHEN, lambda: clock.advance(60))
    assert budget.bucket_left() == 117 and not budget.overruns


def test_an_empty_bucket_is_where_lean_stops_the_algorithm():
    budget, clock = _budget(capacity_minutes=3, refill_minutes=1)
    budget.scheduled_event("Training: first", WHEN, lambda: clock.advance(130))       # draws 2, 1 left
    budget.scheduled_event("Training: second", WHEN + dt.timedelta(days=30), lambda: clock.advance(200))
    (overrun,) = budget.overruns
    assert overrun.name == "Training: second" and overrun.algorithm_time == WHEN + dt.timedelta(days=30)
    assert overrun.wall_seconds == 200 and overrun.bucket_left == 0 and overrun.at_minute == 2
    report = budget.report()
    assert report["would_stop_in_lean"] is True and report["stopped_at"]["name"] == "Training: second"
    assert "2015-04-30 18:00" in budget.warnings[0] and "3.3 min" in budget.warnings[0]


def test_the_bucket_refills_by_wall_clock_days_up_to_its_capacity():
    bucket = LeakyBucket(capacity=120, refill_amount=18, interval_seconds=86_400, now=0.0)
    for minute in range(100):
        assert bucket.try_consume(now=60.0 * minute)
    assert bucket.available(now=86_399.0) == 20
    assert bucket.available(now=86_400.0) == 38          # one refill after 1440 wall minutes
    assert bucket.available(now=10 * 86_400.0) == 120    # capped at the capacity


def test_initialize_over_300_seconds_is_flagged():
    budget, clock = _budget()
    budget.initialize(lambda: clock.advance(301), WHEN)
    (overrun,) = budget.overruns
    assert overrun.kind == "initialize" and "300" in overrun.reason


def test_a_time_step_outside_scheduled_events_has_no_bucket():
    """on_data gets no TimeConsumer: it may run time-loop-maximum minutes, then LEAN stops."""
    budget, clock = _budget()
    budget.time_step("on_data", WHEN, lambda: clock.advance(20 * 60))
    assert not budget.overruns
    budget.time_step("on_data", WHEN, lambda: clock.advance(20 * 60 + 1))
    assert budget.overruns[0].kind == "time step" and budget.bucket_left() == 120


def test_the_engine_accounts_train_events_and_keeps_running(tmp_path):
    data = write_market(tmp_path / "m", [bars("AAA", [10.0] * len(DAYS))])
    clock = ManualClock()

    class Trains(QCAlgorithm):
        def initialize(self) -> None:
            self.set_start_date(2020, 1, 1)
            self.set_end_date(2020, 3, 31)
            self.add_equity("AAA", Resolution.DAILY)
            self.train(self.date_rules.month_end("SPY"), self.time_rules.at(18, 0), lambda: clock.advance(61 * 60))
            self.train(lambda: clock.advance(30))

    engine = BacktestEngine(Trains(), DataFolder(data), progress=False, clock=clock)
    record = engine.run()
    assert record.equity[-1][0] == DAYS[-1].date()                       # the local run did not stop
    report = engine.time_budget.report()
    assert report["stopped_at"]["time"] == "2020-02-28 18:00:00"       # Jan draws 61, Feb runs dry at 60
    assert report["stopped_at"]["at_minute"] == 60
    assert report["scheduled_events"]["count"] == 4 and report["bucket_left_minutes"] == 0
    assert any("LEAN would have stopped" in w for w in record.warnings)


def test_run_json_records_the_time_limit_report(tmp_path):
    data, _ = _benchmark_run(tmp_path, "pass", write=True)
    info = json.loads((tmp_path / "out" / "run.json").read_text())["lean_time_limit"]
    assert info["would_stop_in_lean"] is False and info["bucket_left_minutes"] == 120
    assert info["limits"]["bucket_capacity_minutes"] == 120 and info["initialize_seconds"] >= 0
