"""Layering rules that keep the architecture honest."""

from __future__ import annotations

import subprocess
import sys


def loaded(code: str, selected: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running ``code``, those for which the
    expression ``selected`` (of ``m``, a module name) is true."""
    shown = f"import sys\n{code}\nprint(*sorted(m for m in sys.modules if {selected}))\n"
    result = subprocess.run([sys.executable, "-c", shown], capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_engine_and_stack_never_import_textual():
    code = "import muletui.engine.master, muletui.headless, muletui.cli, muletui.stack.root, muletui.stack.mule"
    assert loaded(code, "m.split('.')[0] in ('textual', 'rich')") == []


def test_uwsgi_shim_is_not_a_top_level_module():
    for name in ("uwsgi", "uwsgidecorators"):
        result = subprocess.run([sys.executable, "-c", f"import {name}"], check=False, capture_output=True, text=True)
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_engine_imports_nothing_that_runs_inside_stack_processes():
    assert loaded("import muletui.engine.master, muletui.headless, muletui.console.app", "m.startswith('muletui.stack')") == []


def test_headless_master_loads_only_what_it_uses():
    """Every module the master imports stays in its memory for the stack's life (PSS, SPEC §5):
    config readers load with their first file, difflib with the first misspelt option."""
    code = "import muletui.cli\nfrom muletui.config.options import parse_argv\nparse_argv(['--mule', '--mules', '2'])"
    assert loaded(code, "m.split('.')[0] in ('pathlib', 'difflib', 'xml', 'urllib') or m.endswith('_file')") == []


def test_the_command_line_is_read_before_asyncio_and_the_engine_load():
    """``muletui`` starts the stack root's interpreter once it has read the command line, before
    importing the engine (:mod:`muletui.engine.root_launch`): the two start-ups overlap."""
    selected = "m == 'asyncio' or m.startswith(('muletui.engine.', 'muletui.headless')) and m != 'muletui.engine.root_launch'"
    assert loaded("import muletui.cli", selected) == []
