"""Stored states as generations: a save never touches what a load would read until it is complete.

Layout under a state's prefix (every key valid under LEAN's key rule, ``LocalObjectStore.cs`` L115):

    <prefix>/gen-<n>/<payload files>      the state's tensors and settings (safetensors, JSON)
    <prefix>/gen-<n>/<manifest>           SHA-256 of every payload file, identity, base, trained_through
    <prefix>/current.json                 the pointer: which generation is published, its manifest's SHA-256
    <prefix>/run.lock                     the writer's lock (lock.py)
    <prefix>/rejected/<stamp>/...         copies of states that were refused

A save writes generation ``n + 1`` (payload, then manifest, then the pointer; each stage persisted
before the next, :func:`.files.persist`) and only then deletes the older generations. A load reads the
generation the pointer names and checks it completely (manifest format and checksums, the pointer's
digest of the manifest, look-ahead, identity settings, base weights) before the model is touched; a
state that fails any check is copied under ``rejected/`` before anything can replace it. States saved by
earlier code in one folder without generations are read as generation 0.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .files import (ObjectStoreLike, ObjectStoreSaveError, delete_keys, generation_numbers, keep_rejected,
                    listed_keys, persist, read_file, read_present, save_file)
from .lock import PrefixLock
from .manifest import CheckpointError, check_base, check_identity, check_not_after, sign, verified_manifest

log = logging.getLogger(__name__)
POINTER = "current.json"
GENERATION = "gen"
PAUSE_AT = "MODELS_TEST_PAUSE_AT"  # test hook: <stage> -> write MODELS_TEST_PAUSE_MARKER, then sleep
PAUSE_MARKER = "MODELS_TEST_PAUSE_MARKER"
STAGES = ("payload-written", "manifest-written")
WRITE_WAIT_S = 30.0  # a one-off save waits this long for another writer's save to finish

Restore = Callable[[dict[str, bytes], dict[str, Any]], "list[str] | None"]


@dataclass(frozen=True)
class StateKind:
    """What a model stores, all it declares: ``name`` (for messages), the ``manifest`` file, the
    ``files`` every generation holds, ``optional`` files (present when the manifest lists them), the
    manifest ``format_version``, and ``legacy``: (file, key below the prefix) of the single-folder
    layout earlier code wrote, read as generation 0."""

    name: str
    manifest: str
    files: tuple[str, ...]
    format_version: int
    optional: tuple[str, ...] = ()
    legacy: tuple[tuple[str, str], ...] = ()

    def sign(self, files: dict[str, bytes], manifest: dict[str, Any]) -> dict[str, bytes]:
        """The files plus this kind's manifest (format, and the SHA-256 of every file)."""
        return sign(files, self.manifest, {"format": self.format_version, **manifest})

    def verify(self, files: dict[str, bytes]) -> dict[str, Any]:
        """The manifest of ``files`` once format and checksums hold (:class:`CheckpointError` if not)."""
        return verified_manifest(files, self.manifest, self.files, self.format_version)


@dataclass
class ResumeOutcome:
    """What loading did. ``rejected``: a stored state was there and not used (the caller logs an
    error); ``notes``: what the caller should know about a used one (e.g. a configured learning rate
    that replaced the stored one)."""

    resumed: bool
    message: str
    rejected: bool = False
    manifest: dict[str, Any] | None = None
    generation: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Located:
    number: int
    keys: dict[str, str]
    manifest_sha256: str | None  # from the pointer; None for the legacy layout
    problem: str | None = None  # set when the pointer itself cannot be used


