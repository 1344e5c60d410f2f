"""Regenerate :mod:`muletui.config.uwsgi_options` from a real uWSGI binary (a developer's tool).

``python -m muletui.config.option_probe /path/to/uwsgi > muletui/config/uwsgi_options.py``

The names and short options come from ``uwsgi --help``, in uWSGI's table order. How each option
takes its value is asked of uWSGI's own ``getopt_long``, which no help text shows:
``--NAME=x`` answers "doesn't allow an argument" for a flag; a lone ``--NAME`` answers
"requires an argument" for a required value, and is applied for an optional one. uWSGI may
start (and fail for want of a socket) in the last case, so each probe runs in an empty
directory with no input and is stopped with SIGINT after a few seconds.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

_HELP_LINE = re.compile(r"^    (?:-(.)\|)?--(\S+) ")
_PROBE_SECONDS = 5.0
_HEADER = '''\
"""uWSGI 2.0.30's options, as pyuwsgi 2.0.30 (the python plugin build) knows them. Generated: do not edit.

Regenerate with ``python -m muletui.config.option_probe /tmp/uw/bin/uwsgi > muletui/config/uwsgi_options.py``
(:mod:`muletui.config.option_probe`: the names from ``uwsgi --help``, each option's value asked of
its ``getopt_long``). pyuwsgi builds in the core, the python plugin and uWSGI's base plugins
(http, corerouters, gevent...): options of other plugins (asyncio, php...) are unknown to it, as
is ``spooler-cheap``, which no 2.0.30 plugin has. So none of those is here.

:data:`OPTION_LIST`: one option a line, in uWSGI's table order: ``NAME KIND [SHORT]``, KIND ``-``
for a flag, ``=`` for a required value, ``?`` for a value taken only with ``=``.
"""

OPTION_LIST = """\\
'''


def help_options(binary: str) -> list[tuple[str, str]]:
    """``(name, short option or '')`` of every option ``uwsgi --help`` lists, in its order."""
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    return [(m[2], m[1] or "") for m in map(_HELP_LINE.match, text.stdout.splitlines()) if m]


def _run(argv: list[str]) -> str:
    """What uWSGI writes for ``argv``, stopped with SIGINT (never SIGTERM) if it is still running."""
    with tempfile.TemporaryDirectory() as empty, subprocess.Popen(
        argv, cwd=empty, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=_PROBE_SECONDS)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate()
    return output


def kind(binary: str, name: str) -> str:
    """``-`` (flag), ``=`` (required value) or ``?`` (optional value) for option ``name``."""
    if f"option '--{name}' doesn't allow an argument" in _run([binary, f"--{name}=x", "--zz-muletui-probe"]):
        return "-"
    return "=" if f"option '--{name}' requires an argument" in _run([binary, f"--{name}"]) else "?"


def option_lines(binary: str, names: Iterable[tuple[str, str]]) -> list[str]:
    """``NAME KIND [SHORT]`` for each option, probed in parallel."""
    listed = list(names)
    with ThreadPoolExecutor(max_workers=16) as pool:
        kinds = list(pool.map(lambda option: kind(binary, option[0]), listed))
    return [f"{name} {how} {short}".rstrip() for (name, short), how in zip(listed, kinds, strict=True)]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m muletui.config.option_probe /path/to/uwsgi", file=sys.stderr)
        return 2
    lines = option_lines(argv[0], help_options(argv[0]))
    sys.stdout.write(_HEADER + "".join(f"{line}\n" for line in lines) + '"""\n')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
