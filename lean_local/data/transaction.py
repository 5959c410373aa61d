"""Imports are transactions: a data folder is replaced whole, or not at all.

An import owns the whole folder it writes (``--out``). It writes everything into a staging folder beside it
and publishes it with renames, so a reader or a kill at any moment finds the previous complete import or the
new one, never a mix (and never the old run's tickers or universe files next to the new ones):

1. ``OUT.tmp-<pid>``: the new import is written here, its completion marker ``lean_local_import.json`` last;
   then ``os.sync()`` so that a power cut cannot publish files still in the page cache.
2. ``OUT`` -> ``OUT.old-<pid>`` (when ``OUT`` exists).
3. ``OUT.tmp-<pid>`` -> ``OUT``; the parent folder is fsynced.
4. ``OUT.old-<pid>``: its marker is deleted first (a half-deleted folder is never taken for complete), then
   the folder.

A kill before 3 leaves the old ``OUT`` (or, between 2 and 3, no ``OUT`` but a complete ``OUT.old-<pid>``);
from 3 on, ``OUT`` is the new import. Each import first recovers under a lock on the parent folder: staging
folders are deleted, a missing ``OUT`` is restored from the newest complete ``OUT.old-*``, and other
``OUT.old-*`` folders are deleted. Readers refuse a folder without the marker
(:class:`lean_local.engine.data_source.DataFolder`).

Test hook: ``LEAN_LOCAL_TEST_PAUSE_AT=<stage>`` makes the import write ``LEAN_LOCAL_TEST_PAUSE_FILE`` and sleep
at that stage (``writing``, ``staged``, ``swapped-out``, ``published``, ``removing-old``), so a test can kill it
exactly there.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

MARKER = "lean_local_import.json"
PAUSE_ENV = "LEAN_LOCAL_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "LEAN_LOCAL_TEST_PAUSE_FILE"
STAGES = ("writing", "staged", "swapped-out", "published", "removing-old")


def pause_point(stage: str) -> None:
    """Test-only: when ``LEAN_LOCAL_TEST_PAUSE_AT`` names ``stage``, signal it and sleep (to be killed there)."""
    if os.environ.get(PAUSE_ENV) != stage:
        return
    flag = os.environ.get(PAUSE_FILE_ENV)
    log.warning("%s=%s: pausing here so that a test can kill the import", PAUSE_ENV, stage)
    if flag:
        Path(flag).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("LEAN_LOCAL_TEST_PAUSE_SECONDS", "120")))


def is_complete(folder: Path) -> bool:
    """A folder an import finished: its marker, written last, is there."""
    return (folder / MARKER).is_file()


def staging_path(out: Path) -> Path:
    return out.with_name(f"{out.name}.tmp-{os.getpid()}")


def old_path(out: Path) -> Path:
    return out.with_name(f"{out.name}.old-{os.getpid()}")


def leftovers(out: Path, kind: str) -> list[Path]:
    """``OUT.tmp-*`` or ``OUT.old-*`` folders left by interrupted imports (``kind`` is ``tmp`` or ``old``)."""
    if not out.parent.is_dir():
        return []
    prefix = f"{out.name}.{kind}-"
    return sorted(p for p in out.parent.iterdir()
                  if p.name.startswith(prefix) and p.name[len(prefix):].isdigit() and p.is_dir() and not p.is_symlink())


def _remove(folder: Path) -> None:
    """Delete an import folder: marker first, so that a kill half way never leaves a 'complete' one."""
    (folder / MARKER).unlink(missing_ok=True)
    shutil.rmtree(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(out: Path) -> None:
    """Undo what an interrupted import left beside ``out`` (call with the lock held)."""
    for staging in leftovers(out, "tmp"):
        log.warning("removing %s, left by an interrupted import", staging)
        shutil.rmtree(staging)
    olds = leftovers(out, "old")
    if not out.exists():
        complete = [p for p in olds if is_complete(p)]
        if complete:
            newest = max(complete, key=lambda p: (p / MARKER).stat().st_mtime_ns)
            log.warning("%s is missing: an import was interrupted while publishing; restoring the previous "
                        "complete import from %s", out, newest)
            os.rename(newest, out)
            _fsync_dir(out.parent)
            olds.remove(newest)
    if not is_complete(out):  # never delete a complete copy while out is not one (a user changed it?)
        return
    for old in olds:
        log.warning("removing %s, the previous import an interrupted import had moved aside", old)
        _remove(old)


def _check_owned(out: Path) -> None:
    """The import replaces ``out`` whole: only a new folder, an empty one or an earlier import's."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is not a folder: give --out a folder path")
    if out.is_dir() and not is_complete(out) and any(out.iterdir()):
        raise FileExistsError(
            f"{out} is not empty and holds no {MARKER}: an import replaces the whole folder it writes, so it only "
            "writes a new folder, an empty one or one an earlier import wrote; choose another --out or remove it")
    if is_complete(out) and _adopted(out):
        raise FileExistsError(
            f"{out} is a LEAN data folder no import wrote (marked by `data adopt`): an import replaces the whole folder "
            "it writes and would delete what else is in it; choose another --out")


