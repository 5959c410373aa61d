"""``--ray-address ADDR``: the combinations as Ray tasks on an existing cluster (ray 2.53.0, the LEAN image's).

Assumption, stated in the help: every Ray worker node sees the project, its ``Library``, the data folder and the
optimization folder at the same absolute paths as the driver (a shared filesystem, e.g. NFS), and runs the same
Python environment with this package importable. Each task writes its combination's folder itself, as a local
worker process does; nothing but the small :class:`~.pool.Outcome` travels back. (Shipping the code with
``runtime_env={"working_dir": ...}`` would not be enough: the results would land on the workers' own disks.)

``ADDR`` is what ``ray.init(address=...)`` takes: ``auto``, ``HOST:6379`` or ``ray://HOST:10001``; ``local``
starts a private single-machine cluster with ``--workers`` CPUs (what the tests use). Each task asks for
``cpus_per_task`` CPUs and limits torch/BLAS to that many threads.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from .pool import Outcome, Task, limit_threads, run_task

log = logging.getLogger(__name__)


def _remote_body(task: Task, threads: int) -> Outcome:
    limit_threads(threads)
    return run_task(task)


def run_ray(tasks: list[Task], address: str, workers: int, on_outcome: Callable[[Outcome], None],
            cpus_per_task: int = 1) -> None:
    """Submit every task, hand outcomes to ``on_outcome`` as they finish; a task Ray itself loses (a node died)
    is reported as a failed combination. The cluster is disconnected from (a ``local`` one shut down) at the end."""
    import ray

    init: dict[str, Any] = {"address": address, "log_to_driver": False}
    if address == "local":
        init |= {"num_cpus": max(workers, cpus_per_task), "include_dashboard": False}
    ray.init(**init)
    refs: dict[Any, Task] = {}
    try:
        remote = ray.remote(num_cpus=cpus_per_task, max_retries=0)(_remote_body)
        refs = {remote.remote(task, cpus_per_task): task for task in tasks}
        log.info("submitted %d combinations to the Ray cluster at %s", len(refs), address)
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                task = refs.pop(ref)
                try:
                    on_outcome(ray.get(ref))
                except ray.exceptions.RayError as exc:
                    on_outcome(Outcome(task.index, "failed", task.output, "Ray lost the task: "
                                       + " ".join(str(exc).split())[:300]))
    except BaseException:
        for ref in list(refs):
            ray.cancel(ref, force=True)
        raise
    finally:
        ray.shutdown()
