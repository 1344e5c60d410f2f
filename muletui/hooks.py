"""uWSGI's ``exec-*`` hook commands, run as its master runs them (core/uwsgi.c, core/utils.c).

Each command runs through ``/bin/sh -c``, one after another, announced in the master's log in
uWSGI's words (``running "CMD" (asap)...``), with the stack's environment (``env =`` applied),
and its output goes into the event stream as the master's lines. The phases before the app is
imported run in uWSGI's order, ``exec-pre-app`` last and in ``--chdir``; a non-zero exit there
stops the start (uWSGI exits). ``exec-as-user-atexit`` runs once the stack has stopped, and its
failures are only logged. uWSGI reads the exit status with ``WEXITSTATUS``, so a command killed
by a signal counts as a success; muletui does the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from muletui.config.stack_config import StackConfig
from muletui.engine import events
from muletui.engine.master import StackStartError
from muletui.engine.shell import ShellCommand

Publish = Callable[[events.Event], None]

#: The phases that run before the app is imported, in uWSGI's order: (option, log label, in --chdir).
START_PHASES = (
    ("exec-asap", "asap", False),
    ("exec-pre-jail", "pre-jail", False),
    ("exec-post-jail", "post-jail", False),
    ("exec-in-jail", "in-jail", False),
    ("exec-as-root", "as root", False),
    ("exec-as-user", "", False),  # uWSGI names the uid and gid instead
    ("exec-pre-app", "pre app", True),
)
AT_EXIT = "exec-as-user-atexit"


async def run_start_commands(config: StackConfig, publish: Publish) -> None:
    """Run the commands of every phase before the app, in order.

    Raises:
        StackStartError: a command exited with a non-zero status (uWSGI's line; uWSGI exits),
            or could not be started.
    """
    if not config.commands:
        return
    environment = config.environment()
    for option, label, in_chdir in START_PHASES:
        for command in (text for name, text in config.commands if name == option):
            code = await run_command(command, label, environment, config.chdir if in_chdir else None, publish)
            if code:
                line = f'command "{command}" exited with non-zero code: {code}'
                publish(events.MasterLog(text=line))
                raise StackStartError(line)


async def run_exit_commands(config: StackConfig, publish: Publish) -> None:
    """Run the ``exec-as-user-atexit`` commands; a failure is logged, as uWSGI does, not raised."""
    commands = [text for name, text in config.commands if name == AT_EXIT]
    environment = config.environment() if commands else None
    for command in commands:
        try:
            code = await run_command(command, "", environment, None, publish)
        except StackStartError as error:  # the command could not be started: say why, go on
            publish(events.MasterLog(text=str(error)))
            continue
        if code:
            publish(events.MasterLog(text=f'command "{command}" exited with non-zero code: {code}'))


async def run_command(command: str, label: str, environment: dict[str, str] | None, cwd: str | None, publish: Publish) -> int:
    """Run one command and return its exit status as uWSGI reads it (0 when killed by a signal).

    Cancelling kills the command's process group. Raises :class:`StackStartError` when the
    command cannot be started at all.
    """
    where = f"({label})..." if label else f"(as uid: {os.getuid()} gid: {os.getgid()}) ..."
    publish(events.MasterLog(text=f'running "{command}" {where}'))
    try:
        shell = await ShellCommand.start(command, environment, cwd, publish)
    except OSError as error:
        raise StackStartError(f'running "{command}": {error.strerror}') from None
    return max(await shell.wait(), 0)
