"""The mules' ``(Pdb)`` prompts on the terminal of a headless run (issue 13).

The headless runner hands it every batch of events it would print. A mule's debugger that stops
gets the terminal: a header line naming the mule and ``file:line``, then what its pdb prints, as
it prints it (the prompt stays on its line), and the lines typed on the terminal (read from
fd 0 in the tty's own canonical mode, so editing and echo are the terminal's) go to its prompt.
One mule holds the terminal at a time; another that stops meanwhile waits, with a line that
says so, and gets the terminal when the holder goes on, in the order they stopped. A step
(``n``, ``s``, ``r``, ``unt``) leaves the prompt too, for as long as the step runs: the holder
keeps the terminal for :data:`STEP_GRACE` after one, so that stepping is not handed around.

While a prompt is up the other mules' output is held, and printed, with its own timestamps,
when the prompt is left: lines arriving under a prompt would push it and the half-typed command
off the screen every time a timer ticks. The holding mule's own output is not held (``!print(x)``
and ``n`` over a print are the person's own doing), nor are the master's lines (few, and they
may concern the prompt: harakiri waiting for it, a stop asked for) and this module's notices;
after any of them, the prompt is shown again. A prompt left up very long holds at most
:data:`HOLD_LIMIT` lines and counts the rest (``--log-file`` has them all).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Protocol

from muletui.engine import events

#: The events this front end takes (the headless runner subscribes to them too).
DEBUGGER_KINDS: tuple[type[events.Event], ...] = (events.DebuggerStopped, events.DebuggerOutput, events.DebuggerResumed)
HOLD_LIMIT = 20_000  # log lines held while a prompt is up; later ones are dropped and counted
STEP_GRACE = 1.0  # s a holder that steps keeps the terminal until it stops again
#: pdb's commands that leave the prompt to stop again soon after.
STEPS = frozenset({"n", "next", "s", "step", "r", "return", "unt", "until"})
RETRY_READ = 0.25  # s: reading pauses this long after an end of file, or while in the background


class Screen(Protocol):
    """Where the log and the prompts go: the headless printer."""

    def write(self, batch: list[events.Event]) -> None: ...
    def raw(self, text: str) -> None: ...
    def line(self, mule_id: int, text: str) -> None: ...


class TerminalDebugger:
    """Gives the terminal to one stopped mule at a time; ``type_line`` reaches a mule's prompt."""

    def __init__(self, screen: Screen, type_line: Callable[[int, str], bool], fd: int = 0) -> None:
        self._screen = screen
        self._type_line = type_line
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self.holder: int | None = None  # the mule whose prompt has the terminal
        self._waiting: dict[int, events.DebuggerStopped] = {}  # in the order they stopped
        self._said: dict[int, list[str]] = {}  # what a waiting mule's debugger printed so far
        self._held: deque[events.Event] = deque()
        self._held_lines = self._dropped_lines = 0
        self._tail = ""  # the holder's output since its last newline: the prompt, to show again
        self._typed = b""  # a line being read, up to its newline
        self._stepped = False  # the last line typed to the holder was a step
        self._step_grace: asyncio.TimerHandle | None = None  # the holder steps: it stops again soon
        self._reading = False
        self._retry: asyncio.TimerHandle | None = None
        self._resume_reading()

    # -- events -----------------------------------------------------------------------------

    def write(self, batch: list[events.Event]) -> None:
        """Show ``batch`` in order: debugger events here, the log now or once the prompt is left."""
        now: list[events.Event] = []
        for event in batch:
            if isinstance(event, DEBUGGER_KINDS):
                self._show_now(now)
                self._on_debugger(event)
            elif self.holder is None or self._shows_under_prompt(event):
                now.append(event)
            else:
                self._hold(event)
        self._show_now(now)

    def _shows_under_prompt(self, event: events.Event) -> bool:
        """The holder's own output, and the master's lines (few, and they may be about the
        prompt: harakiri waiting for it, a stop): shown under a prompt; other mules' output and
        the events behind hints are held."""
        if isinstance(event, events.OutputLines):
            return event.mule_id == self.holder
        return isinstance(event, (events.MasterLog, events.StackWarning))

    def _show_now(self, now: list[events.Event]) -> None:
        if now:
            batch = list(now)
            now.clear()
            if self.holder is None:
                self._screen.write(batch)
            else:
                self._interrupt(partial(self._screen.write, batch))

    def _on_debugger(self, event: events.Event) -> None:
        if isinstance(event, events.DebuggerStopped):
            if event.mule_id == self.holder and self._step_grace is not None:  # a step ended
                self._step_grace.cancel()
                self._step_grace = None
                self._show("".join(self._said.pop(event.mule_id, [])))
            elif self.holder is None:
                self._take(event)
            else:
                self._waiting[event.mule_id] = event
                self._notice(event.mule_id, f"mule {event.mule_id} stopped at {event.file}:{event.line} "
                                            f"and waits: mule {self.holder} holds the terminal")
        elif isinstance(event, events.DebuggerOutput):
            if event.mule_id == self.holder and self._step_grace is None:
                self._show(event.text)
            else:  # a waiting mule's prompt, or a header pdb printed before it stopped
                self._said.setdefault(event.mule_id, []).append(event.text)
        elif isinstance(event, events.DebuggerResumed):
            if event.mule_id == self.holder and self._stepped:
                self._step_grace = self._loop.call_later(STEP_GRACE, self._leave)
            elif event.mule_id == self.holder:
                self._leave()
            else:
                self._waiting.pop(event.mule_id, None)  # exited while it waited
                self._said.pop(event.mule_id, None)

    def _take(self, stop: events.DebuggerStopped) -> None:
        self.holder = stop.mule_id
        if stop.post_mortem:
            text = (f"mule {stop.mule_id} crashed: post-mortem debugging at {stop.file}:{stop.line} "
                    f"in {stop.function} ({stop.thread}); c or q lets it die and respawn")
        else:
            text = (f"mule {stop.mule_id} stopped at {stop.file}:{stop.line} in {stop.function} "
                    f"({stop.thread}); the (Pdb) prompt is yours, c goes on")
        self._screen.line(stop.mule_id, text)
        for text in self._said.pop(stop.mule_id, []):
            self._show(text)

    def _leave(self) -> None:
        """The holder went on (or exited): the held log, then the next waiting mule's prompt."""
        if self._tail:  # it did not go on by a typed line (it exited, or was killed)
            self._screen.raw("\n")
        if self._step_grace is not None:
            self._step_grace.cancel()
        self.holder, self._tail, self._stepped, self._step_grace = None, "", False, None
        self.release()
        if self._waiting:
            first = next(iter(self._waiting))
            self._take(self._waiting.pop(first))

    def _show(self, text: str) -> None:
        self._screen.raw(text)
        self._tail = text.rpartition("\n")[2] if "\n" in text else self._tail + text

    def _interrupt(self, show: Callable[[], None]) -> None:
        """``show`` on a line of its own under a prompt, and the prompt again after it."""
        if self._tail:
            self._screen.raw("\n")
        show()
        if self._tail:
            self._screen.raw(self._tail)

    def _notice(self, mule_id: int, text: str) -> None:
        self._interrupt(lambda: self._screen.line(mule_id, text))

    def _hold(self, event: events.Event) -> None:
        lines = len(event.lines) if isinstance(event, events.OutputLines) else 1
        if self._held_lines + lines > HOLD_LIMIT:
            self._dropped_lines += lines
            return
        self._held.append(event)
        self._held_lines += lines

    def release(self) -> None:
        """Print the log held under the prompts (at the end of a run too)."""
        if self._held or self._dropped_lines:
            count = f"{self._held_lines} line{'' if self._held_lines == 1 else 's'}"
            self._screen.line(0, f"the output held while a (Pdb) prompt was up ({count}):")
            self._screen.write(list(self._held))
            if self._dropped_lines:
                self._screen.line(0, f"{self._dropped_lines} more log lines were dropped while held "
                                     f"(--log-file keeps every line)")
        self._held.clear()
        self._held_lines = self._dropped_lines = 0

    # -- the terminal -----------------------------------------------------------------------

    def _on_readable(self) -> None:
        if _in_background(self._fd):  # a read would stop the whole run (SIGTTIN)
            self._pause_reading()
            return
        try:
            data = os.read(self._fd, 4096)
        except OSError:  # EIO: the terminal is gone
            self.close()
            return
        if not data:  # ^D: pdb's EOF, which quits the prompt (and a mule stopped at a breakpoint)
            self._typed = b""
            if self.holder is not None:
                self._send("EOF")
            self._pause_reading()
            return
        self._typed += data
        while b"\n" in self._typed:
            line, _, self._typed = self._typed.partition(b"\n")
            self._send(line.decode("utf-8", "replace"))

    def _send(self, line: str) -> None:
        self._tail = ""  # the terminal echoed the line and its newline
        if self.holder is None:
            if line.strip():
                self._screen.line(0, "no mule waits at a (Pdb) prompt: the line typed is ignored")
        elif self._step_grace is not None:
            self._screen.line(self.holder, f"mule {self.holder} is still stepping: the line typed is ignored")
        else:
            command = line.strip().partition(" ")[0]
            if command:  # an empty line repeats the last command, step or not
                self._stepped = command in STEPS
            self._type_line(self.holder, line)

    def _pause_reading(self) -> None:
        self._stop_reading()
        self._retry = self._loop.call_later(RETRY_READ, self._resume_reading)

    def _resume_reading(self) -> None:
        self._retry = None
        self._loop.add_reader(self._fd, self._on_readable)
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def close(self) -> None:
        """Stop reading the terminal; what is still held is printed."""
        self._stop_reading()
        self.release()


def _in_background(fd: int) -> bool:
    """Whether ``fd`` is this process's controlling terminal and another job has it."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:  # not the controlling terminal: no job control to fear
        return False
