"""The stack root: plays uWSGI's master at import time, then forks mules on request.

Started by the master as ``python -u -c BOOT PACKAGE_PARENT CONTROL_FD`` (see root_process). It is single-threaded
(unless the app starts threads), so forking it is safe and cheap, and every mule inherits the
imported app copy-on-write, as uWSGI's mules do. It reaps its children and reports each exit
status, and dies with the master (``PR_SET_PDEATHSIG``), taking its mules with it.

Control protocol (pickled tuples, one per SOCK_SEQPACKET datagram):
master → root: ``("fork", mule_id)`` with the mule's stdout and stderr write ends attached,
``("signal", mule_id, pid, signum)``;
root → master: ``("ready", pid)``, ``("app_failed", reason)``, ``("spawned", mule_id, pid)``,
``("exited", mule_id, pid, wait_status)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
import re
import selectors
import signal
import socket
import sys
import traceback

from muletui import linux
from muletui.ipc.spec import StackSpec
from muletui.stack.mule import STOP_SIGNALS, run_mule
from muletui.stack.shim import SHIM_DIR

_MAX_CONTROL = 1 << 20


def _module_name_for_file(path: str) -> str:
    """uWSGI's name for a module loaded from a file: ``app.py`` → ``uwsgi_file_app``."""
    stem = path.removeprefix("./").removesuffix(".py")
    return "uwsgi_file_" + re.sub(r"[^0-9A-Za-z_]", "_", stem)


class AppFileMissingError(Exception):
    """The app file named on the command line does not exist (no traceback: not the app's fault)."""


def _load_file(path: str) -> None:
    if not os.path.isfile(path):
        raise AppFileMissingError(f"unable to load app file {path}: no such file")
    name = _module_name_for_file(path)
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ImportError(f"unable to load app file {path}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    loader_spec.loader.exec_module(module)


def _load_app(spec: StackSpec) -> None:
    """Import ``--import`` modules and the app, in declaration order, in this process."""
    for kind, value in spec.app:
        if kind == "file":
            _load_file(value)
        else:
            importlib.import_module(value.partition(":")[0])


class StackRoot:
    """The fork server's state: the control socket and one pidfd per live child."""

    def __init__(self, control: socket.socket, spec: StackSpec) -> None:
        self.control = control
        self.spec = spec
        self.mules = {mule.mule_id: mule for mule in spec.mules}
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, tuple[int, int]] = {}  # pidfd -> (mule_id, pid)
        self.pidfds: dict[int, int] = {}  # pid -> pidfd

    def send(self, *message: object) -> None:
        self.control.send(pickle.dumps(message))

    def serve(self) -> None:
        """Answer the master until it closes the control socket."""
        self.selector.register(self.control, selectors.EVENT_READ)
        while True:
            for key, _events in self.selector.select():
                if key.fileobj is self.control:
                    if not self._handle_request():
                        return
                else:
                    self._reap(key.fd)

    def _handle_request(self) -> bool:
        data, fds, _flags, _addr = socket.recv_fds(self.control, _MAX_CONTROL, 2)
        if not data:
            return False
        request = pickle.loads(data)
        if request[0] == "fork":
            self._fork(request[1], fds[0], fds[1])
        elif request[0] == "signal":
            _kind, _mule_id, pid, signum = request
            pidfd = self.pidfds.get(pid)
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signum)
        return True

    def _fork(self, mule_id: int, out_fd: int, err_fd: int) -> None:
        root_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self._close_in_child()
                run_mule(self.spec, self.mules[mule_id], out_fd, err_fd, root_pid)
            finally:
                os._exit(1)
        os.close(out_fd)
        os.close(err_fd)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (mule_id, pid)
        self.pidfds[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.send("spawned", mule_id, pid)

    def _close_in_child(self) -> None:
        self.selector.close()
        self.control.close()
        for pidfd in self.children:
            os.close(pidfd)

    def _reap(self, pidfd: int) -> None:
        mule_id, pid = self.children.pop(pidfd)
        del self.pidfds[pid]
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _pid, status = os.waitpid(pid, 0)
        self.send("exited", mule_id, pid, status)

    def kill_children(self) -> None:
        for _mule_id, pid in self.children.values():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[2]))
    linux.die_with_parent(os.getppid())
    # The master decides when the stack stops. Blocked, not ignored: a mule inherits the mask
    # and unblocks it once its handlers are in place, so a stop sent right after fork is kept.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    data = control.recv(_MAX_CONTROL)
    spec: StackSpec = pickle.loads(data)
    sys.argv = ["uwsgi"]
    sys.path[:0] = [SHIM_DIR, *spec.pythonpath]
    import uwsgi  # noqa: PLC0415 - only importable once SHIM_DIR is on the path

    uwsgi._bind(spec, 0)
    root = StackRoot(control, spec)
    try:
        _load_app(spec)
    except BaseException as error:  # noqa: BLE001 - any failure of the user's app stops the stack
        if isinstance(error, AppFileMissingError):
            reason = str(error)
        else:
            traceback.print_exc()
            reason = "".join(traceback.format_exception_only(error)).strip()
        sys.stderr.flush()
        root.send("app_failed", reason)
        sys.exit(1)
    root.send("ready", os.getpid())
    try:
        root.serve()
    finally:
        root.kill_children()


if __name__ == "__main__":
    main()
