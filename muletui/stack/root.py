"""The stack root: plays uWSGI's master at import time, then forks mules and workers on request.

Started as ``python -u -c BOOT PACKAGE_PARENT CONTROL_FD`` (see root_launch), possibly before the
master has its stack ready: it imports what it needs, then waits for its descriptors and spec. It is single-threaded
(unless the app starts threads), so forking it is safe and cheap, and every mule inherits the
imported app copy-on-write, as uWSGI's mules do. It reaps its children and reports each exit
status, and dies with the master (``PR_SET_PDEATHSIG``), taking its mules with it.

Control protocol (pickled tuples, one per SOCK_SEQPACKET datagram):
master → root, first: ``("fds", numbers)`` with those descriptors attached (as many datagrams as
it takes), each to get here the number it has in the master, the one the spec names; then
``("spec", StackSpec)``; then ``("fork", kind, number)`` (``mule`` or ``worker``) with the child's stdout and
stderr write ends attached (and a mule's agent socket), ``("signal", pid, signum)``;
root → master: ``("app_failed", reason)`` when no app loaded (the master decides, as uWSGI's
``--need-app`` says, whether the stack goes on), ``("modules", ((name, file, path), ...))`` (in
as many datagrams as it takes: :func:`module_files`), then ``("ready", pid)``; ``("spawned",
kind, number, pid)``, ``("exited", kind, number, pid, wait_status)``.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.machinery
import importlib.util
import os
import pickle
import re
import selectors
import signal
import site
import socket
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import muletui
from muletui import linux
from muletui.ipc.spec import StackSpec
from muletui.stack import breakpoints, tracebacks
from muletui.stack.context import log
from muletui.stack.mule import STOP_SIGNALS, run_mule
from muletui.stack.shim import SHIM_DIR

if TYPE_CHECKING:
    from muletui.stack.http_codec import WSGIApp

_MAX_CONTROL = 1 << 20
_MAX_FDS = 253  # SCM_MAX_FD: the most descriptors one datagram carries
#: Characters of module names and paths per datagram, beyond the entry that crosses it: the
#: master reads 64 KiB at most, and a character is up to 4 bytes of UTF-8.
_MODULES_PER_REPLY = 4 << 10


def _module_name_for_file(path: str) -> str:
    """uWSGI's name for a module loaded from a file: ``app.py`` → ``uwsgi_file_app``."""
    stem = path.removeprefix("./").removesuffix(".py")
    return "uwsgi_file_" + re.sub(r"[^0-9A-Za-z_]", "_", stem)


class AppNotLoadedError(Exception):
    """An app or import failed in a way uWSGI reports with one line (``str()``), no traceback."""


def _import_file(path: str) -> ModuleType:
    """Import ``path`` under uWSGI's module name for it, its ``__file__`` and its code's file
    name ``path`` as given, as uWSGI's are (``app.py``: ``spec_from_file_location`` would make
    it absolute); a missing file is uWSGI's one line."""
    if not os.path.isfile(path):
        raise AppNotLoadedError(f"failed to open python file {path}")
    name = _module_name_for_file(path)
    loader = importlib.machinery.SourceFileLoader(name, path)
    loader_spec = importlib.machinery.ModuleSpec(name, loader, origin=path)
    loader_spec.has_location = True
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def _import(value: str) -> None:
    """``--import``: a path or ``.py`` file by its path, anything else as a module."""
    if "/" in value or value.endswith(".py"):
        _import_file(value)
    else:
        importlib.import_module(value)


def _load_file(path: str, name: str) -> WSGIApp:
    """``--wsgi-file``: the callable ``name`` must be in the file, and callable (uWSGI's lines
    say "application" whatever ``--callable`` is)."""
    found = _import_file(path).__dict__
    if name not in found:
        raise AppNotLoadedError(f'unable to find "application" callable in file {path}')
    if not callable(found[name]):
        raise AppNotLoadedError(f'"application" must be a callable object in file {path}')
    app: WSGIApp = found[name]
    return app


