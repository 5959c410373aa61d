"""LEAN's time limits on algorithm code, measured on this run's wall clock.

The local run is never stopped: each piece of algorithm code is timed, and where LEAN would have
stopped the algorithm the run gets a warning and ``run.json`` a ``lean_time_limit`` report. The
numbers are this machine's wall time, so a CPU run over-states what a GPU node spends.

The rules, from QuantConnect/Lean 24863901:

- ``initialize`` runs under the Isolator with ``initialization-timeout`` = 300 s
  (``Engine/Setup/BaseSetupHandler.cs`` L45, used by ``BacktestingSetupHandler.cs`` L164).
- Every scheduled event, ``schedule.on`` and ``train`` alike (``ScheduleManager.Training`` and
  ``TrainingNow`` are plain ``ScheduleManager.On``, ``Common/Scheduling/ScheduleManager.cs`` L228-276),
  runs through ``IsolatorLimitResultProvider.Consume`` (``BacktestingRealTimeHandler.cs`` L109/L139).
  That registers a ``TimeConsumer`` with the ``TimeMonitor`` (``Common/Scheduling/TimeMonitor.cs``
  L90-113), which asks ``AlgorithmTimeLimitManager.RequestAdditionalTime(1)`` one minute after the
  event started and every minute after: an event shorter than a minute draws nothing, one of
  2.5 minutes draws 2. When the bucket cannot give the minute the manager is marked failed and the
  Isolator stops the algorithm at its next check (``Engine/AlgorithmTimeLimitManager.cs``).
- The bucket (``Common/Util/RateLimit/LeakyBucket.cs``, ``FixedIntervalRefillStrategy.cs``) starts
  full and gains ``refill`` minutes per elapsed *wall-clock* interval, never above its capacity.
  Defaults (``Common/Packets/LeakyBucketControlParameters.cs``; ``Controls.cs`` L157 uses them when
  the job sets none, as a local ``lean backtest`` does): capacity 120
  (``scheduled-event-leaky-bucket-capacity``), refill ceil(120/7) = 18
  (``...-refill-amount``) every 1440 minutes (``...-time-interval-minutes``). A backtest shorter than
  a day of wall time therefore has 120 minutes in all.
- A time step may run ``algorithm-manager-time-loop-maximum`` minutes (default 20,
  ``Engine/AlgorithmManager.cs`` L104) plus the minutes the bucket granted within it
  (``AlgorithmTimeLimitManager.IsOutOfTime``); code outside scheduled events (``on_data``,
  ``on_securities_changed``) has no bucket. ``on_end_of_algorithm`` runs after
  ``StopEnforcingTimeLimit`` (``AlgorithmManager.cs`` L610) and is not limited.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)
Clock = Callable[[], float]  # seconds, monotonic
MAX_LISTED = 20


@dataclass(frozen=True)
class LeanTimeLimits:
    """LEAN's defaults for a local ``lean backtest`` (config keys in the module docstring)."""

    initialize_seconds: float = 300.0
    time_loop_minutes: float = 20.0
    capacity_minutes: int = 120
    refill_minutes: int = 18  # ceil(capacity / 7)
    refill_interval_minutes: int = 1440

    def describe(self) -> dict[str, Any]:
        return {"initialize_seconds": self.initialize_seconds, "time_loop_minutes": self.time_loop_minutes,
                "bucket_capacity_minutes": self.capacity_minutes, "bucket_refill_minutes": self.refill_minutes,
                "bucket_refill_interval_minutes": self.refill_interval_minutes,
                "source": "LEAN defaults for a local `lean backtest` (QuantConnect/Lean 24863901); QuantConnect "
                          "Cloud sets its own per node (its docs: 10 minutes per time slice)"}


