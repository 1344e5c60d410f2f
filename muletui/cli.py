"""``muletui``: parse uWSGI-style options, then run the stack (headless until the console lands).

:func:`main` starts the stack root's interpreter (:mod:`muletui.engine.root_launch`) before this
process imports anything else, the config readers included, so that the root's Python start-up
and imports overlap all of this one's. The root is kept when a stack runs as it was started (no
``--chdir``, no ``--env``), started again when the stack asks for another directory or
environment, and killed when no stack runs (``--help``, a refused command line) or not yet (a
start command, which may prepare what the root reads, or a record file, which must open first).
Hence the imports inside the functions here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from muletui import UWSGI_VERSION, __version__
from muletui.engine import root_launch

if TYPE_CHECKING:
    from muletui.config.builder import Plan


def demo_argv(name: str = "seed") -> list[str]:
    """The options that start lesson ``name`` (the seed's example by default)."""
    from muletui.lessons import find  # noqa: PLC0415 - see the module's docstring

    lesson = find(name)
    assert lesson is not None, name
    return ["--ini", lesson.ini]


def demo_command(args: list[str]) -> list[str] | int:
    """``muletui demo`` lists the lessons (exit status); ``muletui demo NAME ...`` gives its argv."""
    from muletui.lessons import find, lessons  # noqa: PLC0415 - see the module's docstring

    if not args or args[0].startswith("-"):
        if not args:
            width = max(len(lesson.name) for lesson in lessons())
            for lesson in lessons():
                print(f"{lesson.name:<{width}}  {lesson.title}")
            print("\nstart one with: muletui demo NAME   (add --headless --duration 10 to run it without the console)")
            return 0
        return [*demo_argv(), *args]
    chosen = find(args[0])
    if chosen is None:
        names = ", ".join(lesson.name for lesson in lessons())
        print(f"muletui: no lesson {args[0]!r}: the lessons are {names} (muletui demo lists them)", file=sys.stderr)
        return 1
    return [*demo_argv(chosen.name), *args[1:]]


def help_text() -> str:
    from muletui.config.options import GROUPS, OPTIONS, Arity  # noqa: PLC0415 - see the module's docstring

    lines = [
        f"usage: muletui [uWSGI options] [CONFIG_FILE]   (muletui {__version__}, uWSGI {UWSGI_VERSION} mules)",
        "",
        "Runs a uWSGI mule stack without uWSGI, in a console (or --headless). With no stack option: the built-in demo.",
        "uWSGI options not listed here are accepted with a warning and ignored.",
    ]
    for group in GROUPS:
        lines += ["", f"{group}:"]
        for option in (o for o in OPTIONS if o.group == group):
            names = ", ".join([f"--{option.name}"] + [("-" if len(a) == 1 else "--") + a for a in option.aliases])
            metavar = option.metavar if option.arity is Arity.OPTIONAL else f" {option.metavar}".rstrip()
            usage = names + metavar
            if len(usage) > 40:
                lines += [f"  {usage}", f"  {'':<40}  {option.help}"]
            else:
                lines.append(f"  {usage:<40}  {option.help}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``muletui`` script; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    root_launch.launch_ahead(None, None)  # in this process's directory and environment
    try:
        return _run(args)
    finally:
        root_launch.discard_ahead()


def _run(args: list[str]) -> int:
    """Read the command line ``args`` and do what it asks; the exit status."""
    from muletui.config.builder import build  # noqa: PLC0415 - see the module's docstring
    from muletui.config.entry import ConfigError  # noqa: PLC0415
    from muletui.config.options import lookup, parse_argv  # noqa: PLC0415
    from muletui.preflight import refusal  # noqa: PLC0415

    if args[:1] == ["demo"]:
        lesson_args = demo_command(args[1:])
        if isinstance(lesson_args, int):
            return lesson_args
        args = lesson_args
    try:
        entries = parse_argv(args)
        if all((option := lookup(entry.key)) is not None and option.own for entry in entries):
            entries = parse_argv(demo_argv()) + entries  # only muletui's own options: the demo
        plan = build(entries)
    except ConfigError as error:
        for line in error.printed:  # what the config's iprint lines printed before it stopped
            print(line)
        print(f"muletui: {error}", file=sys.stderr)
        return error.status
    if plan.run.show_help:
        print(help_text())
        return 0
    if plan.run.serve is not None:
        root_launch.discard_ahead()  # each session starts its own
        return serve(plan.run.serve, _session_args(args), plan.run.serve_sessions)
    if plan.run.show_version:
        print(f"muletui {__version__} (uWSGI {UWSGI_VERSION} mule semantics)")
        return 0
    refused = refusal(plan)
    if refused is not None:
        print(f"muletui: {refused}", file=sys.stderr)
        return 1
    if plan.stack.commands or plan.run.log_file or plan.run.events_file:
        root_launch.discard_ahead()  # the master starts one once they are done
    else:
        root_launch.keep_ahead(plan.stack.chdir, plan.stack.environment())
    if plan.run.headless:
        return run_headless(plan)
    return run_console(plan)


def run_headless(plan: Plan) -> int:
    """Run the stack with the plain log on stdout (:mod:`muletui.headless`)."""
    import asyncio  # noqa: PLC0415 - imported once the root's interpreter is starting

    from muletui.headless import run_headless as run  # noqa: PLC0415 - as asyncio

    return asyncio.run(run(plan))


def run_console(plan: Plan) -> int:
    """Run the Textual console; after it closes, say what the stack left queued."""
    from muletui.console.app import MuleConsole  # noqa: PLC0415 - Textual only when the console runs
    from muletui.session import RecordError  # noqa: PLC0415 - with the console

    try:
        app = MuleConsole(plan)
    except RecordError as error:
        print(f"muletui: {error}", file=sys.stderr)
        return 1
    left = app.run()
    if app.user_gone:  # the terminal is gone: there is nobody to tell
        return 0
    if app.model.failure:
        print(f"muletui: {app.model.failure}", file=sys.stderr)
        return app.failure_status
    for name, (count, size) in (left or {}).items():
        print(f"muletui: left queued in {name}: {count} message(s), {size} bytes")
    return 0


def _session_args(args: list[str]) -> list[str]:
    """What each ``--serve`` session runs: the command line without the server's own options."""
    kept: list[str] = []
    tokens = iter(args)
    for arg in tokens:
        name, eq, _value = arg.partition("=")
        if name == "--serve-sessions" and not eq:
            next(tokens, None)  # its value
        elif name not in ("--serve", "--serve-sessions"):
            kept.append(arg)
    return kept


def serve(where: str, args: list[str], max_sessions: int) -> int:
    """Serve the console to browsers (see :mod:`muletui.serve`): each session runs ``muletui ARGS``."""
    from muletui.serve import serve_console  # noqa: PLC0415 - aiohttp and textual-serve only for --serve

    return serve_console(where, [sys.executable, "-m", "muletui", *args], max_sessions)
