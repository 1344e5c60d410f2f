"""A mule's life after fork: set up the process, run post-fork hooks, then its program or the
signal-mode loop. Never returns: the process ends with :func:`os._exit`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import select
import signal
import sys
from collections.abc import Callable
from types import FrameType, ModuleType

from muletui import linux
from muletui.ipc.spec import MuleSpec, StackSpec
from muletui.ipc.stats_block import Activity, Field
from muletui.stack import agent, breakpoints, messaging, signals, tracebacks
from muletui.stack import context as stack_context
from muletui.stack.agent import MuleAgent
from muletui.stack.context import Context, log

#: uWSGI's ``end_me`` exit status for a mule told to stop by one of these signals.
END_ME_STATUS = 30
STOP_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM})


def end_me(signum: int, frame: FrameType | None) -> None:
    flush_std_streams()
    if stack_context.current is not None:
        stack_context.current.reporter.flush(wait=False)
    os._exit(END_ME_STATUS)


def flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a user may have replaced or closed them
            stream.flush()


def _install_signal_dispositions() -> None:
    """As uWSGI mules: HUP/INT/TERM end the mule, USR1/USR2/PIPE/ALRM/TSTP are ignored.

    A programmed mule may install its own handlers over these, as under uWSGI.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, end_me)
    for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the stack root


def take_output(out_fd: int, err_fd: int) -> None:
    """Point fds 1 and 2 at this incarnation's output pipes (the master reads them)."""
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)


def run_post_fork_hook(uwsgi: ModuleType) -> None:
    """``uwsgi.post_fork_hook`` (``@postfork`` sets it), if any: uWSGI prints what it raises
    and the process goes on."""
    hook = getattr(uwsgi, "post_fork_hook", None)
    if hook is not None:
        try:
            hook()
        except Exception as error:  # noqa: BLE001 - uWSGI prints it and goes on
            tracebacks.print_exception(error)


def run_mule(spec: StackSpec, mule: MuleSpec, out_fd: int, err_fd: int, agent_fd: int, root_pid: int) -> None:
    """Become mule ``mule.mule_id`` in a freshly forked child of the stack root; its agent
    (:mod:`muletui.stack.agent`) serves the master on ``agent_fd``."""
    linux.die_with_parent(root_pid)
    take_output(out_fd, err_fd)
    _install_signal_dispositions()
    import uwsgi  # noqa: PLC0415 - the shim, already imported and bound by the stack root

    uwsgi._bind(spec, mule.mule_id)
    MuleAgent(agent_fd, spec, mule.mule_id).start()
    status = 0
    try:
        run_post_fork_hook(uwsgi)
        context = current_context()
        context.stats.words[context.index(Field.ACTIVITY)] = Activity.RUNNING
        if mule.mode == "script":
            status = _run_script(mule.program or "")
        elif mule.mode == "callable":
            status = _run_callable(mule.program or "")
        else:
            _signal_loop(uwsgi)
    except SystemExit as stop:
        status = _exit_status(stop)
    except BaseException as error:  # noqa: BLE001 - a mule's program may raise anything; report and die
        tracebacks.print_exception(error)
        status = 1
        if mule.mode != "signal":
            _post_mortem(error)
    flush_std_streams()
    current_context().reporter.flush()
    os._exit(status)


def _post_mortem(error: BaseException) -> None:
    """With ``--debug-on-crash`` (or the console's toggle) and a front end that debugs, stop at
    the frame that raised ``error`` (its traceback printed already, stripped to the user's
    frames) until the user leaves the prompt; the mule then dies as it would have.

    Not for ``BdbQuit`` (the user quit a debugger), nor for what is no ``Exception``.
    """
    mule_agent = agent.current
    bdb = sys.modules.get("bdb")
    if (
        mule_agent is None
        or not (mule_agent.debugger and mule_agent.post_mortem)
        or not isinstance(error, Exception)
        or (bdb is not None and isinstance(error, bdb.BdbQuit))
        or error.__traceback__ is None
    ):
        return
    flush_std_streams()  # the traceback before the prompt
    try:
        breakpoints.open_post_mortem(error.__traceback__)
    except Exception as failure:  # noqa: BLE001 - the mule must still end here, not return into the root
        log(f"[muletui] post-mortem debugging failed: {failure!r}")