class LeakyBucket:
    """LEAN's ``LeakyBucket`` with ``FixedIntervalRefillStrategy``: minutes as tokens, refilled by wall time."""

    def __init__(self, capacity: int, refill_amount: int, interval_seconds: float, now: float) -> None:
        self.capacity = capacity
        self._available = capacity
        self._refill_amount = refill_amount
        self._interval = interval_seconds
        self._next_refill = now + interval_seconds

    def _refill(self, now: float) -> None:
        if now < self._next_refill:
            return
        intervals = 1 + int((now - self._next_refill) // self._interval)
        self._next_refill += intervals * self._interval
        self._available = min(self.capacity, self._available + intervals * self._refill_amount)

    def available(self, now: float) -> int:
        self._refill(now)
        return self._available

    def try_consume(self, now: float, tokens: int = 1) -> bool:
        self._refill(now)
        if tokens > self._available:
            return False
        self._available -= tokens
        return True


@dataclass
class Overrun:
    """One place where LEAN would have stopped the algorithm."""

    kind: str  # "initialize" | "scheduled event" | "time step"
    name: str
    algorithm_time: dt.datetime
    wall_seconds: float
    bucket_left: int
    reason: str
    at_minute: int | None = None

    def message(self) -> str:
        return (f"LEAN time limit: {self.kind} '{self.name}' at {self.algorithm_time:%Y-%m-%d %H:%M} ran "
                f"{self.wall_seconds / 60:.1f} min here ({self.bucket_left} min left in the leaky bucket): "
                f"{self.reason}. LEAN would have stopped the algorithm here; the local run continues.")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["time"] = str(out.pop("algorithm_time"))
        return out


@dataclass
class _Longest:
    name: str = ""
    time: str = ""
    seconds: float = 0.0


@dataclass
class _EventTotals:
    count: int = 0
    seconds: float = 0.0
    minutes_drawn: int = 0
    longest: _Longest = field(default_factory=_Longest)

    def add(self, name: str, when: dt.datetime, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        if seconds > self.longest.seconds:
            self.longest = _Longest(name, str(when), seconds)


class TimeBudget:
    """Times the algorithm's code against LEAN's limits; ``clock`` is injectable so tests never sleep."""

    def __init__(self, limits: LeanTimeLimits | None = None, clock: Clock = time.perf_counter) -> None:
        self.limits = limits or LeanTimeLimits()
        self.clock = clock
        self.bucket = LeakyBucket(self.limits.capacity_minutes, self.limits.refill_minutes,
                                  self.limits.refill_interval_minutes * 60.0, clock())
        self.overruns: list[Overrun] = []
        self.overrun_count = 0
        self.initialize_seconds: float | None = None
        self.events = _EventTotals()
        self._busy = False  # code called from inside timed code is part of it (no double count)

    # --- what the engine calls ---
    def initialize(self, fn: Callable[[], Any], when: dt.datetime) -> None:
        seconds = self._timed(fn)
        self.initialize_seconds = seconds
        if seconds > self.limits.initialize_seconds:
            self._flag(Overrun("initialize", "initialize", when, seconds, self.bucket_left(),
                               f"initialize may run {self.limits.initialize_seconds:g} s "
                               "(initialization-timeout, Engine/Setup/BaseSetupHandler.cs L45)"))

    def scheduled_event(self, name: str, when: dt.datetime, fn: Callable[[], Any]) -> None:
        if self._busy:
            fn()
            return
        start = self.clock()
        seconds = self._timed(fn)
        self.events.add(name, when, seconds)
        for minute in range(1, int(seconds // 60) + 1):  # TimeMonitor: one request per full minute
            if self.bucket.try_consume(now=start + 60.0 * minute):
                self.events.minutes_drawn += 1
                continue
            self._flag(Overrun("scheduled event", name, when, seconds, 0,
                               f"its minute {minute} found the leaky bucket empty "
                               "(TimeMonitor.cs, AlgorithmTimeLimitManager.RequestAdditionalTime)", minute))
            break

    def time_step(self, name: str, when: dt.datetime, fn: Callable[[], Any]) -> None:
        """Code outside scheduled events: no bucket, ``time_loop_minutes`` at most."""
        if self._busy:
            fn()
            return
        seconds = self._timed(fn)
        if seconds > self.limits.time_loop_minutes * 60:
            self._flag(Overrun("time step", name, when, seconds, self.bucket_left(),
                               f"a time step may run {self.limits.time_loop_minutes:g} min outside scheduled "
                               "events (algorithm-manager-time-loop-maximum, Engine/AlgorithmManager.cs L104)"))

    # --- results ---
    def bucket_left(self) -> int:
        return self.bucket.available(self.clock())

    @property
    def warnings(self) -> list[str]:
        return [o.message() for o in self.overruns]

    def report(self) -> dict[str, Any]:
        """The ``lean_time_limit`` entry of ``run.json``."""
        return {
            "limits": self.limits.describe(),
            "clock": "wall time on this machine (not QuantConnect's hardware)",
            "initialize_seconds": self.initialize_seconds,
            "scheduled_events": {"count": self.events.count, "total_seconds": self.events.seconds,
                                 "minutes_drawn": self.events.minutes_drawn, "longest": asdict(self.events.longest)},
            "bucket_left_minutes": self.bucket_left(),
            "would_stop_in_lean": bool(self.overruns),
            "stopped_at": self.overruns[0].to_json() if self.overruns else None,
            "overruns": [o.to_json() for o in self.overruns],
            "overruns_not_listed": self.overrun_count - len(self.overruns),
        }

    # --- internals ---
    def _timed(self, fn: Callable[[], Any]) -> float:
        start = self.clock()
        self._busy = True
        try:
            fn()
        finally:
            self._busy = False
        return self.clock() - start

    def _flag(self, overrun: Overrun) -> None:
        self.overrun_count += 1
        if len(self.overruns) < MAX_LISTED:
            self.overruns.append(overrun)
            log.warning("%s", overrun.message())

