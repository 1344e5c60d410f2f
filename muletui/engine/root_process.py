"""The master's handle on the stack root process: start it (or take the one started ahead, see
:mod:`muletui.engine.root_launch`), hand it the stack's descriptors and spec, ask it to fork and
signal mules and workers, and turn its replies into callbacks. Knows the control protocol,
nothing of lifecycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import sys
from collections.abc import Callable

from muletui.engine import root_launch
from muletui.ipc.spec import StackSpec
from muletui.record import record

_MAX_REPLY = 1 << 16
#: Descriptors per ``("fds", numbers)`` datagram: the kernel takes at most 253 (SCM_MAX_FD).
_FDS_PER_DATAGRAM = 200


@record
class ModuleFile:
    """A module the stack root had loaded once the app was imported (reported by it)."""

    name: str  # its key in sys.modules
    file: str  # its __file__, .pyc → .py: how uWSGI's reloader names it
    path: str  # that file's absolute path


@record
class RootCallbacks:
    """What the root reports, delivered on the event loop."""

    ready: Callable[[int], None]  # root pid
    app_failed: Callable[[str], None]
    spawned: Callable[[str, int, int], None]  # kind ("mule", "worker"), number, pid
    exited: Callable[[str, int, int, int], None]  # kind, number, pid, wait status
    root_exited: Callable[[int], None]  # exit code (negative: killed by that signal)


class RootProcess:
    """A started stack root. ``stdout_fd``/``stderr_fd`` are the read ends of its output;
    :attr:`module_files` is complete when ``ready`` is called.

    Construct it on the thread that lives as long as the stack (the event loop's): the root's
    ``PR_SET_PDEATHSIG`` fires when the thread that spawned it exits, not only the process.
    """

    def __init__(
        self,
        spec: StackSpec,
        inherited_fds: list[int],
        callbacks: RootCallbacks,
        cwd: str | None = None,
        python: str = sys.executable,
        env: dict[str, str] | None = None,  # the stack's environment (--env); None: the master's
    ) -> None:
        self._callbacks = callbacks
        self._loop = asyncio.get_running_loop()
        launched = root_launch.take(python, cwd, env)
        self.control, self.process = launched.control, launched.process
        self.pid = self.process.pid
        self.stdout_fd, self.stderr_fd = launched.stdout_fd, launched.stderr_fd
        # The root gives each descriptor the number it has here, the one the spec names.
        for start in range(0, len(inherited_fds), _FDS_PER_DATAGRAM):
            chunk = inherited_fds[start : start + _FDS_PER_DATAGRAM]
            socket.send_fds(self.control, [pickle.dumps(("fds", chunk))], chunk)
        self.control.send(pickle.dumps(("spec", spec)))
        self.control.setblocking(False)
        self._loop.add_reader(self.control.fileno(), self._on_control)
        self._pidfd = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._on_exit)
        self.exit_code: int | None = None
        self._exited = asyncio.Event()
        self.module_files: list[ModuleFile] = []  # the user's modules, for reloads (stack.root.module_files)

    def fork(self, kind: str, number: int, fds: list[int]) -> None:
        """Ask for mule or worker ``number``; the root gets its own copies of ``fds``: the two
        write ends of its output, then (a mule) its end of its agent socket."""
        socket.send_fds(self.control, [pickle.dumps(("fork", kind, number))], fds)

    def signal(self, pid: int, signum: int) -> None:
        """Signal a child of the root through its pidfd for it: never hits a recycled pid."""
        self.control.send(pickle.dumps(("signal", pid, signum)))

    def close_control(self) -> None:
        """Tell the root to kill what is left and exit (it sees end of file)."""
        if self.control.fileno() >= 0:
            self._loop.remove_reader(self.control.fileno())
            self.control.close()

    def kill(self) -> None:
        if self.exit_code is None:
            self.process.send_signal(signal.SIGKILL)

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the root to exit; ``True`` if it did."""
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _on_control(self) -> None:
        while True:
            try:
                data = self.control.recv(_MAX_REPLY)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close_control()
                return
            self._dispatch(pickle.loads(data))

    def _dispatch(self, reply: tuple[object, ...]) -> None:
        kind, *args = reply
        if kind == "ready":
            self._callbacks.ready(*args)  # type: ignore[arg-type]
        elif kind == "app_failed":
            self._callbacks.app_failed(*args)  # type: ignore[arg-type]
        elif kind == "spawned":
            self._callbacks.spawned(*args)  # type: ignore[arg-type]
        elif kind == "exited":
            self._callbacks.exited(*args)  # type: ignore[arg-type]
        elif kind == "modules":
            self.module_files += (ModuleFile(*entry) for entry in args[0])  # type: ignore[attr-defined]

    def _on_exit(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._on_control()  # replies written just before it died come first
        # The root leads the stack's process group: what mules forked and left running (and
        # did not move to a session of their own) goes with it. Not yet reaped, the root's
        # pid still names this group, so no other process can be hit.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.exit_code = self.process.wait()
        self._exited.set()
        self._callbacks.root_exited(self.exit_code)