class StoredState:
    """One model state under one object-store prefix: its generations, pointer, lock and rejections.

    An algorithm keeps one per prefix for the whole run and calls :meth:`hold` at its start, so a second
    live run on the same prefix is refused; a one-off save takes the lock for the save only."""

    def __init__(self, store: ObjectStoreLike, prefix: str, kind: StateKind) -> None:
        self.store, self.prefix, self.kind = store, prefix.rstrip("/"), kind
        self.lock = PrefixLock(store, self.prefix, kind.name)
        self._pinned: set[int] = set()  # rejected generations whose copy failed: this handle never deletes them

    # --- where ---
    @property
    def pointer_key(self) -> str:
        return f"{self.prefix}/{POINTER}"

    def generation_keys(self, number: int) -> dict[str, str]:
        """Key of every file of generation ``number`` (0: the legacy single-folder layout)."""
        names = self.kind.files + self.kind.optional + (self.kind.manifest,)
        if number == 0:
            legacy = dict(self.kind.legacy)
            return {name: f"{self.prefix}/{legacy[name]}" for name in names if name in legacy}
        return {name: f"{self.prefix}/{GENERATION}-{number}/{name}" for name in names}

    def exists(self) -> bool:
        """Something is published (or left by earlier code) for :meth:`load` to check."""
        return self._locate() is not None

    def current_keys(self) -> dict[str, str]:
        """Keys of the published generation's files (the ones it holds); {} when nothing is published."""
        located = self._locate()
        if located is None or located.problem:
            return {}
        return {name: key for name, key in located.keys.items() if self.store.contains_key(key)}

    # --- the lock ---
    def hold(self, purpose: str) -> str | None:
        """Take the writer's lock until :meth:`release` (or the process ends); raises
        :class:`~.lock.StateInUseError` while another live run holds it. Returns a note when it took
        over the lock of a run that was killed."""
        return self.lock.acquire(purpose)

    def release(self) -> None:
        self.lock.release()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        if self.lock.held:
            yield
            return
        self.lock.acquire("saving", wait_s=WRITE_WAIT_S)
        try:
            yield
        finally:
            self.lock.release()

    # --- saving ---
    def publish(self, files: dict[str, bytes]) -> list[str]:
        """Write ``files`` (signed by :meth:`StateKind.sign`, manifest included) as a new generation,
        publish it, then delete the older ones. The keys written, pointer last.

        A refused file raises :class:`ObjectStoreSaveError`: what this save wrote is deleted and the
        previously published generation stays the one a load reads."""
        if self.kind.manifest not in files:
            raise ValueError(f"publish: {self.kind.manifest} missing; sign the files with the StateKind first")
        manifest_sha256 = hashlib.sha256(files[self.kind.manifest]).hexdigest()
        with self._writing():
            number = self._next_number()
            keys = {name: f"{self.prefix}/{GENERATION}-{number}/{name}" for name in files}
            pointer = json.dumps({"generation": number, "manifest": self.kind.manifest,
                                  "manifest_sha256": manifest_sha256, "kind": self.kind.name,
                                  "published": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
                                 sort_keys=True).encode()
            written: list[str] = []
            try:
                for name in [n for n in files if n != self.kind.manifest]:
                    save_file(self.store, keys[name], files[name])
                    written.append(keys[name])
                self._stage_done(written[-1] if written else None, "payload-written")
                save_file(self.store, keys[self.kind.manifest], files[self.kind.manifest])
                written.append(keys[self.kind.manifest])
                self._stage_done(written[-1], "manifest-written")
                save_file(self.store, self.pointer_key, pointer)  # refused: nothing written, the old pointer holds
            except ObjectStoreSaveError as exc:
                delete_keys(self.store, written)
                raise ObjectStoreSaveError(
                    exc.key, exc.size, exc.limit,
                    f"Generation {number} was not published and what it had written is deleted; "
                    f"{self._current_text()} (a new generation needs room beside the current one until it is "
                    "published).") from exc
            except Exception:  # e.g. a QuantBook's StorageLimitExceededError: the unpublished files go too
                delete_keys(self.store, written)
                raise
            persist(self.store, self.pointer_key)
            deleted = self._delete_superseded(number)
        log.info("object store: published %s generation %d under '%s/' (%d files, %d bytes; %d older files deleted)",
                 self.kind.name, number, self.prefix, len(files), sum(map(len, files.values())), deleted)
        return written + [self.pointer_key]

    def _stage_done(self, last_key: str | None, stage: str) -> None:
        if last_key is not None:
            persist(self.store, last_key)
        _pause_for_tests(stage)

    def _next_number(self) -> int:
        known = set(self._listed_generations())
        located = self._locate()
        if located is not None and not located.problem:
            known.add(located.number)
        number = max(known, default=0) + 1
        while any(self.store.contains_key(key) for key in self.generation_keys(number).values()):
            number += 1  # a store that cannot list: skip what an unfinished save left
        return number

    def _listed_generations(self) -> list[int]:
        keys = listed_keys(self.store, self.prefix)
        return sorted(generation_numbers(keys, self.prefix, GENERATION)) if keys else []

    def _delete_superseded(self, number: int) -> int:
        """Delete every generation but ``number`` (and those pinned by a failed rejection copy)."""
        keys = listed_keys(self.store, self.prefix)
        doomed: list[str] = []
        if keys is not None:
            for old in generation_numbers(keys, self.prefix, GENERATION) - {number} - self._pinned:
                doomed += [key for key in keys if key.startswith(f"{self.prefix}/{GENERATION}-{old}/")]
        else:
            for old in range(1, number):
                if old not in self._pinned:
                    doomed += list(self.generation_keys(old).values())
        if self.kind.legacy and 0 not in self._pinned:
            doomed += list(self.generation_keys(0).values())
        return delete_keys(self.store, doomed)

    def _current_text(self) -> str:
        located = self._locate()
        if located is None:
            return "nothing was published before, so a later run starts without this state"
        return f"generation {located.number} stays the published one"

    # --- loading ---
    def load(self, stamp: str, restore: Restore, *, identity: dict[str, Any] | None = None,
             base: Callable[[], dict[str, Any]] | None = None, not_after: Any = None,
             fallback: str = "starting fresh") -> ResumeOutcome:
        """Check the published generation completely, then ``restore(files, manifest)`` into the model
        (which raises :class:`CheckpointError` before touching it on any doubt of its own, and returns
        notes). Any refusal copies the generation's files under ``<prefix>/rejected/<stamp>/`` first.

        ``not_after``: the run's first decision time; a state that learned from later data is
        look-ahead and refused. ``fallback``: what the caller does without the state (for messages)."""
        for attempt in range(3):
            located = self._locate()
            if located is None:
                return ResumeOutcome(False, f"no {self.kind.name} under '{self.prefix}/': {fallback}"
                                     f"{self._unpublished_note()}")
            files = read_present(self.store, located.keys)
            try:
                if located.problem:
                    raise CheckpointError(located.problem)
                manifest = self._verified(located, files)
                check_not_after(manifest, not_after, self.kind.manifest)
                if identity is not None:
                    check_identity(manifest, identity, self.kind.manifest)
                if base is not None:
                    check_base(manifest, base(), self.kind.manifest)
                notes = list(restore(files, manifest) or [])
            except CheckpointError as exc:
                if attempt < 2 and self._locate() != located:
                    continue  # another process published meanwhile (and may have deleted what was read): again
                return self._reject(located, files, stamp, exc, fallback)
            where = f"generation {located.number}" if located.number else "the single-folder layout of earlier code"
            return ResumeOutcome(True, "; ".join([where] + notes), manifest=manifest, generation=located.number,
                                 notes=notes)
        raise AssertionError("unreachable")

    def _locate(self) -> _Located | None:
        """The published generation: the pointer's, else the legacy layout's; None when neither exists."""
        if self.store.contains_key(self.pointer_key):
            try:
                pointer = json.loads(read_file(self.store, self.pointer_key))
                number = int(pointer["generation"])
                digest = str(pointer["manifest_sha256"])
            except (ValueError, KeyError, TypeError) as exc:
                return self._newest_complete() or _Located(
                    -1, {POINTER: self.pointer_key}, None,
                    f"{POINTER} is unreadable ({type(exc).__name__}: {exc}) and no generation under it verifies")
            return _Located(number, self.generation_keys(number), digest)
        legacy = self.generation_keys(0)
        if self.kind.manifest in legacy and self.store.contains_key(legacy[self.kind.manifest]):
            return _Located(0, legacy, None)
        return None

    def _newest_complete(self) -> _Located | None:
        """With the pointer unreadable (a kill while LEAN rewrote it): the newest generation that verifies."""
        for number in reversed(self._listed_generations()):
            located = _Located(number, self.generation_keys(number), None)
            try:
                self._verified(located, read_present(self.store, located.keys))
            except CheckpointError:
                continue
            log.warning("%s under '%s/': %s unreadable, using generation %d, the newest complete one",
                        self.kind.name, self.prefix, POINTER, number)
            return located
        return None

    def _verified(self, located: _Located, files: dict[str, bytes]) -> dict[str, Any]:
        if self.kind.manifest not in files:
            raise CheckpointError(f"generation {located.number}: {self.kind.manifest} is missing (a save that did "
                                  "not finish, or files deleted by hand)")
        actual = hashlib.sha256(files[self.kind.manifest]).hexdigest()
        if located.manifest_sha256 is not None and actual != located.manifest_sha256:
            raise CheckpointError(f"generation {located.number}: {self.kind.manifest} is not the one {POINTER} "
                                  "published (changed after publication)")
        return self.kind.verify(files)

    def _reject(self, located: _Located, files: dict[str, bytes], stamp: str, exc: CheckpointError,
                fallback: str) -> ResumeOutcome:
        kept, where = keep_rejected(self.store, self.prefix, stamp, files)
        if not kept:
            self._pinned.add(located.number)
            where += (f"; generation {located.number} stays in place and this run will not delete it, "
                      "delete it by hand when it is no longer needed")
        label = f" (generation {located.number})" if located.number > 0 else ""
        then = f"{fallback[:1].upper()}{fallback[1:]}"
        message = f"{self.kind.name} under '{self.prefix}/'{label} not used: {exc}. {then}; {where}"
        return ResumeOutcome(False, message, rejected=True, generation=located.number)

    def _unpublished_note(self) -> str:
        numbers = self._listed_generations()
        if not numbers:
            return ""
        return (f" (generation {', '.join(map(str, numbers))} was written by a save that did not finish; it is "
                "ignored and the next save deletes it)")


def _pause_for_tests(stage: str) -> None:
    """Test hook: with ``MODELS_TEST_PAUSE_AT=<stage>`` the saver writes ``MODELS_TEST_PAUSE_MARKER``
    and sleeps, so a test can kill it exactly between two stages of a save."""
    if os.environ.get(PAUSE_AT) != stage:
        return
    marker = os.environ.get(PAUSE_MARKER)
    if marker:
        Path(marker).write_text(stage)
    time.sleep(600)
