"""Reload on save: the stack's files watched with watchfiles, each save turned into a request.

What a save asks for: a mule's script restarts the mules that run it (the console only; uWSGI
never watches mule scripts), the app or a module it loaded reloads the stack (``--py-autoreload``
and the console). The :class:`Reloader` only watches and asks; the session decides and acts.

How: watchfiles' Rust watcher (inotify where it works, polling where it does not) on the files'
parent directories, not recursive, with a filter that lets through only the wanted paths. An
editor's save (write a temporary file, rename it over the old one) arrives as ``added``, an
in-place write as ``modified``: both count; ``deleted`` does not (the file is gone until it is
written again). One burst of saves makes one request, for every file it saved: watchfiles ends
a batch once a 50 ms step brings no change it has not seen in that batch, so the same file saved
every 30 ms comes in several batches; batches closer than :data:`QUIET` are taken as one. uWSGI's
file monitors (``--fs-signal``, ``uwsgi.add_file_monitor``) stay on inotify with uWSGI's mask:
this is for reloads only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from muletui.engine.root_process import ModuleFile
from muletui.ipc.spec import MuleSpec

QUIET = 0.1  # seconds without a batch that end a burst of saves


@dataclass(frozen=True)
class RestartMules:
    """Mule scripts were saved: restart the mules that run them."""

    mule_ids: tuple[int, ...]
    scripts: tuple[str, ...]  # as given on the command line


@dataclass(frozen=True)
class ReloadStack:
    """The app, or a module it loaded, was saved: reload the stack."""

    file: str  # as the module names it (its __file__; the --wsgi-file as given)
    path: str


Request = RestartMules | ReloadStack


@dataclass(frozen=True)
class Watched:
    """The files to watch (absolute paths) and what a save of each asks for."""

    stack_files: Mapping[str, str] = field(default_factory=dict)  # path -> file as shown
    mule_scripts: Mapping[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)  # path -> (script, mule ids)

    @cached_property
    def paths(self) -> frozenset[str]:
        return frozenset(self.stack_files) | frozenset(self.mule_scripts)

    def request(self, saved: Iterable[str]) -> Request | None:
        """One request for one batch of saved paths: a stack reload when a stack file is among
        them (every mule starts over then), else a restart of the mules whose scripts they are."""
        saved = sorted(saved)
        for path in saved:
            if path in self.stack_files:
                return ReloadStack(self.stack_files[path], path)
        scripts = [self.mule_scripts[path] for path in saved if path in self.mule_scripts]
        if not scripts:
            return None
        mule_ids = tuple(sorted({mule_id for _script, ids in scripts for mule_id in ids}))
        return RestartMules(mule_ids, tuple(script for script, _ids in scripts))


def stack_files(modules: Iterable[ModuleFile], ignore: Collection[str] = ()) -> dict[str, str]:
    """The modules' files by absolute path, without those ``--py-auto-reload-ignore`` names (its
    value is a ``sys.modules`` key, matched exactly, as uWSGI matches it)."""
    return {module.path: module.file for module in modules if module.name not in ignore}


def app_files(app: Iterable[tuple[str, str]], chdir: str | None) -> dict[str, str]:
    """The ``--wsgi-file`` files and ``--import``\\ ed ``.py`` paths, by absolute path (relative to
    ``--chdir``, as the stack root opens them): watched even while their import fails."""
    return {
        _absolute(value, chdir): value
        for kind, value in app
        if kind == "file" or (kind == "import" and ("/" in value or value.endswith(".py")))
    }


def mule_scripts(mules: Iterable[MuleSpec], chdir: str | None) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The mules' ``.py`` scripts by absolute path (relative to ``--chdir``), with the mules that
    run each. ``module:callable`` mules import their module after fork, out of the master's sight."""
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for mule in mules:
        if mule.mode == "script" and mule.program:
            path = _absolute(mule.program, chdir)
            script, ids = found.get(path, (mule.program, ()))
            found[path] = (script, (*ids, mule.mule_id))
    return found


def _absolute(path: str, chdir: str | None) -> str:
    return os.path.abspath(os.path.join(chdir or "", path))


class Reloader:
    """Watches the files of a :class:`Watched` and hands each burst's request to ``on_request``.

    ``on_error`` gets one line if the watch cannot go on (e.g. no inotify watch left); the
    stack runs on without reloads then. Lives on the event loop; :meth:`close` when done.

    watchfiles' blocking :func:`~watchfiles.watch` runs in a thread of the reloader's own that
    hands each batch to the loop. ``awatch`` would run the same Rust watcher in one of anyio's
    threads, and anyio keeps the loop's root task, with its context (Textual's active app, in a
    console), for the loop's life: a console that ended could not be collected.
    """

    def __init__(self, on_request: Callable[[Request], None], on_error: Callable[[str], None]) -> None:
        self._on_request = on_request
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._watched = Watched()
        self._directories: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._threads: set[asyncio.Future[None]] = set()  # each watch thread's end, until it ends
        self._saved: set[str] = set()  # paths saved in the burst under way
        self._burst_end: asyncio.TimerHandle | None = None

    @property
    def watched(self) -> Watched:
        return self._watched

    def watch(self, watched: Watched) -> None:
        """Watch these files from now on. The watch goes on without a gap when their directories
        are the same; saves already in flight are judged against the new set."""
        self._watched = watched
        directories = frozenset(d for d in (os.path.dirname(p) for p in watched.paths) if os.path.isdir(d))
        if directories == self._directories:
            return
        self._stop.set()  # the old watch ends at its next step (50 ms)
        self._directories = directories
        self._stop = threading.Event()
        if directories:
            ended = self._loop.create_future()
            self._threads.add(ended)
            ended.add_done_callback(self._threads.discard)
            thread = threading.Thread(
                target=self._watch, args=(directories, self._stop, ended), name="muletui reload watcher", daemon=True
            )
            thread.start()

    async def close(self) -> None:
        """Stop watching; returns once the watch threads are done (within 50 ms)."""
        self._stop.set()
        self._directories = frozenset()
        if self._burst_end is not None:
            self._burst_end.cancel()
        if self._threads:
            await asyncio.wait(self._threads)

    def _watch(self, directories: frozenset[str], stop: threading.Event, ended: asyncio.Future[None]) -> None:
        """The watch thread: each batch of wanted changes to the loop, until ``stop``."""
        # Imported here: a stack that watches nothing (headless without --py-autoreload) never loads it.
        from watchfiles import Change, watch  # noqa: PLC0415

        def wanted(change: Change, path: str) -> bool:
            return change is not Change.deleted and path in self._watched.paths

        try:
            for changes in watch(*sorted(directories), watch_filter=wanted, recursive=False, stop_event=stop):
                self._loop.call_soon_threadsafe(self._on_batch, {path for _change, path in changes})
        except Exception as error:  # noqa: BLE001 - the stack goes on without reloads, and says so
            if not stop.is_set():
                self._loop.call_soon_threadsafe(self._on_error, f"files are no longer watched for reloads: {error}")
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(ended.set_result, None)

    def _on_batch(self, saved: set[str]) -> None:
        self._saved |= saved
        if self._burst_end is not None:
            self._burst_end.cancel()
        self._burst_end = self._loop.call_later(QUIET, self._ask)

    def _ask(self) -> None:
        """A burst of saves ended: its request, judged against the files watched now."""
        saved, self._saved = self._saved, set()
        self._burst_end = None
        request = self._watched.request(saved)
        if request is not None:
            self._on_request(request)