def _exit_status(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code & 0xFF
    print(stop.code, file=sys.stderr)
    return 1


def _run_script(path: str) -> int:
    """Run ``path`` as uWSGI's Python plugin runs ``--mule=x.py``: read it, compile it under the
    name as given, and execute it as a fresh module ``__main__``, with the ``__file__``,
    ``__spec__`` and ``__loader__`` that pyuwsgi 2.0.30 gives it; ``sys.argv`` stays uWSGI's.

    Nothing is imported for it after fork (``runpy`` would import ``pkgutil``): every page a
    mule writes is a page it no longer shares with its siblings.
    """
    if not os.path.isfile(path):
        print(f"failed to open python file {path}", file=sys.stderr)
        return 1
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec", dont_inherit=True)  # not this file's __future__
    spec = importlib.util.spec_from_file_location("__main__", path)
    assert spec is not None, "a .py file always has a source loader"
    module = ModuleType("__main__")
    module.__file__ = path
    module.__spec__ = spec
    module.__loader__ = spec.loader
    sys.modules["__main__"] = module
    exec(code, module.__dict__)  # noqa: S102 - running the user's mule script is the point
    return 0


def _run_callable(target: str) -> int:
    """``pkg.module:attr`` imports the module and calls ``attr()``; ``attr()`` calls twice."""
    module_name, _, attr = target.partition(":")
    factory = attr.endswith("()")
    obj: object = importlib.import_module(module_name)
    for part in attr.removesuffix("()").split("."):
        obj = getattr(obj, part)
    call: Callable[[], object] = obj  # type: ignore[assignment]
    result = call()
    if factory:
        result = result()  # type: ignore[operator]
    return 0


def _signal_loop(uwsgi: ModuleType) -> None:
    """uWSGI's signal-mode mule loop: one event at a time from the mule's sockets, forever.

    Signals (own, shared, farm sockets) run their handlers; messages (own, shared, farm
    queues) go to ``uwsgi.mule_msg_hook(bytes)`` if set, else they are logged and dropped,
    exactly as uWSGI does (so an id-less message a signal-mode mule wins is lost). A message
    is reported as received before the hook runs, and again (as ``hook_raised``) if it raised.
    """
    context = current_context()
    spec, mule_id = context.spec, context.mule_id
    farms = [farm for farm in spec.farms if mule_id in farm.members]
    signal_fds = {spec.shared_signal.recv, spec.mule_signals[mule_id].recv}
    signal_fds |= {spec.farm_signals[farm.index].recv for farm in farms}
    queues = {spec.mule_queues[mule_id].recv: "own", spec.shared_queue.recv: "shared"}
    queues |= {spec.farm_queues[farm.index].recv: farm.name for farm in farms}
    poller = select.epoll()
    for fd in (*signal_fds, *queues):
        poller.register(fd, select.EPOLLIN)
    words = context.stats.words
    activity = context.index(Field.ACTIVITY)
    idle, handling_message = int(Activity.IDLE), int(Activity.HANDLING_MESSAGE)  # enum members index slowly
    wait, take = poller.poll, signals.take
    while True:
        words[activity] = idle
        for fd, _event in wait(-1, 1):
            if fd in signal_fds:
                take(fd)
                continue
            hook = getattr(uwsgi, "mule_msg_hook", None)
            data = messaging.read_for_signal_loop(fd, queues[fd], hooked=hook is not None)
            if data is None:
                continue
            if hook is None:
                log(f"*** mule {mule_id} received a {len(data)} bytes message ***")
                continue
            words[activity] = handling_message
            try:
                hook(data)
            except Exception as error:  # noqa: BLE001 - uWSGI prints hook errors and goes on
                tracebacks.print_exception(error)
                messaging.hook_raised(data, queues[fd], error)


def current_context() -> Context:
    assert stack_context.current is not None, "the shim is bound before a mule runs"
    return stack_context.current
