"""Config-time behaviour of uWSGI 2.0.30 that needs no running stack: every magic variable, the
``$()``/``@()``/``%()`` passes, ``for``/``if-*`` blocks, placeholders, ``print``/``iprint``/
``exit``, ``env`` and the hook options as the builder sees them.

Where a comment quotes real uWSGI, it is what ``pyuwsgi 2.0.30`` (``uwsgi --ini FILE``) printed
on stdout for the same file in the same layout (a ``print = ...`` line per value).
"""

from __future__ import annotations

import grp
import os
import pwd
import sys
import time
from pathlib import Path

import pytest

from muletui import UWSGI_VERSION
from muletui.config.builder import Plan, build
from muletui.config.entry import ConfigEntry, ConfigError
from muletui.config.magic import djb33x_hex
from muletui.config.options import parse_argv


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def printed(*argv: str) -> list[str]:
    """What the config prints (``iprint`` as read, then ``print``)."""
    return build(parse_argv(list(argv))).config_output


def plan(*argv: str) -> Plan:
    return build(parse_argv(list(argv)))


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- magic variables ---------------------------------------------------------------------------


def test_process_wide_magic_variables_have_uwsgis_values(here: Path) -> None:
    """Real uWSGI printed ``v=/tmp/uwexp V=2.0.30 h=vm k=2 u=0 U=root g=0 G=root
    t=1796405710 T=1796405710440061 b=/root/.pyenv/versions/3.11.7/bin/python3.11 esc=<ESC>[0m``:
    before, muletui substituted '' for every one of them."""
    write(here, "m.ini", "[uwsgi]\nprint = %v|%V|%h|%k|%u|%U|%g|%G|%t|%T|%b|%[[0m\n")
    before = time.time()
    (line,) = printed("--ini", "m.ini")
    v, version, host, cores, uid, user, gid, group, seconds, micros, binary, escape = line.split("|")
    assert (v, version, host) == (str(here), UWSGI_VERSION, os.uname().nodename)
    assert cores == str(os.sysconf("SC_NPROCESSORS_ONLN"))
    assert (uid, user) == (str(os.getuid()), pwd.getpwuid(os.getuid()).pw_name)
    assert (gid, group) == (str(os.getgid()), grp.getgrgid(os.getgid()).gr_name)
    assert int(before) <= int(seconds) <= time.time() and int(micros) // 1_000_000 == int(seconds)
    assert binary == os.path.realpath(sys.executable)
    assert escape == "\x1b[0m"


def test_per_file_magic_variables_and_first_file_twins(here: Path) -> None:
    """uWSGI, ``--ini sec.ini`` including ``sub.dir/inc.ini``, which reads ``:other2`` of itself:
    ``inc o=sub.dir/inc.ini x= O=sec.ini X= s=inc.ini S=sec.ini`` and ``inc-other2 o= x=other2``."""
    write(here, "sec.ini", "[uwsgi]\nprint = default o=%o x=%x O=%O X=%X\nini = sub.dir/inc.ini\n")
    write(
        here,
        "sub.dir/inc.ini",
        "[uwsgi]\nprint = inc o=%o x=%x O=%O X=%X s=%s S=%S c=%c C=%C n=%n e=%e\nini = :other2\n"
        "[other2]\nprint = inc-other2 o=%o x=%x s=%s\n",
    )
    assert printed("--ini", "sec.ini") == [
        "default o=sec.ini x= O=sec.ini X=",
        "inc o=sub.dir/inc.ini x= O=sec.ini X= s=inc.ini S=sec.ini c=sub.dir C=" + here.name + " n=inc e=ini",
        "inc-other2 o= x=other2 s=inc.ini",
    ]


def test_section_magic_variable_is_the_section_asked_for(here: Path) -> None:
    """uWSGI, ``--ini sec.ini:other``: ``other o=sec.ini x=other O=sec.ini X=other``."""
    write(here, "sec.ini", "[uwsgi]\nprint = default\n[other]\nprint = other o=%o x=%x O=%O X=%X\n")
    assert printed("--ini", "sec.ini:other") == ["other o=sec.ini x=other O=sec.ini X=other"]


