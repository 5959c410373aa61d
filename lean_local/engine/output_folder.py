"""A backtest's output folder is a transaction: it appears complete at its final name, or not at all.

The LEAN CLI writes into ``<project>/backtests/<%Y-%m-%d_%H-%M-%S>/`` and into an existing ``--output`` as it
is (lean-cli 1.0.230 ``lean/commands/backtest.py`` L325-326, L376-377), so two runs started in the same second
share one folder and the later one overwrites the earlier; LEAN writes its result files as it goes. Here:

1. At the start (before the algorithm runs) ``--output`` is checked and a staging folder
   ``<final>.backtest-tmp-<pid>@<host>`` is created beside the final name (an unwritable place fails now, not after
   the run). Staging folders of processes that no longer exist (a killed run) are deleted first.
2. Every file is written into the staging folder, ``run.json`` last: it is the completion marker.
3. Publishing renames the staging folder to its final name, under an exclusive lock on the parent folder:
   - default name: the run's start stamp, or ``<stamp>_2``, ``<stamp>_3``, ... when it is taken;
   - ``--output`` that does not exist or is empty: that name;
   - ``--output`` holding an earlier backtest's results (its ``run.json``): replaced whole when this run
     succeeded (old moved aside to ``<final>.backtest-old-<pid>@<host>``, new renamed in, old deleted). A failed run
     never replaces earlier results: it is published as ``<final>_failed`` (``_failed_2``, ...).

A run that crashes publishes ``log.txt`` and ``run.json`` (``"status": "failed"``, the error and its traceback)
and whatever results it had; a kill leaves only a staging folder, which the next run in the same folder
deletes. A reader therefore finds a folder with ``run.json`` or none.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import socket
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

MARKER = "run.json"
STAGING = ".backtest-tmp-"
OLD = ".backtest-old-"
_LEFTOVER = re.compile(rf"^(?P<final>.+)(?P<kind>{re.escape(STAGING)}|{re.escape(OLD)})(?P<pid>\d+)(@(?P<host>[A-Za-z0-9.-]+))?$")
# The host is part of a leftover's name: on a shared filesystem (optimize --ray-address over several nodes) a
# pid says nothing about another machine's processes, so only this host's leftovers are judged and removed.
HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


def _owner() -> str:
    return f"{os.getpid()}@{HOST}"


def is_complete(folder: Path) -> bool:
    """A folder a run finished writing (its marker, written last, is there)."""
    return (folder / MARKER).is_file()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` (released by the kernel if the process dies)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove(folder: Path) -> None:
    """Marker first, so that a kill half way never leaves something that looks complete."""
    (folder / MARKER).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def recover(parent: Path) -> None:
    """Undo what killed runs left in ``parent`` (call with the lock held): their staging folders are deleted; a
    final folder they had moved aside while replacing it is put back when nothing took its place."""
    if not parent.is_dir():
        return
    for entry in sorted(parent.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        if (match["host"] or HOST) != HOST or _alive(int(match["pid"])):  # another machine's, or still running
            continue
        final = parent / match["final"]
        if match["kind"] == OLD and not final.exists() and is_complete(entry):
            log.warning("%s is missing: a run was killed while replacing it; restoring the earlier results", final)
            os.rename(entry, final)
        else:
            log.warning("removing %s, left by a backtest that was killed", entry)
            _remove(entry)


def check_output(output: Path) -> None:
    """``--output`` must be a new folder, an empty one, or an earlier backtest's (replaced whole)."""
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"--output {output} is a file: give a folder (new, empty, or an earlier backtest's, "
                              "which a successful run replaces)")
    if output.is_dir() and not is_complete(output) and any(output.iterdir()):
        raise FileExistsError(f"--output {output} is not empty and holds no {MARKER} from an earlier backtest: "
                              "a run replaces the whole folder it writes, so choose a new or empty folder")


class BacktestOutput:
    """``out = BacktestOutput.begin(output, backtests, stamp)``; write into ``out.staging``;
    ``out.publish(ok)`` returns the final folder."""

    def __init__(self, parent: Path, name: str, explicit: bool) -> None:
        self.parent = parent
        self.name = name
        self.explicit = explicit
        self.staging = parent / f"{name}{STAGING}{_owner()}"

    @classmethod
    def begin(cls, output: str | Path | None, backtests: Path, stamp: str) -> "BacktestOutput":
        """Check ``--output`` (None: ``backtests/<stamp>``), recover leftovers, create the staging folder."""
        if output is not None:
            path = Path(os.path.abspath(output))
            path = path.resolve() if path.is_symlink() else path
            check_output(path)
            out = cls(path.parent, path.name, explicit=True)
        else:
            out = cls(backtests, stamp, explicit=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        with _locked(out.parent):
            recover(out.parent)
            if out.staging.exists():  # our own pid's leftover (pid reuse): never ours to keep
                _remove(out.staging)
            out.staging.mkdir()
        return out

    @property
    def planned(self) -> Path:
        """Where the results go if nothing else takes the name first."""
        return self.parent / self.name

    def publish(self, succeeded: bool) -> Path:
        """Rename the staging folder (which must hold its marker) to its final name; returns that name."""
        assert is_complete(self.staging), f"{MARKER} must be written before publishing"
        with _locked(self.parent):
            if self.explicit and succeeded and is_complete(self.planned):
                return self._replace(self.planned)
            base = self.name if not self.explicit or succeeded or not is_complete(self.planned) \
                else f"{self.name}_failed"
            return self._rename_to_free(base)

    def _rename_to_free(self, base: str) -> Path:
        """The first of ``base``, ``base_2``, ... that is free (or an empty folder) takes the results."""
        for n in range(1, 10_000):
            final = self.parent / (base if n == 1 else f"{base}_{n}")
            if final.is_dir() and not final.is_symlink() and not any(final.iterdir()):
                final.rmdir()
            if final.exists() or final.is_symlink():
                continue
            try:
                os.rename(self.staging, final)
            except OSError as exc:  # taken meanwhile by something that does not take our lock
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    continue
                raise
            return final
        raise FileExistsError(f"{self.parent}: no free name for {base}")

    def _replace(self, final: Path) -> Path:
        old = self.parent / f"{self.name}{OLD}{_owner()}"
        os.rename(final, old)
        os.rename(self.staging, final)
        _remove(old)
        return final

    def discard(self) -> None:
        """Delete the staging folder (nothing published)."""
        if self.staging.exists():
            _remove(self.staging)
