"""Layering rules that keep the architecture honest."""

from __future__ import annotations

import subprocess
import sys


def test_engine_and_stack_never_import_textual():
    code = (
        "import sys, muletui.engine.master, muletui.headless, muletui.cli, muletui.stack.root, muletui.stack.mule\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_uwsgi_shim_is_not_a_top_level_module():
    for name in ("uwsgi", "uwsgidecorators"):
        result = subprocess.run([sys.executable, "-c", f"import {name}"], check=False, capture_output=True, text=True)
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_engine_imports_nothing_that_runs_inside_stack_processes():
    code = (
        "import sys, muletui.engine.master, muletui.headless, muletui.console.app\n"
        "print(sorted(m for m in sys.modules if m.startswith('muletui.stack')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_headless_master_loads_only_what_it_uses():
    """Every module the master imports stays in its memory for the stack's life (PSS, SPEC §5):
    config readers load with their first file, difflib with the first misspelt option."""
    code = (
        "import sys, muletui.cli\n"
        "from muletui.config.options import parse_argv\n"
        "parse_argv(['--mule', '--mules', '2'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pathlib', 'difflib', 'xml', 'urllib')"
        " or m.endswith('_file')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_command_line_is_read_before_asyncio_and_the_engine_load():
    """``muletui`` starts the stack root's interpreter once it has read the command line, before
    importing the engine (:mod:`muletui.engine.root_launch`): the two start-ups overlap."""
    code = (
        "import sys, muletui.cli\n"
        "print(sorted(m for m in sys.modules if m == 'asyncio' or m.startswith(('muletui.engine.', 'muletui.headless'))"
        " and m != 'muletui.engine.root_launch'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