def test_inode_hash_and_directory_components(here: Path) -> None:
    path = write(here, "d/m.ini", "[uwsgi]\nprint = %i %I %j %J|%0|%1\n")
    full = os.path.realpath(path)
    (line,) = printed("--ini", "d/m.ini")
    inode = str(os.lstat(full).st_ino)
    components = full.strip("/").split("/")
    assert line == f"{inode} {inode} {djb33x_hex(full)} {djb33x_hex(full)}|{components[0]}|{components[1]}"


def test_djb33x_hash_matches_uwsgi() -> None:
    """uWSGI printed ``j=57FFFCCF`` for /tmp/uwexp/sub.dir/magic.ini; bytes above 127 are signed."""
    assert djb33x_hex("/tmp/uwexp/sub.dir/magic.ini") == "57FFFCCF"
    assert djb33x_hex("é") == "8F685900"  # bytes c3 a9 taken as -61, -87 (unsigned: 8F625900)


def test_cpu_cores_make_a_uwsgiconf_workers_line_valid(here: Path) -> None:
    """uwsgiconf writes ``workers = %k``; muletui used to refuse it: ``--processes needs a number, got ''``."""
    write(here, "w.ini", "[uwsgi]\nworkers = %k\nmule = true\n")
    assert plan("--ini", "w.ini").stack.numproc == os.sysconf("SC_NPROCESSORS_ONLN")


# --- $(), @() and %() ---------------------------------------------------------------------------


