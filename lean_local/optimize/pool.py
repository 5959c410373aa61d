"""Running the combinations: one at a time in this process, or on ``--workers N`` separate processes.

Each combination is one :func:`lean_local.engine.runner.run_backtest` into its own output folder, a transaction
(``lean_local/engine/output_folder.py``): it appears with its ``run.json`` or not at all, so a kill at any
moment leaves finished combinations finished and the rest absent (their staging folders are deleted by the next
run in the same folder). A combination that raises is reported as failed and the others go on.

Worker processes are started with ``spawn`` (no fork of a process that holds threads) and each limits torch and
the BLAS libraries to ``cores // N`` threads, so N workers do not oversubscribe the machine.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Callable, Iterable

log = logging.getLogger(__name__)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class Task:
    """One combination's backtest: everything a worker (a process, or a Ray task elsewhere) needs."""

    index: int
    project: str
    data: str | None
    start: str | None
    end: str | None
    parameters: dict[str, str]  # config.json's parameters with the combination's on top
    output: str
    fill_timing: str


@dataclass
class Outcome:
    index: int
    status: str  # "completed" or "failed"
    folder: str
    error: str | None = None
    wall_seconds: float | None = None


def limit_threads(threads: int) -> None:
    """Torch and BLAS thread pools of this process to ``threads``. The variables are read when torch (and
    numpy's BLAS) start, so a fresh worker is limited without importing torch here; a torch already imported is
    told directly."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity, e.g. a container's cpuset), not the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    return max(1, usable_cores() // max(1, workers))


def run_task(task: Task) -> Outcome:
    """Run one combination; a failure comes back as an Outcome (one line), never as an exception."""
    from ..engine.runner import run_backtest

    try:
        result = run_backtest(task.project, data_dir=task.data, start=task.start, end=task.end,
                              parameters=task.parameters, output=task.output, fill_timing=task.fill_timing,
                              progress=False, tearsheet=False)
    except Exception as exc:  # noqa: BLE001 - reported per combination; the others go on
        notes = [n.removeprefix("lean_local: ") for n in getattr(exc, "__notes__", []) if n.startswith("lean_local:")]
        error = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Outcome(task.index, "failed", task.output, error + (f" ({notes[-1]})" if notes else ""))
    return Outcome(task.index, "completed", str(result.output_dir), None, result.run_info.get("wall_seconds"))


def _exit_with(parent: int) -> None:
    """A worker outlives a killed optimization otherwise (waiting on its queue for ever)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)  # its unfinished combination is a staging folder the next run deletes


def _init_worker(threads: int, path: list[str], parent: int) -> None:
    sys.path[:] = path + [p for p in sys.path if p not in path]
    limit_threads(threads)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="exit-with-parent").start()


def run_serial(tasks: Iterable[Task], on_outcome: Callable[[Outcome], None]) -> None:
    for task in tasks:
        on_outcome(run_task(task))


def run_processes(tasks: list[Task], workers: int, on_outcome: Callable[[Outcome], None]) -> None:
    """``workers`` spawned processes; outcomes are handed to ``on_outcome`` in the order they finish. A worker that
    dies (killed, out of memory) fails its combination and the ones still queued, with a message saying to resume."""
    threads = threads_per_worker(workers)
    log.info("%d worker processes, %d torch/BLAS threads each", workers, threads)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(threads, list(sys.path), os.getpid()))
    try:
        pending: dict[Future[Outcome], Task] = {pool.submit(run_task, t): t for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                try:
                    on_outcome(future.result())
                except BrokenProcessPool:
                    on_outcome(Outcome(task.index, "failed", task.output, "a worker process died (killed or out of "
                                       "memory); rerun with --resume to run what is left"))
    except BaseException:  # Ctrl-C or a kill of this process: drop the queue and stop the running backtests now
        for process in list(getattr(pool, "_processes", {}).values()):  # (a SIGINT sent to this process alone
            process.terminate()                                           # would leave them running to the end)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
