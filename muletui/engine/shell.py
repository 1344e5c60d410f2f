"""A shell command run by the master as uWSGI's master runs one (core/utils.c
``uwsgi_run_command``): ``/bin/sh -c COMMAND`` in a session of its own, stdin from
``/dev/null``. Its stdout and stderr go into the event stream as the master's lines (uWSGI's
command writes to the master's log), and it dies with muletui (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
from collections.abc import Callable

from muletui.engine import events
from muletui.engine.output import PipeReader, paired
from muletui.linux import die_with_parent

Publish = Callable[[events.Event], None]


class ShellCommand:
    """One started command; :meth:`wait` for its status, :meth:`kill` its process group."""

    def __init__(self, process: asyncio.subprocess.Process, readers: list[PipeReader]) -> None:
        self._process = process
        self._readers = readers
        self.pid = process.pid

    @classmethod
    async def start(
        cls, command: str, environment: dict[str, str] | None, cwd: str | None, publish: Publish
    ) -> ShellCommand:
        """Start ``command``. Raises :class:`OSError` when it cannot be started at all."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", command,
                stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, env=environment, cwd=cwd,
                start_new_session=True,  # uWSGI's setsid(); a terminal's Ctrl-C reaches the master only
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )
        except OSError:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        readers = paired(*(PipeReader(fd, _lines_to(publish, stream), lambda: None) for fd, stream in ((out_r, "out"), (err_r, "err"))))
        return cls(process, list(readers))

    async def wait(self) -> int:
        """Its exit status (negative: killed by that signal), once its output so far is published.

        Cancelling kills the process group and still waits for the command to end.
        """
        try:
            return await self._process.wait()
        except asyncio.CancelledError:
            self.kill()
            await asyncio.shield(self._process.wait())
            raise
        finally:
            for reader in self._readers:
                reader.drain()  # what it wrote before it exited (a background child may write on: not waited for)
                reader.close()

    def kill(self) -> None:
        """SIGKILL the command and whatever it started in its session."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def _lines_to(publish: Publish, stream: str) -> Callable[[tuple[events.OutputLine, ...]], None]:
    def on_lines(lines: tuple[events.OutputLine, ...]) -> None:
        publish(events.OutputLines(mule_id=0, stream=stream, lines=lines, t=lines[0].t))

    return on_lines