def test_environment_file_and_arithmetic_passes(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uWSGI: ``dollar /rootdeep $(UNSET_X) $(HO$(EMPTY)ME)``, ``at`` + the file less its last
    newline, ``math 4 6 4 alphabeta -7 0``, ``nested deep``, ``%(r3)tail``."""
    monkeypatch.setenv("HOME", "/root")
    monkeypatch.delenv("UNSET_X", raising=False)
    write(here, "inc.txt", "one\ntwo\n")
    write(
        here,
        "p.ini",
        "[uwsgi]\nset-ph = name=alpha\nset-ph = other=beta\nworkers = 3\nr1 = %(r2)\nr2 = %(r3)\nr3 = deep\nidx = 3\n"
        "print = dollar $(HOME)%(r3) $(UNSET_X) $(HO$(EMPTY)ME)\nprint = at @(inc.txt)|\n"
        "print = math %(workers + 1) %(workers * 2) %(workers ++) %(name other) %(workers - 10) %(workers / 0)\n"
        "print = nested %(r%(idx))\nprint = %(r1)tail\nprint = arith %(3 + 4) %(idx idx) %(idx - ) %(+ 2)\n",
    )
    assert printed("--ini", "p.ini") == [
        "dollar /rootdeep $(UNSET_X) $(HO$(EMPTY)ME)",
        "at one\ntwo|",
        "math 4 6 4 alphabeta -7 0",
        "nested deep",
        "%(r3)tail",
        "arith 7 33 3 2",
    ]


def test_references_reach_across_files_and_the_command_line(here: Path) -> None:
    write(here, "a.ini", "[uwsgi]\nmule = %(prog)\n")
    assert plan("--set-ph", "prog=x.py", "--ini", "a.ini").stack.mules[0].program == "x.py"


def test_missing_at_file_stops_as_uwsgi_does(here: Path) -> None:
    """uWSGI: ``open("nope.txt"): No such file or directory [core/io.c line 525]``, exit 1."""
    write(here, "a.ini", "[uwsgi]\nmule = @(nope.txt)\n")
    with pytest.raises(ConfigError, match=r'a\.ini:2: @\(nope\.txt\): open\("nope\.txt"\): No such file'):
        parse_argv(["--ini", "a.ini"])


def test_references_that_never_stop_are_refused(here: Path) -> None:
    """``self = %(self)`` then ``x%(self)``: uWSGI 2.0.30 substitutes forever (its rescan finds
    the reference it brought in); muletui answers with one line."""
    write(here, "a.ini", "[uwsgi]\nself = %(self)\nprint = x%(self)\n")
    with pytest.raises(ConfigError, match=r"a\.ini:3: %\(\.\.\.\) references that never stop expanding"):
        parse_argv(["--ini", "a.ini"])


# --- blocks -------------------------------------------------------------------------------------


def test_for_repeats_each_option_for_every_item(here: Path) -> None:
    """uWSGI: ``for1 a, for1 b, for1 c, for2 a, for2 b, for2 c, after-for %(_), times 1..3``."""
    write(
        here,
        "f.ini",
        "[uwsgi]\nfor = a b  c\nprint = for1 %(_)\nprint = for2 %(_)\nendfor =\nprint = after-for %(_)\n"
        "for-times = 3\nprint = times %(_)\nend-for =\nfor =\nprint = empty-for\nendfor =\n",
    )
    assert printed("--ini", "f.ini") == [
        *(f"for1 {x}" for x in "abc"), *(f"for2 {x}" for x in "abc"), "after-for %(_)", "times 1", "times 2", "times 3",
    ]


def test_for_glob_and_for_readline(here: Path) -> None:
    """uWSGI: ``glob …/g1.gl``, ``glob …/g2.gl``, ``glob-none …/*.none`` (no match: the pattern),
    ``line [l1] [l2 two] [] [l4]``."""
    write(here, "g2.gl", "")
    write(here, "g1.gl", "")
    (here / "d.gl").mkdir()
    write(here, "lines.txt", "l1\nl2 two\n\nl4")
    write(
        here,
        "g.ini",
        f"[uwsgi]\nfor-glob = {here}/*.gl\nprint = glob %(_)\nendfor =\nfor-glob = {here}/*.none\n"
        "print = glob-none %(_)\nendfor =\nfor-readline = lines.txt\nprint = line [%(_)]\nendfor =\n",
    )
    assert printed("--ini", "g.ini") == [
        f"glob {here}/d.gl/", f"glob {here}/g1.gl", f"glob {here}/g2.gl", f"glob-none {here}/*.none",
        "line [l1]", "line [l2 two]", "line []", "line [l4]",
    ]


def test_for_readline_on_a_missing_file_adds_nothing_with_a_warning(here: Path) -> None:
    write(here, "r.ini", "[uwsgi]\nmule = true\nfor-readline = nope.txt\nmule = x.py\nendfor =\n")
    built = plan("--ini", "r.ini")
    assert len(built.stack.mules) == 1
    assert any('open("nope.txt") fails, so the block adds nothing' in w for w in built.warnings)


def test_if_blocks_test_environment_paths_options_and_host(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uWSGI printed every line below, and none of the blocks whose condition fails."""
    monkeypatch.setenv("HOME", "/root")
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    write(here, "afile", "")
    (here / "adir").mkdir()
    write(
        here,
        "i.ini",
        "[uwsgi]\nmaster = true\nif-env = HOME\nprint = if-env HOME=%(_)\nendif =\n"
        "if-env = HOME=/nope\nprint = wrong value\nendif =\nif-not-env = NOPE_NOT_SET\nprint = if-not-env %(_)\nend-if =\n"
        "if-exists = afile\nprint = if-exists %(_)\nendif =\nif-not-exists = nofile\nprint = if-not-exists %(_)\nendif =\n"
        "if-file = adir\nprint = not a file\nendif =\nif-dir = adir\nprint = if-dir %(_)\nendif =\n"
        "if-opt = master\nprint = if-opt master=%(_)\nendif =\nif-opt = later\nprint = not yet\nendif =\nlater = 1\n"
        f"if-hostname = {os.uname().nodename}\nprint = hostname %(_)\nendif =\n"
        "if-plugin = python\nprint = plugin %(_)\nendif =\nif-plugin = python3\nprint = no python3\nendif =\n"
        "if-not-reload =\nprint = not reload\nendif =\nif-reload =\nprint = reload\nendif =\n"
        "if-env = HOME\nprint = a\nend =\nprint = after end\n",
    )
    assert printed("--ini", "i.ini") == [
        "if-env HOME=/root", "if-not-env %(_)", "if-exists afile", "if-not-exists nofile", "if-dir adir",
        "if-opt master=true", f"hostname {os.uname().nodename}", "plugin python", "not reload", "a", "after end",
    ]


def test_hostname_match_is_inverted_as_in_uwsgi_2_0_30(here: Path) -> None:
    """uWSGI printed ``not-match-1 ^vm$`` on host vm, ``match-invalid [``, ``not-match-2``:
    its pattern test is ``!match()``, true only when the pattern does not compile."""
    host = os.uname().nodename
    write(
        here,
        "h.ini",
        f"[uwsgi]\nif-not-hostname-match = ^{host}$\nprint = not-match-1\nendif =\nif-hostname-match = [\n"
        "print = match-invalid %(_)\nendif =\nif-hostname-match = .*\nprint = match-any\nendif =\n",
    )
    built = plan("--ini", "h.ini")
    assert built.config_output == ["not-match-1", "match-invalid ["]
    assert any("inverts this test" in warning for warning in built.warnings)


def test_include_inside_a_block_and_its_options_skip_the_logic(here: Path) -> None:
    """uWSGI: ``if-exists = inc2.ini`` / ``ini = %(_)`` reads the file; a ``for`` reads it once per
    item; an included file's own block inside a block is ``recursive logic``, as in uWSGI."""
    write(here, "inc2.ini", "[uwsgi]\nprint = from inc2\n")
    write(here, "b.ini", "[uwsgi]\nif-exists = inc2.ini\nini = %(_)\nendif =\nfor = x y\nini = inc2.ini\nendfor =\n")
    assert printed("--ini", "b.ini") == ["from inc2"] * 3
    write(here, "inner.ini", "[uwsgi]\nif-env = HOME\nprint = inner\nendif =\n")
    write(here, "c.ini", "[uwsgi]\nfor = once\ninclude = inner.ini\nendfor =\n")
    with pytest.raises(ConfigError, match=r"inner\.ini:2: recursive logic in options is not supported \(option = if-env\)"):
        parse_argv(["--ini", "c.ini"])


def test_a_block_inside_a_block_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"recursive logic in options is not supported \(option = if-env\)"):
        parse_argv(["--for", "a", "--if-env", "HOME", "--mule"])


def test_for_times_cannot_grow_without_end() -> None:
    with pytest.raises(ConfigError, match="more than 10000 options"):
        parse_argv(["--for-times", "1000000000", "--mule", "--endfor"])


# --- placeholders, print, exit ------------------------------------------------------------------


def test_placeholders_pass_silently_and_cannot_take_an_option_name(here: Path) -> None:
    """uWSGI: ``set-placeholder = mule=x`` → ``you cannot use mule as a placeholder, it is
    already available as an option``, exit 1."""
    write(here, "p.ini", "[uwsgi]\nset-placeholder = name=N\nset = other=O\nset = mule=%(name).py\nprint = %(name)%(other)\n")
    built = plan("--ini", "p.ini")
    assert built.config_output == ["NO"]
    assert [m.program for m in built.stack.mules] == ["N.py"]
    assert not [w for w in built.warnings if "name" in w or "other" in w]
    write(here, "q.ini", "[uwsgi]\nset-placeholder = mule=x\n")
    with pytest.raises(ConfigError, match="you cannot use mule as a placeholder, it is already available as an option"):
        parse_argv(["--ini", "q.ini"])
    with pytest.raises(ConfigError, match="invalid placeholder/--set value"):
        parse_argv(["--set-ph", "novalue"])


def test_iprint_comes_as_read_and_print_after_the_passes(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uWSGI's stdout: ``iprint %(name) $(HOME)`` first (immediate: no passes), then ``ph=alpha beta``;
    ``print =`` and a bare ``print`` give empty lines."""
    monkeypatch.setenv("HOME", "/root")
    write(here, "p.ini", "[uwsgi]\nset-placeholder = name=alpha\nprint = ph=%(name) %(other)\nprint =\nprint\n"
          "set-ph = other=beta\niprint = iprint %(name) $(HOME)\n")
    assert printed("--ini", "p.ini") == ["iprint %(name) $(HOME)", "ph=alpha beta", "", ""]


def test_exit_stops_with_its_status_after_what_iprint_printed(here: Path) -> None:
    """uWSGI exits at ``exit`` while reading (status 0 for ``exit =``: ``atoi("")``), having
    printed the ``iprint`` lines before it and none of the ``print`` lines."""
    write(here, "e.ini", "[uwsgi]\niprint = before\nprint = never\nif-not-env = NOPE_X_UNSET\nexit = 4\nendif =\nmule = true\n")
    with pytest.raises(ConfigError) as caught:
        parse_argv(["--ini", "e.ini"])
    assert (caught.value.status, caught.value.printed) == (4, ("before",))
    assert str(caught.value) == "e.ini:5: exit: uWSGI stops reading its config here and exits with status 4"
    write(here, "z.ini", "[uwsgi]\nexit =\n")
    with pytest.raises(ConfigError) as zero:
        parse_argv(["--ini", "z.ini"])
    assert zero.value.status == 0


# --- env and hooks as configured ----------------------------------------------------------------


def test_env_and_unenv_in_order_magic_expanded(here: Path) -> None:
    write(here, "v.ini", "[uwsgi]\nset-ph = name=N\nenv = FOO=foo-%k-%(name)\nenv = HOME\nenv = BAR=1\nunenv = BAR\nenv = EQ=a=b\n")
    built = plan("--ini", "v.ini")
    cores = os.sysconf("SC_NPROCESSORS_ONLN")
    assert built.stack.env == [("FOO", f"foo-{cores}-N"), ("HOME", None), ("BAR", "1"), ("BAR", None), ("EQ", "a=b")]
    environment = built.stack.environment({"HOME": "/root", "KEEP": "k"})
    assert environment == {"KEEP": "k", "FOO": f"foo-{cores}-N", "EQ": "a=b"}
    assert plan("--mule").stack.environment() is None  # no env option: the master's own, untouched


def test_hooks_are_kept_in_order_and_the_rest_warn_with_a_reason() -> None:
    built = plan(
        "--mule", "--exec-pre-app", "echo 2", "--exec-asap", "echo 1", "--exec-post-app", "echo 3",
        "--hook-asap", "exec:echo 4", "--call-asap", "f", "--mount-asap", "proc /proc none", "--mount-check", "/",
    )
    assert built.stack.commands == [("exec-pre-app", "echo 2"), ("exec-asap", "echo 1")]
    reasons = {warning.split(":")[0]: warning for warning in built.warnings}
    assert "use exec-pre-app" in reasons["--exec-post-app"]
    assert "hook actions (ACTION:ARGS) are not emulated" in reasons["--hook-asap"]
    assert "C function of the uWSGI binary" in reasons["--call-asap"]
    assert "mounts a file system" in reasons["--mount-asap"]
    assert "emulates uWSGI's master, mules and config, not this option" in reasons["--mount-check"]


def test_logic_options_are_exported_with_their_own_flag() -> None:
    entries = parse_argv(["--set-ph", "a=1", "--for", "x", "--mule=%(_).py", "--endfor"])
    assert entries == [
        ConfigEntry("set-placeholder", "a=1", "command line", immediate=True, spelling="set-ph"),
        ConfigEntry("a", "1", "command line", immediate=True, placeholder=True),
        ConfigEntry("for", "x", "command line", immediate=True),
        ConfigEntry("mule", "x.py", "command line"),
        ConfigEntry("endfor", None, "command line", immediate=True),
    ]


def test_inherit_reads_a_template_after_everything_else(here: Path) -> None:
    """uWSGI ``--show-config``: ``mule = /tmp/first.py``, ``print = main N``, then the template's
    ``print = tpl %(name) tpl`` and ``mule = /tmp/t.py`` (no passes for them); printed
    ``main N`` then ``tpl %(name) tpl``."""
    write(here, "tpl.ini", "[uwsgi]\nprint = tpl %(name) %n\nmule = /tmp/t.py\n")
    write(here, "main.ini", "[uwsgi]\nset-ph = name=N\ninherit = tpl.ini\nmule = /tmp/first.py\nprint = main %(name)\n")
    built = plan("--ini", "main.ini")
    assert built.config_output == ["main N", "tpl %(name) tpl"]
    assert [mule.program for mule in built.stack.mules] == ["/tmp/first.py", "/tmp/t.py"]