def _load_module(target: str, name: str) -> WSGIApp | None:
    """``--module module[:callable]``: uWSGI takes any object of that name (no callable check), an
    ``applications`` dict instead, and calls ``callable()`` to get the app; a miss says nothing."""
    import uwsgi  # noqa: PLC0415 - the shim, on the path once main() ran

    module_name, colon, attr = target.partition(":")
    found = importlib.import_module(module_name).__dict__
    attr = attr if colon else name
    if isinstance(uwsgi.applications, dict) or isinstance(found.get("applications"), dict):
        return None  # mountpoints: not served (muletui's workers serve one app)
    if attr.endswith("()") and attr[:-2] in found:
        app: WSGIApp = found[attr[:-2]]()
        return app
    if attr not in found:
        raise AppNotLoadedError("")
    app = found[attr]
    return app


def _load_apps(spec: StackSpec) -> list[WSGIApp | None]:
    """Import ``--import`` modules and the apps in declaration order, in this process, as uWSGI's
    Python plugin does: a failure is printed (its traceback, or uWSGI's line), followed for an
    app by ``unable to load app N ...``, and the next one goes on. Returns the apps loaded.

    ``SystemExit`` is not caught: uWSGI exits with its code too. Returns each loaded app's
    callable (``None`` for an ``applications`` dict), app 0 first: the one workers serve.
    """
    name = spec.opt.get("callable", b"application")
    callable_name = name.decode() if isinstance(name, bytes) else "application"
    loaded: list[WSGIApp | None] = []
    for kind, value in spec.app:
        try:
            if kind == "import":
                _import(value)
            elif kind == "file":
                loaded.append(_load_file(value, callable_name))
            else:
                loaded.append(_load_module(value, callable_name))
        except AppNotLoadedError as error:
            if str(error):
                log(str(error))
        except SystemExit:
            raise
        except BaseException as error:  # noqa: BLE001 - any failure of the user's code is printed, as uWSGI does
            tracebacks.print_exception(error)
            sys.stderr.flush()
        else:
            continue
        if kind != "import":
            log(f"unable to load app {len(loaded)} (mountpoint='') (callable not found or import error)")
    return loaded


def module_files() -> list[tuple[str, str, str]]:
    """What reloads watch once the app is imported: ``(name, file, path)`` for each module in
    ``sys.modules`` whose source exists outside Python's own directories and muletui's; ``file``
    is its ``__file__`` as uWSGI's reloader names it (``.pyc``, ``.pyo``, ``.pyd`` lose their last
    letter), ``path`` that file's absolute path.

    uWSGI's reloader stats every module in ``sys.modules``; the standard library, site-packages
    and the ``uwsgi`` shim are left out here: nobody edits them while a stack runs, and each of
    their directories would cost a watch.
    """
    outside = tuple(
        os.path.join(os.path.realpath(directory), "")
        for directory in {
            sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, site.getusersitepackages(),
            os.path.dirname(muletui.__file__),
        }
    )
    real_directories: dict[str, str] = {}  # most modules share a few: resolved once each
    found: list[tuple[str, str, str]] = []
    for name, module in list(sys.modules.items()):
        try:
            file = getattr(module, "__file__", None)
        except Exception:  # noqa: BLE001, S112 - anything may sit in sys.modules; uWSGI skips what has no file
            continue
        if not isinstance(file, str):
            continue
        if file.endswith((".pyc", ".pyo", ".pyd")):
            file = file[:-1]
        path = os.path.abspath(file)
        if not os.path.isfile(path):
            continue
        directory, base = os.path.split(path)
        if directory not in real_directories:
            real_directories[directory] = os.path.realpath(directory)
        real = os.path.realpath(path) if os.path.islink(path) else os.path.join(real_directories[directory], base)
        if not real.startswith(outside):
            found.append((name, file, path))
    return found


def _chunks(files: list[tuple[str, str, str]]) -> Iterator[tuple[tuple[str, str, str], ...]]:
    """``files`` in runs that each fit one control datagram."""
    chunk: list[tuple[str, str, str]] = []
    size = 0
    for entry in files:
        if chunk and size + sum(map(len, entry)) > _MODULES_PER_REPLY:
            yield tuple(chunk)
            chunk, size = [], 0
        chunk.append(entry)
        size += sum(map(len, entry))
    if chunk:
        yield tuple(chunk)


