"""uWSGI 2.0.30's whole option table: every spelling known, each taking its value as uWSGI's
``getopt_long`` takes it, names that are no option refused with its words, and the rest of
uWSGI's options accepted with one warning each.

Comments quote what real uWSGI 2.0.30 (pyuwsgi, ``/tmp/uw/bin/uwsgi``) printed for the same
command line; its program name (``/tmp/uw/bin/python:``) is muletui's ``muletui:``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from muletui.config import option_table
from muletui.config.builder import Plan, build
from muletui.config.entry import ConfigError
from muletui.config.option_probe import help_options, option_lines
from muletui.config.option_table import WORKERS_REASON
from muletui.config.options import parse_argv
from muletui.config.uwsgi_options import OPTION_LIST

UWSGI = "/tmp/uw/bin/uwsgi"


def plan(*argv: str) -> Plan:
    return build(parse_argv(list(argv)))


def refusal(*argv: str) -> str:
    with pytest.raises(ConfigError) as caught:
        plan(*argv)
    return str(caught.value)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the table ----------------------------------------------------------------------------------


def test_every_spelling_of_an_emulated_option_is_uwsgis_with_uwsgis_arity() -> None:
    """The hand-written options are uWSGI's names (their short letters too), or muletui's own,
    or the two spellings uWSGI reads otherwise: ``end`` (config logic reads it, no option has
    it) and ``python-file`` (SPEC.md names it; uWSGI 2.0.30 has no such option)."""
    table = {line.split()[0]: line.split()[1] for line in OPTION_LIST.splitlines()}
    kinds = {"-": option_table.Arity.FLAG, "=": option_table.Arity.VALUE, "?": option_table.Arity.OPTIONAL}
    for option in option_table.OPTIONS:
        for name in (option.name, *option.aliases):
            if len(name) == 1:
                assert option_table.short_option(name) in (option.name, *option.aliases), name
            elif name in table:
                assert kinds[table[name]] is option.arity, name
            else:
                assert option.own or name in ("end", "python-file"), name
    assert len(table) == 942


def test_the_table_knows_the_spellings_and_not_what_pyuwsgi_lacks() -> None:
    for name in ("shared-py-import", "shared-python-import", "harakiri", "need-app", "http", "cheaper-busyness-max"):
        assert option_table.is_uwsgi_option(name), name
    for name in ("spooler-cheap", "asyncio", "php-docroot", "python-file", "end", "headless"):
        assert not option_table.is_uwsgi_option(name), name
    assert option_table.lookup("shared-py-import") is option_table.lookup("import")
    assert (option_table.short_option("x"), option_table.short_option("s")) == ("xmlconfig", "socket")


@pytest.mark.skipif(not os.access(UWSGI, os.X_OK), reason="needs real uWSGI 2.0.30 at /tmp/uw/bin/uwsgi")
def test_the_data_is_what_the_probe_asks_of_real_uwsgi() -> None:
    """A handful probed again (the whole table takes 20 s): a flag, required and optional values."""
    listed = help_options(UWSGI)
    assert [name for name, _short in listed] == [line.split()[0] for line in OPTION_LIST.splitlines()]
    some = [option for option in listed if option[0] in ("master", "harakiri", "mule", "shared-py-import")]
    expected = [line for line in OPTION_LIST.splitlines() if line.split()[0] in dict(some)]
    assert option_lines(UWSGI, some) == expected


# --- refused as uWSGI's getopt_long refuses -----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--foo"], "unrecognized option '--foo'"),
        (["--foo=1"], "unrecognized option '--foo=1'"),
        (["--spooler-cheap"], "unrecognized option '--spooler-cheap'"),
        (["--asyncio", "10"], "unrecognized option '--asyncio' (did you mean --async?)"),  # not built in
        (["--mulle"], "unrecognized option '--mulle' (did you mean --mule?)"),
        (["--mul=3"], "option '--mul=3' is ambiguous; possibilities: '--mule-harakiri' '--mule-reload-mercy' '--mule' '--mules' '--mule-msg-size' '--multicast' '--multicast-ttl' '--multicast-loop'"),
        (["--master=1"], "option '--master' doesn't allow an argument"),
        (["--harakiri-v=1"], "option '--harakiri-verbose' doesn't allow an argument"),
        (["--mule", "--harakiri"], "option '--harakiri' requires an argument"),
        (["--mule-r"], "option '--mule-reload-mercy' requires an argument"),
        (["-Z"], "invalid option -- 'Z'"),
        (["-S"], "option requires an argument -- 'S'"),
        (["-Mx"], "option requires an argument -- 'x'"),
        (["-M-"], "invalid option -- '-'"),
    ],
)
def test_getopt_refusals_are_uwsgis_lines(argv: list[str], line: str) -> None:
    assert refusal(*argv) == line


def test_a_refused_option_comes_after_what_the_options_before_it_printed() -> None:
    """uWSGI: ``--iprint hi --foo`` prints ``hi``, then the refusal."""
    with pytest.raises(ConfigError) as caught:
        parse_argv(["--iprint", "hi", "--foo"])
    assert caught.value.printed == ("hi",)


def test_an_unknown_option_is_refused_with_one_line_and_status_1(cli) -> None:
    """uWSGI: ``/tmp/uw/bin/python: unrecognized option '--spooler-cheap'`` then ``getopt_long()
    error`` (muletui keeps to one line), exit status 1."""
    for argv, line in (
        (["--mule", "--spooler-cheap"], "muletui: unrecognized option '--spooler-cheap'"),
        (["--headless", "--mulle"], "muletui: unrecognized option '--mulle' (did you mean --mule?)"),
    ):
        run = cli(*argv)
        assert run.wait(15) == 1
        assert run.output == line + "\n"


# --- read as uWSGI's getopt_long reads them -----------------------------------------------------


def test_abbreviations_clusters_and_attached_values_read_as_getopt_long_reads_them() -> None:
    """uWSGI: ``-S=a=b --mule=probe.py --mule-r 3 -Mpx -C`` gave ``uwsgi.opt`` ``'': b'a=b'``,
    ``set: b'=a=b'``, ``mule-reload-mercy: b'3'``, ``master: True``, ``processes: b'x'`` and
    ``chmod-socket: True``; ``--mule-msg=3`` is ``--mule-msg-size=3``."""
    built = plan("-S=a=b", "--mule=probe.py", "--mule-r", "3", "-Mp2", "-C", "--mule-msg=5")
    assert built.stack.opt == {
        "set": b"=a=b", "": b"a=b", "mule": b"probe.py", "mule-reload-mercy": b"3", "master": True,
        "processes": b"2", "chmod-socket": True, "mule-msg-size": b"5",
    }
    assert (built.stack.reload_mercy, built.stack.numproc, built.stack.mule_msg_size) == (3.0, 2, 5)


def test_a_required_value_is_the_next_argument_whatever_it_looks_like() -> None:
    assert plan("--mule", "--chdir", "--headless").stack.chdir == "--headless"


def test_config_files_named_as_arguments_are_read_after_every_option(here: Path) -> None:
    """uWSGI: ``uwsgi b.ini --mule=a.py`` (b.ini: ``mule = b.py``) made a.py mule 1 and b.py
    mule 2: GNU getopt_long moves the arguments to the end. ``--`` ends the options."""
    (here / "b.ini").write_text("[uwsgi]\nmule = b.py\n")
    assert [m.program for m in plan("b.ini", "--mule=a.py").stack.mules] == ["a.py", "b.py"]
    assert refusal("--", "--mule=a.py").startswith("--mule=a.py: unable to load configuration from --mule=a.py")


def test_uwsgi_opt_keeps_each_option_under_the_name_it_was_given() -> None:
    """uWSGI: ``--pyimport os --shared-py-import json --set-ph ph=2`` showed ``pyimport``,
    ``shared-py-import``, ``set-ph`` and ``ph`` in ``uwsgi.opt``."""
    built = plan("--mule", "--pyimport", "os", "--shared-py-import", "json", "--set-ph", "ph=2")
    assert {"pyimport", "shared-py-import", "set-ph", "ph"} <= set(built.stack.opt)
    assert [value for _kind, value in built.stack.app] == ["os", "json"]


# --- accepted: the rest of uWSGI, config keys that are no option --------------------------------


def test_a_uwsgi_option_muletui_does_not_emulate_is_accepted_with_one_warning() -> None:
    built = plan("--mule", "--harakiri", "5", "--uid", "1000", "--harakiri", "6", "--emperor", "/etc/vassals",
                 "--python-file", "app.py")
    assert built.warnings == [
        f"--harakiri: accepted, but muletui does not emulate it ({WORKERS_REASON})",
        "--uid: accepted, but muletui does not emulate it (muletui emulates uWSGI's master, mules and config, not this option)",
        "--emperor: accepted, but muletui does not emulate it (muletui runs no Emperor and no vassals)",
        "--python-file: not a uWSGI 2.0.30 option (uWSGI refuses it: unrecognized option '--python-file'); muletui reads it as --wsgi-file",
    ]
    assert built.stack.opt["harakiri"] == b"6"
    assert built.stack.app == [("file", "app.py")]


def test_an_ini_key_that_is_no_option_is_kept_with_a_warning(here: Path) -> None:
    """uWSGI took ``foo = 1`` and ``spooler-cheap = 1`` in an ini file silently: both were in
    ``uwsgi.opt`` (``foo: b'1'``, ``spooler-cheap: b'1'``) and the stack ran."""
    (here / "u.ini").write_text("[uwsgi]\nfoo = 1\nspooler-cheap = 1\nmulle = x\nmule = true\n")
    built = plan("u.ini")
    assert built.stack.opt["foo"] == b"1" and built.stack.opt["spooler-cheap"] == b"1"
    assert built.warnings == [
        "--foo (u.ini:2): not a uWSGI option; uWSGI keeps it in uwsgi.opt (and as %(foo)) and ignores it",
        "--spooler-cheap (u.ini:3): not a uWSGI option; uWSGI keeps it in uwsgi.opt (and as %(spooler-cheap)) and ignores it",
        "--mulle (u.ini:4): not a uWSGI option; uWSGI keeps it in uwsgi.opt (and as %(mulle)) and ignores it (did you mean --mule?)",
    ]
    (here / "f.ini").write_text("[uwsgi]\nmulles = 2\nmule\nfarm = f:2\n")
    assert refusal("f.ini") == "--mulles is not an option (did you mean --mules?); f.ini:4: invalid mule id: 2"


def test_strict_refuses_a_key_that_is_no_option_with_uwsgis_line(here: Path) -> None:
    """uWSGI: ``[strict-mode] unknown config directive: foo``, exit 1, with ``strict`` before or
    after the ini file, and for ``--set foo=bar``; ``--set-ph foo=bar`` passes. A key read while
    ``strict`` is on is refused (s1.ini), one read after ``strict = false`` passes (s2.ini)."""
    (here / "u.ini").write_text("[uwsgi]\nmule = true\nfoo = 1\n")
    line = "u.ini:3: [strict-mode] unknown config directive: foo"
    assert refusal("--strict", "u.ini") == line
    assert refusal("--ini", "u.ini", "--strict") == line
    assert refusal("--strict", "--mule", "--set", "foo=bar") == "command line: [strict-mode] unknown config directive: foo"
    assert plan("--strict", "--mule", "--set-ph", "foo=bar", "--headless").warnings == []
    # as uWSGI: a key read while strict is on is refused even if strict is off at the end
    (here / "s1.ini").write_text("[uwsgi]\nstrict = true\nbar = 2\nstrict = false\nmule = true\n")
    assert refusal("s1.ini") == "s1.ini:3: [strict-mode] unknown config directive: bar"
    (here / "s2.ini").write_text("[uwsgi]\nstrict = true\nstrict = false\nbar = 2\nmule = true\n")
    assert plan("s2.ini").warnings[0].startswith("--bar (s2.ini:4)")


def test_set_applies_an_option_and_keeps_any_other_name_in_uwsgi_opt() -> None:
    """uWSGI: ``--set foo=bar --set mule=probe.py -S baz=1 --set-ph ph=2 --mule --mule`` ran three
    mules (the first probe.py) with ``uwsgi.opt`` ``baz: b'1'``, ``foo: b'bar'``, ``mule: True``,
    ``ph: b'2'``, ``set: b'baz=1'``, ``set-ph: b'ph=2'`` (the last value of each name)."""
    built = plan("--set", "foo=bar", "--set", "mule=probe.py", "-S", "baz=1", "--set-ph", "ph=2", "--mule", "--mule")
    assert [m.program for m in built.stack.mules] == ["probe.py", None, None]
    assert built.stack.opt == {
        "set": b"baz=1", "foo": b"bar", "mule": True, "baz": b"1", "set-ph": b"ph=2", "ph": b"2"
    }
    assert built.warnings == []
    assert refusal("--set-ph", "harakiri=5") == (
        "command line: you cannot use harakiri as a placeholder, it is already available as an option"
    )


def test_a_mule_sees_set_names_in_uwsgi_opt_and_shared_imports_ran(cli, write) -> None:
    """The same ``uwsgi.opt`` inside a real mule; ``--shared-py-import`` and
    ``--shared-python-import`` import their modules once, before the mules start."""
    write("shared_one.py", 'print("SHARED ONE", flush=True)\n')
    write("shared_two.py", 'print("SHARED TWO", flush=True)\n')
    write("probe.py", """\
        import time, uwsgi
        print("OPT", sorted(uwsgi.opt.items()), flush=True)
        time.sleep(30)
        """)
    run = cli("--headless", "--duration", "1", "--set", "foo=bar", "--set", "mule=probe.py",
              "--shared-py-import", "shared_one", "--shared-python-import", "shared_two")
    assert run.wait(30) == 0, run.output
    assert run.output.count("SHARED ONE") == 1 and run.output.count("SHARED TWO") == 1
    [opt] = re.findall(r"mule 1  \| OPT (.*)", run.output)
    assert opt == str(sorted({
        "set": b"mule=probe.py", "foo": b"bar", "mule": b"probe.py", "shared-py-import": b"shared_one",
        "shared-python-import": b"shared_two",
    }.items()))


def test_a_custom_option_is_known_after_its_declaration() -> None:
    """uWSGI: ``--declare-option 'foo=iprint=hello %1' --foo x`` ran (declare-option is applied at
    once and rebuilds getopt_long's table); ``--foo`` before it, or without '=' in the
    declaration (``invalid foo syntax, must be newoption=template``), stops."""
    built = plan("--mule", "--declare-option", "foo=iprint=hello $1", "--foo", "x", "--declare-option", "bar=iprint=b", "--bar")
    assert built.warnings[1:] == [
        "--foo: a custom option (declare-option): muletui does not apply its template",
        "--bar: a custom option (declare-option): muletui does not apply its template",
    ]
    assert refusal("--foo", "x", "--declare-option", "foo=iprint=$1") == "unrecognized option '--foo'"
    assert refusal("--mule", "--declare-option", "foo") == "command line: invalid foo syntax, must be newoption=template"
