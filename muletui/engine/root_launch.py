"""Starting the stack root's interpreter, possibly ahead of the master that will use it.

A root's Python start and its own imports take about as long as the master's imports; the
front end starts it (:func:`launch_ahead`) as soon as it knows a stack will run, so the two
overlap, and the master's :class:`~muletui.engine.root_process.RootProcess` takes it
(:func:`take`). The root waits for its spec and the master's descriptors on its control socket
(see :mod:`muletui.stack.root`), so it runs nothing of the user's before the master is ready.
Importing this module costs no asyncio.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import muletui

#: Where this muletui lives, appended (lowest priority) to the root's sys.path, so the root
#: finds muletui even from an uninstalled checkout without touching the user's PYTHONPATH.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.realpath(muletui.__file__)))
_BOOT = "import sys; sys.path.append(sys.argv[1]); from muletui.stack.root import main; main()"


class LaunchedRoot:
    """A stack root's process, waiting for its spec on :attr:`control`; ``stdout_fd`` and
    ``stderr_fd`` are the read ends of its output."""

    def __init__(self, python: str, cwd: str | None, env: dict[str, str] | None) -> None:
        self.python, self.cwd, self.env = python, cwd, env
        self.control, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [python, "-u", "-c", _BOOT, _PACKAGE_PARENT, str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                cwd=cwd,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C reaches the master only
            )
        except BaseException:
            self.control.close()
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            child_end.close()
            os.close(out_w)
            os.close(err_w)
        self.stdout_fd, self.stderr_fd = out_r, err_r

    def fits(self, python: str, cwd: str | None, env: dict[str, str] | None) -> bool:
        return (self.python, self.cwd, self.env) == (python, cwd, env)

    def discard(self) -> None:
        """Kill and reap it (it has run nothing of the user's), and close the master's ends."""
        self.process.kill()
        self.process.wait()
        self.control.close()
        os.close(self.stdout_fd)
        os.close(self.stderr_fd)


_ahead: LaunchedRoot | None = None  # started by the front end, not yet taken by a master


def launch_ahead(cwd: str | None, env: dict[str, str] | None) -> None:
    """Start the root of the stack about to run in this process, on the thread that will run the
    stack's event loop (see :class:`~muletui.engine.root_process.RootProcess`). A failure
    (``cwd`` missing, say) is left for the master to meet and report when it starts its root."""
    global _ahead
    discard_ahead()
    try:
        _ahead = LaunchedRoot(sys.executable, cwd, env)
    except OSError:
        _ahead = None


def keep_ahead(cwd: str | None, env: dict[str, str] | None) -> None:
    """Keep the root launched ahead if it runs in ``cwd`` with ``env``, else launch one that does."""
    if _ahead is None or not _ahead.fits(sys.executable, cwd, env):
        launch_ahead(cwd, env)


def take(python: str, cwd: str | None, env: dict[str, str] | None) -> LaunchedRoot:
    """The root launched ahead if it was started the same way, else a new one."""
    global _ahead
    launched, _ahead = _ahead, None
    if launched is not None and launched.fits(python, cwd, env):
        return launched
    if launched is not None:
        launched.discard()
    return LaunchedRoot(python, cwd, env)


def discard_ahead() -> None:
    """Kill the root launched ahead if no master took it (the stack did not start)."""
    global _ahead
    if _ahead is not None:
        _ahead.discard()
        _ahead = None
