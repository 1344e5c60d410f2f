"""``breakpoint()``, ``pdb.set_trace()`` and ``pdb.post_mortem()`` in a stack process.

Under uWSGI a mule's stdin is ``/dev/null``, so pdb reads end of file and raises ``BdbQuit``.
Here the stack root hands out a pdb whose ``set_trace`` and ``post_mortem`` open the mule's
debugger (:mod:`muletui.stack.debugger`) on the master's side of its agent socket: the
console's pane, or the terminal of a headless run. ``breakpoint()`` goes through them too,
unless ``PYTHONBREAKPOINT`` says otherwise (Python's own hook reads it). With no one to debug
on (headless without a terminal, the stack root while the app imports), a breakpoint is one
warning line and the code goes on. pdb itself is imported only when user code asks for it.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType, TracebackType

from muletui.stack import agent
from muletui.stack.context import warn


def install() -> None:
    """Route pdb's entry points to the mule's debugger, in this process and its forks."""
    if "pdb" in sys.modules:
        _patch(sys.modules["pdb"])
    else:
        sys.meta_path.insert(0, _PdbFinder)


def set_trace(*, header: str | None = None) -> None:
    """What ``pdb.set_trace()`` and ``breakpoint()`` do in a stack process."""
    frame = sys._getframe(1)
    mule_agent = _agent_or_warn(f"breakpoint at {frame.f_code.co_filename}:{frame.f_lineno}")
    if mule_agent is not None:
        from muletui.stack import debugger  # noqa: PLC0415 - pdb is imported only when needed

        debugger.set_trace(mule_agent, frame, header)


def post_mortem(t: TracebackType | None = None) -> None:
    """What ``pdb.post_mortem()`` does in a stack process: the debugger at ``t``'s last frame."""
    t = t or sys.exc_info()[2]
    if t is None:
        raise ValueError("A valid traceback must be passed if no exception is being handled")
    if _agent_or_warn("post-mortem debugging") is not None:
        open_post_mortem(t)


def open_post_mortem(t: TracebackType) -> None:
    """Stop in the failing frame of ``t`` until the console's user leaves the prompt."""
    from muletui.stack import debugger  # noqa: PLC0415 - pdb is imported only when needed

    assert agent.current is not None
    debugger.post_mortem(agent.current, t)


def _agent_or_warn(what: str) -> agent.MuleAgent | None:
    """This mule's agent when a front end debugs it; else one warning (once per place: a
    breakpoint in a loop says it once) and ``None``."""
    mule_agent = agent.current
    if mule_agent is None or mule_agent.pid != os.getpid():
        _warn_once(what, "muletui debugs mules only (not the app while it imports, nor a process a mule forked)")
        return None
    if not mule_agent.debugger:
        _warn_once(what, "no terminal to debug on (use the console, or run headless with a terminal on stdin)")
        return None
    return mule_agent


_warned: set[tuple[str, str]] = set()  # what was said in this process already


def _warn_once(what: str, why: str) -> None:
    if (what, why) not in _warned:  # a fork inherits the set: the root's why is not a mule's
        _warned.add((what, why))
        who = f"mule {agent.current.mule_id}: " if agent.current is not None and agent.current.pid == os.getpid() else ""
        warn(f"{who}{what} skipped: {why}", here=False)


def _patch(pdb: ModuleType) -> None:
    pdb.set_trace = set_trace  # type: ignore[attr-defined]
    pdb.post_mortem = post_mortem  # type: ignore[attr-defined]


class _PdbLoader(importlib.machinery.SourceFileLoader):
    """The standard library's pdb, patched as it is executed."""

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        _patch(module)


class _PdbFinder:
    """Finds the real pdb and hands it out through :class:`_PdbLoader`; every other import passes."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "pdb":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _PdbLoader(spec.loader.name, spec.loader.path)
        return spec