def _adopted(folder: Path) -> bool:
    import json

    try:
        return bool(json.loads((folder / MARKER).read_text()).get("adopted"))
    except (OSError, ValueError, AttributeError):
        return False


class ImportTransaction:
    """``with ImportTransaction(out) as tx: ...; staging = tx.begin(); <write into staging>; tx.commit()``.

    Entering takes the lock (an exclusive ``flock`` on the parent folder, released by the kernel when the
    process dies), recovers leftovers and checks that ``out`` may be replaced; leaving without ``commit``
    deletes the staging folder and leaves ``out`` as it was."""

    def __init__(self, out: str | Path) -> None:
        path = Path(os.path.abspath(out))
        self.out = path.resolve() if path.is_symlink() else path
        self.staging: Path | None = None
        self._lock_fd: int | None = None

    def __enter__(self) -> "ImportTransaction":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.out.parent, os.O_RDONLY)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another import is writing in %s; waiting for it to finish", self.out.parent)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            recover(self.out)
            _check_owned(self.out)
        except BaseException:
            self._unlock()
            raise
        return self

    def begin(self) -> Path:
        """Create and return the empty staging folder (mode from the umask, like any ``mkdir``)."""
        self.staging = staging_path(self.out)
        self.staging.mkdir()
        return self.staging

    def commit(self) -> None:
        """Publish the staging folder as ``out`` (steps 2-4 above)."""
        assert self.staging is not None and is_complete(self.staging), "the marker must be written before commit"
        pause_point("staged")
        os.sync()
        old = None
        if self.out.exists():
            old = old_path(self.out)
            os.rename(self.out, old)
            pause_point("swapped-out")
        os.rename(self.staging, self.out)
        _fsync_dir(self.out.parent)
        self.staging = None
        pause_point("published")
        if old is not None:
            (old / MARKER).unlink(missing_ok=True)
            pause_point("removing-old")
            shutil.rmtree(old)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self.staging is not None and self.staging.exists():
                shutil.rmtree(self.staging)
        finally:
            self._unlock()


def adopt(folder: Path) -> Path:
    """Mark a LEAN data folder that no import wrote (``lean init``'s ``data/``, ``lean data download``) as
    complete, so that the runner reads it: the user vouches for it, the marker says so."""
    import json

    folder = Path(folder)
    if not (folder / "equity" / "usa").is_dir():
        raise FileNotFoundError(f"{folder} is not a LEAN data folder (no equity/usa inside)")
    if is_complete(folder):
        return folder / MARKER
    tmp = folder / f"{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"adopted": True, "note": "a LEAN data folder not written by `lean_local data import`; "
                               "marked complete by `python -m lean_local data adopt`"}, indent=1) + "\n")
    tmp.replace(folder / MARKER)
    return folder / MARKER
