"""One writer per stored state: an exclusive ``flock`` on ``<prefix>/run.lock`` in the object store's folder.

Two runs that share a ``storage/`` folder and a state prefix (same model, same seed) would otherwise
overwrite each other's checkpoints, each believing its own was saved. A run takes the lock at its start
and keeps it to its end; a second live run is refused at its start with a message naming the holder.
A one-off save (a research notebook, ``scripts/pretrain_llm4fts.py``) takes it for the save only and
waits briefly for a writer that holds it.

The kernel drops an ``flock`` when its process dies, so the lock of a killed run is free: the next run
takes it over and logs that the previous holder ended without releasing it (what that run had not
published is not in the store; its last published generation is). The lock file is found through
``object_store.get_file_path`` (``Lean:Engine/Storage/LocalObjectStore.cs`` L484-512), which registers
its key with no content, so LEAN never rewrites it. An ``flock`` covers processes on one machine sharing
one folder (the local runner, ``lean backtest`` on one host), not cloud backtests, which each get their
own copy of the object store.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ModelSetupError
from .files import ObjectStoreLike

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
LOCK_NAME = "run.lock"


class StateInUseError(ModelSetupError):
    """Another live run holds the stored state this run would read and write."""


class PrefixLock:
    """The lock of one state prefix; ``what`` names the state in messages."""

    def __init__(self, store: ObjectStoreLike, prefix: str, what: str) -> None:
        self.store, self.prefix, self.what = store, prefix, what
        self.key = f"{prefix}/{LOCK_NAME}"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, purpose: str, wait_s: float = 0.0) -> str | None:
        """Take the lock (waiting up to ``wait_s`` seconds) or raise :class:`StateInUseError`.
        Returns a note when it took over the lock of a run that ended without releasing it."""
        if self._fd is not None:
            return None
        if fcntl is None:
            log.warning("no fcntl on this system: '%s/' is not protected against a second run", self.prefix)
            return None
        path = Path(self.store.get_file_path(self.key))
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        collected = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if not collected and _own_abandoned_lock(fd):
                    continue  # a run in this process that failed without releasing it: collected, now free
                collected = True
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise StateInUseError(self._refusal(holder, wait_s)) from None
                time.sleep(0.05)
        previous = _holder(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(_me(purpose)).encode(), 0)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        if not previous:
            return None
        note = (f"took over the lock of '{self.prefix}/' from {_describe(previous)}, which ended without releasing "
                f"it (killed or crashed): its last published generation is what the store holds")
        log.warning(note)
        return note

    def release(self) -> None:
        """Give the lock back (its file is emptied: an empty lock file means a clean end)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            self.release()

    def _refusal(self, holder: dict[str, Any], wait_s: float) -> str:
        waited = f" (waited {wait_s:.0f} s)" if wait_s else ""
        return (f"'{self.prefix}/' ({self.what}) is in use by another live run{waited}: {_describe(holder)}. Two runs "
                "sharing one storage folder and this state would overwrite each other's saves. Wait for that run "
                "to end, or give this one its own state (another seed or model_id, or another project folder)")


def _me(purpose: str) -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
            "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _holder(fd: int) -> dict[str, Any]:
    """What the lock file says about its holder ({} when empty or unreadable)."""
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {"unreadable": True}
    return holder if isinstance(holder, dict) else {"unreadable": True}


def _describe(holder: dict[str, Any]) -> str:
    if not holder or holder.get("unreadable"):
        return "a run that did not say who it is"
    return (f"process {holder.get('pid')} on {holder.get('host')} ({holder.get('purpose')}, since "
            f"{holder.get('since')})")



def _own_abandoned_lock(fd: int) -> bool:
    """When this process itself holds the lock, the holder may be a dropped lock object of a run that raised
    before releasing it (LEAN, too, skips ``on_end_of_algorithm`` after a runtime error): collecting garbage runs
    its ``__del__``, which releases it. True when the lock is free afterwards."""
    if _holder(fd).get("pid") != os.getpid():
        return False
    import gc

    gc.collect()
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True