class StackRoot:
    """The fork server's state: the control socket and one pidfd per live child."""

    def __init__(self, control: socket.socket, spec: StackSpec, app: WSGIApp | None = None) -> None:
        self.control = control
        self.spec = spec
        self.app = app  # what workers serve (None: no app loaded)
        self.mules = {mule.mule_id: mule for mule in spec.mules}
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, tuple[str, int, int]] = {}  # pidfd -> (kind, number, pid)
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
        data, fds, _flags, _addr = socket.recv_fds(self.control, _MAX_CONTROL, 3)
        if not data:
            return False
        request = pickle.loads(data)
        if request[0] == "fork":
            self._fork(request[1], request[2], fds)
        elif request[0] == "signal":
            _request, pid, signum = request
            pidfd = self.pidfds.get(pid)
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signum)
        return True

    def _fork(self, kind: str, number: int, fds: list[int]) -> None:
        """Fork mule or worker ``number``, its output going to ``fds[0]`` and ``fds[1]`` (a
        mule's agent socket is ``fds[2]``)."""
        root_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self._close_in_child()
                if kind == "worker":
                    from muletui.stack.worker import run_worker  # noqa: PLC0415 - imported by main() before any fork

                    run_worker(self.spec, number, fds[0], fds[1], root_pid, self.app)
                else:
                    run_mule(self.spec, self.mules[number], fds[0], fds[1], fds[2], root_pid)
            finally:
                os._exit(1)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (kind, number, pid)
        self.pidfds[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.send("spawned", kind, number, pid)

    def _close_in_child(self) -> None:
        self.selector.close()
        self.control.close()
        for pidfd in self.children:
            os.close(pidfd)

    def _reap(self, pidfd: int) -> None:
        kind, number, pid = self.children.pop(pidfd)
        del self.pidfds[pid]
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _pid, status = os.waitpid(pid, 0)
        self.send("exited", kind, number, pid, status)

    def kill_children(self) -> None:
        for _kind, _number, pid in self.children.values():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _receive_spec(control: socket.socket) -> tuple[socket.socket, StackSpec]:
    """The master's descriptors, each put at the number it has in the master, and the spec;
    the control socket moves out of their way if it must (hence returned)."""
    received: list[tuple[int, int]] = []  # (descriptor here, its number in the master)
    while True:
        data, fds, _flags, _addr = socket.recv_fds(control, _MAX_CONTROL, _MAX_FDS)
        if not data:  # the master went away before the stack started (it did not take this root)
            os._exit(0)
        kind, payload = pickle.loads(data)
        if kind == "spec":
            break
        received += zip(fds, payload, strict=True)
    wanted = {number for _fd, number in received}
    floor = max([control.fileno(), *wanted, *(fd for fd, _number in received)]) + 1
    if control.fileno() in wanted:
        moved = fcntl.fcntl(control.fileno(), fcntl.F_DUPFD_CLOEXEC, floor)
        control.close()
        control = socket.socket(fileno=moved)
    parked = [(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor), number) for fd, number in received]
    for fd, _number in received:
        os.close(fd)
    for fd, number in parked:
        os.dup2(fd, number)  # inheritable, as the master's pass_fds made them before
        os.close(fd)
    return control, payload


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[2]))
    linux.die_with_parent(os.getppid())
    # The master decides when the stack stops. Blocked, not ignored: a mule inherits the mask
    # and unblocks it once its handlers are in place, so a stop sent right after fork is kept.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # The shim loads while the master readies the stack; it runs nothing of the user's.
    sys.path.insert(0, SHIM_DIR)
    import uwsgi  # noqa: PLC0415 - only importable once SHIM_DIR is on the path

    control, spec = _receive_spec(control)
    sys.argv = ["uwsgi"]
    sys.path[1:1] = spec.pythonpath  # after the shim's directory, as uWSGI's --pythonpath
    uwsgi._bind(spec, 0)
    if spec.workers:  # before the app, so workers share the codec's pages (and the app's imports too)
        import muletui.stack.worker  # noqa: F401, PLC0415 - only stacks with workers pay for HTTP
    breakpoints.install()
    apps = _load_apps(spec)
    root = StackRoot(control, spec, apps[0] if apps else None)
    if not apps:
        root.send("app_failed", "no app loaded")
    for chunk in _chunks(module_files()):
        root.send("modules", chunk)
    uwsgi._mark_ready()
    root.send("ready", os.getpid())
    try:
        root.serve()
    finally:
        root.kill_children()


if __name__ == "__main__":
    main()
