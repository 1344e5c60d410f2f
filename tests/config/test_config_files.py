"""The four uWSGI config-file readers, their magic variables and ``read_config_file``.

Expected values were checked against pyuwsgi 2.0.30 with ``uwsgi --show-config`` where the readers
follow uWSGI; the docstrings of the readers list where muletui deliberately differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from muletui.config.entry import ConfigEntry, ConfigError
from muletui.config.files import read_config_file, split_spec
from muletui.config.ini_file import read_ini
from muletui.config.json_file import read_json
from muletui.config.options import parse_argv
from muletui.config.xml_file import read_xml
from muletui.config.yaml_file import read_yaml

Pairs = list[tuple[str, str | None]]
Reader = Callable[..., list[ConfigEntry]]


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def pairs(entries: list[ConfigEntry]) -> Pairs:
    return [(entry.key, entry.value) for entry in entries]


# The experiment files of /work/shared/reference/uwsgi-experiments/q_config.
Q_CONFIG = {
    "conf.ini": """[uwsgi]
master = true
http-socket = 127.0.0.1:39161
wsgi-file = ../e_respawn/app.py
mule = ../e2_reload/prog.py
mule = true
mule =
mules = 2
farm = f1:1,2
""",
    "conf.xml": """<uwsgi>
  <master/>
  <http-socket>127.0.0.1:39161</http-socket>
  <wsgi-file>../e_respawn/app.py</wsgi-file>
  <mule>../e2_reload/prog.py</mule>
  <mule/>
  <mules>2</mules>
  <farm>f1:1,2</farm>
</uwsgi>
""",
    "conf.yaml": """uwsgi:
  master: true
  http-socket: 127.0.0.1:39161
  wsgi-file: ../e_respawn/app.py
  mule: ../e2_reload/prog.py
  mule: true
  mules: 2
  farm: f1:1,2
""",
    "conf.json": (
        '{"uwsgi": {"master": true, "http-socket": "127.0.0.1:39161", '
        '"wsgi-file": "../e_respawn/app.py",\n'
        '           "mule": ["../e2_reload/prog.py", true, false], "mules": 2, "farm": "f1:1,2"}}\n'
    ),
}
SOCKET_AND_APP: Pairs = [("http-socket", "127.0.0.1:39161"), ("wsgi-file", "../e_respawn/app.py")]
MULES_AND_FARM: Pairs = [("mules", "2"), ("farm", "f1:1,2")]
PROGRAM: Pairs = [("mule", "../e2_reload/prog.py")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "conf.ini",
            [("master", "true"), *SOCKET_AND_APP, *PROGRAM, ("mule", "true"), ("mule", ""), *MULES_AND_FARM],
        ),
        ("conf.xml", [("master", None), *SOCKET_AND_APP, *PROGRAM, ("mule", None), *MULES_AND_FARM]),
        ("conf.yaml", [("master", "true"), *SOCKET_AND_APP, *PROGRAM, ("mule", "true"), *MULES_AND_FARM]),
        (
            "conf.json",
            [("master", "1"), *SOCKET_AND_APP, *PROGRAM, ("mule", "1"), ("mule", "0"), *MULES_AND_FARM],
        ),
    ],
)
def test_q_config_examples_give_uwsgi_option_sequence(tmp_path: Path, name: str, expected: Pairs) -> None:
    path = write(tmp_path, name, Q_CONFIG[name])
    assert pairs(read_config_file(path)) == expected


def test_q_config_origins_name_file_and_line(tmp_path: Path) -> None:
    ini = write(tmp_path, "conf.ini", Q_CONFIG["conf.ini"])
    xml = write(tmp_path, "conf.xml", Q_CONFIG["conf.xml"])
    json_path = write(tmp_path, "conf.json", Q_CONFIG["conf.json"])
    assert [entry.origin for entry in read_ini(ini)] == [f"{ini}:{line}" for line in range(2, 10)]
    assert [entry.origin for entry in read_xml(xml)] == [f"{xml}:{line}" for line in range(2, 9)]
    assert [entry.origin for entry in read_json(json_path)] == [
        f"{json_path}:{line}" for line in (1, 1, 1, 2, 2, 2, 2, 2)
    ]


# --- ini ---------------------------------------------------------------------------------------


def test_ini_keeps_repeats_and_reads_values_as_uwsgi(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.ini",
        "; leading comment\n[uwsgi]\nmule = a.py\n# comment\n  mule   =   b.py  \nmaster\n"
        "inline = v # not a comment\nkey = a = b\n\r\nmule = a.py\n",
    )
    assert read_ini(path) == [
        ConfigEntry("mule", "a.py", f"{path}:3"),
        ConfigEntry("mule", "b.py", f"{path}:5"),
        ConfigEntry("master", None, f"{path}:6"),
        ConfigEntry("inline", "v # not a comment", f"{path}:7"),
        ConfigEntry("key", "a = b", f"{path}:8"),
        ConfigEntry("mule", "a.py", f"{path}:10"),
    ]


def test_ini_reads_only_the_asked_section_even_when_reopened(tmp_path: Path) -> None:
    path = write(tmp_path, "a.ini", "[uwsgi]\nmules = 1\n[dev]\nmules = 2\n[uwsgi]\nmule = x.py\n")
    assert pairs(read_ini(path)) == [("mules", "1"), ("mule", "x.py")]
    assert read_ini(path, "dev") == [ConfigEntry("mules", "2", f"{path}:4")]


def test_ini_empty_section_gives_no_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "a.ini", "[uwsgi]\n[dev]\nmules = 2\n")
    assert read_ini(path) == []


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("mules = 2\n[uwsgi]\n", 1, "option 'mules = 2' comes before any [section] header"),
        ("[uwsgi]\n\n[dev\n", 3, "section header '[dev' has no closing ']'"),
        ("[uwsgi]\n = x.py\n", 2, "option '= x.py' has no name"),
    ],
)
def test_ini_malformed_line_is_an_error_at_its_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, "a.ini", text)
    with pytest.raises(ConfigError) as caught:
        read_ini(path)
    assert (caught.value.origin, caught.value.reason) == (f"{path}:{line}", reason)
    assert str(caught.value) == f"{path}:{line}: {reason}"


def test_ini_missing_section_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.ini", "[uwsgi]\nmules = 1\n")
    with pytest.raises(ConfigError) as caught:
        read_ini(path, "prod")
    assert str(caught.value) == f"{path}: can't find section [prod]"


# --- yaml --------------------------------------------------------------------------------------


def test_yaml_follows_uwsgi_line_reader(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        "# comment\nother:\n  mule: no.py\nuwsgi:\n  mule: a.py   # trailing comment\n\n"
        '  quoted: "x.py"\n  flag: true\n  empty: \n  hash: a#b\n  tab:\tv\n      deep: d\n'
        "  mule: b.py\n  farm: f:1,2\nlast: 1\n  mule: never.py\n",
    )
    assert read_yaml(path) == [
        ConfigEntry("mule", "a.py", f"{path}:5"),
        ConfigEntry("quoted", '"x.py"', f"{path}:7"),
        ConfigEntry("flag", "true", f"{path}:8"),
        ConfigEntry("empty", "", f"{path}:9"),
        ConfigEntry("hash", "a", f"{path}:10"),
        ConfigEntry("tab", "v", f"{path}:11"),
        ConfigEntry("deep", "d", f"{path}:12"),
        ConfigEntry("mule", "b.py", f"{path}:13"),
        ConfigEntry("farm", "f:1,2", f"{path}:14"),
    ]
    assert read_yaml(path, "other") == [ConfigEntry("mule", "no.py", f"{path}:3")]


STOPS = "uWSGI's yaml reader stops reading the section here"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("uwsgi:\n  mule:\n    - a.py\n", 2, f"expected 'key: value', got 'mule:'; {STOPS}"),
        ("uwsgi:\n  mules: 1\n  - a.py\n", 3, f"lists and flow collections are not supported; {STOPS}"),
        ("uwsgi:\n  mules:2\n", 2, f"expected 'key: value', got 'mules:2'; {STOPS}"),
        ("uwsgi:\n  : x.py\n", 2, f"option ': x.py' has no name; {STOPS}"),
    ],
)
def test_yaml_lines_uwsgi_would_stop_at_are_errors(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path, "a.yaml", text)
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert str(caught.value) == f"{path}:{line}: {reason}"


def test_yaml_missing_section_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "other:\n  mules: 1\n  uwsgi: 2\n")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert str(caught.value) == f"{path}: can't find section 'uwsgi:'"


# --- xml ---------------------------------------------------------------------------------------


def test_xml_follows_uwsgi_expat_reader(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.xml",
        '<?xml version="1.0"?>\n<root>\n<before>x</before>\n<uwsgi>\n  <mule> a.py </mule>\n'
        '  <empty></empty>\n  <attr mode="x">v</attr>\n  <ent>a&amp;b</ent>\n'
        "  <nest><inner>i</inner></nest>\n  <cd><![CDATA[c<d]]></cd>\n</uwsgi>\n"
        '<uwsgi id="two">\n  <mules>2</mules>\n</uwsgi>\n</root>\n',
    )
    assert read_xml(path) == [
        ConfigEntry("mule", " a.py ", f"{path}:5"),
        ConfigEntry("empty", None, f"{path}:6"),
        ConfigEntry("attr", "v", f"{path}:7"),
        ConfigEntry("ent", "a&b", f"{path}:8"),
        ConfigEntry("inner", "i", f"{path}:9"),
        ConfigEntry("cd", "c<d", f"{path}:10"),
        ConfigEntry("mules", "2", f"{path}:13"),
    ]
    assert read_xml(path, "two") == [ConfigEntry("mules", "2", f"{path}:13")]


def test_xml_ignores_junk_after_the_root_element(tmp_path: Path) -> None:
    path = write(tmp_path, "a.xml", "<uwsgi><mules>1</mules></uwsgi>\n<junk/>\n")
    assert pairs(read_xml(path)) == [("mules", "1")]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("<uwsgi>\n<mule>a.py</mule>\n<mules>\n</uwsgi>\n", 4, "mismatched tag"),
        ("", 1, "no element found"),
        ("<uwsgi>\n  <mule>a & b</mule>\n</uwsgi>\n", 2, "not well-formed (invalid token)"),
    ],
)
def test_xml_broken_document_is_an_error_at_its_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, "a.xml", text)
    with pytest.raises(ConfigError) as caught:
        read_xml(path)
    assert str(caught.value) == f"{path}:{line}: unable to parse xml file: {reason}"


@pytest.mark.parametrize(
    ("text", "section", "reason"),
    [
        ("<root><mules>1</mules></root>", None, "can't find a <uwsgi> element"),
        (
            '<root><uwsgi id="one"><mules>1</mules></uwsgi></root>',
            "two",
            'can\'t find a <uwsgi id="two"> element',
        ),
    ],
)
def test_xml_missing_stanza_is_an_error(tmp_path: Path, text: str, section: str | None, reason: str) -> None:
    path = write(tmp_path, "a.xml", text)
    with pytest.raises(ConfigError) as caught:
        read_xml(path, section)
    assert str(caught.value) == f"{path}: {reason}"


# --- json --------------------------------------------------------------------------------------


def test_json_converts_values_as_jansson_reader(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.json",
        '{"other": {"mules": 9},\n "uwsgi": {\n  "s": "str", "t": true, "f": false, "n": null,\n'
        '  "i": 42, "neg": -7, "real": 2.5, "exp": 1e3, "obj": {"k": "v"},\n'
        '  "mule": ["a.py", 1, 2.5, true, null, [1], {"k": 1}],\n'
        '  "dup": "first", "last": "x", "dup": "second"}}\n',
    )
    assert read_json(path) == [
        ConfigEntry("s", "str", f"{path}:3"),
        ConfigEntry("t", "1", f"{path}:3"),
        ConfigEntry("f", "0", f"{path}:3"),
        ConfigEntry("n", "0", f"{path}:3"),
        ConfigEntry("i", "42", f"{path}:4"),
        ConfigEntry("neg", "-7", f"{path}:4"),
        ConfigEntry("mule", "a.py", f"{path}:5"),
        ConfigEntry("mule", "1", f"{path}:5"),
        ConfigEntry("mule", "1", f"{path}:5"),
        ConfigEntry("mule", "0", f"{path}:5"),
        ConfigEntry("dup", "second", f"{path}:6"),
        ConfigEntry("last", "x", f"{path}:6"),
    ]
    assert read_json(path, "other") == [ConfigEntry("mules", "9", f"{path}:1")]


def test_json_last_repeated_section_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '{"uwsgi": {"mules": 1},\n "uwsgi": {"mules": 2}}')
    assert read_json(path) == [ConfigEntry("mules", "2", f"{path}:2")]


def test_json_broken_document_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '{"uwsgi": {"mules": 1,\n  "mule": }}\n')
    with pytest.raises(ConfigError) as caught:
        read_json(path)
    assert str(caught.value) == f"{path}:2: error parsing JSON data: Expecting value (column 11)"


@pytest.mark.parametrize("text", ['{"other": {"mules": 1}}', '{"uwsgi": ["mule"]}', '["uwsgi"]'])
def test_json_missing_section_object_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "a.json", text)
    with pytest.raises(ConfigError) as caught:
        read_json(path)
    assert str(caught.value) == f"{path}: you must define a object named uwsgi in your JSON data"


# --- magic variables ---------------------------------------------------------------------------


def test_ini_magic_variables_match_uwsgi(tmp_path: Path) -> None:
    directory = tmp_path / "conf.d"
    directory.mkdir()
    path = write(
        directory,
        "app.ini",
        "[uwsgi]\nd = %d\np = %p\ns = %s\nn = %n\ne = %e\nx = %x\nc = %c\no = %o\nD = %D\n"
        "pct = 100%% %z%Q end\nlast = 50%",
    )
    real = os.path.realpath(directory)
    assert pairs(read_ini(path)) == [
        ("d", f"{real}/"),
        ("p", f"{real}/app.ini"),
        ("s", "app.ini"),
        ("n", "app"),
        ("e", "ini"),
        ("x", ""),  # real uWSGI 2.0.30: %x is the section asked for, '' without one ("x=")
        ("c", "conf.d"),
        ("o", path),
        ("D", f"{real}/"),
        ("pct", "100%  end"),
        ("last", "50%"),
    ]


def test_numbered_magic_variables_are_directory_components(tmp_path: Path) -> None:
    path = write(tmp_path, "a.ini", "[uwsgi]\nfirst = %0\nsecond = %1\nbeyond = [%9]\n")
    components = os.path.realpath(tmp_path).strip("/").split("/")
    assert len(components) in range(2, 10)
    assert pairs(read_ini(path)) == [("first", components[0]), ("second", components[1]), ("beyond", "[]")]


def test_magic_variables_use_the_path_as_given_and_the_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.b.ini", "[dev]\no = %o\np = %p\nn = %n\ne = %e\nx = %x\n")
    assert pairs(read_ini("a.b.ini", "dev")) == [
        ("o", "a.b.ini"),
        ("p", f"{os.path.realpath(tmp_path)}/a.b.ini"),
        ("n", "a.b"),
        ("e", "ini"),
        ("x", "dev"),
    ]


def test_magic_variables_keep_a_symlinked_file_own_directory(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    write(real_dir, "app.ini", "[uwsgi]\nd = %d\ns = %s\n")
    link = tmp_path / "link.ini"
    link.symlink_to(real_dir / "app.ini")
    assert pairs(read_ini(str(link))) == [("d", f"{tmp_path}/"), ("s", "link.ini")]


@pytest.mark.parametrize(
    ("name", "text", "reader"),
    [
        ("m.ini", "[uwsgi]\nmule = %n.py\n", read_ini),
        ("m.yaml", "uwsgi:\n  mule: %n.py\n", read_yaml),
        ("m.xml", "<uwsgi><mule>%n.py</mule></uwsgi>", read_xml),
        ("m.json", '{"uwsgi": {"mule": "%n.py"}}', read_json),
    ],
)
def test_every_reader_substitutes_magic_variables(
    tmp_path: Path, name: str, text: str, reader: Reader
) -> None:
    path = write(tmp_path, name, text)
    assert pairs(reader(path)) == [("mule", "m.py")]


def test_references_resolve_like_uwsgi_last_pass(tmp_path: Path) -> None:
    """Real uWSGI 2.0.30, ``uwsgi --ini a.ini --show-config``, printed exactly these values: after a
    substitution it scans the value again from its second character, so ``mid`` and ``grow``
    resolve what they brought in, while ``early`` (whose reference starts the value) does not."""
    path = write(
        tmp_path,
        "a.ini",
        "[uwsgi]\nbase = /srv\nbase = /other\napp = %(base)/app.py\nmule = %(app)\n"
        "early = %(late)/x\nlate = %(base)/late\nlate = second\n"
        "unknown = %(nope) %()\nbare\nuse = [%(bare)]\n"
        "percent = %%(base)\nself = %(self)\nboth = %(base)-%(base)\nmid = x%(late)\ngrow = a%(early)\n",
    )
    assert pairs(parse_argv(["--ini", path])[1:]) == [
        ("base", "/srv"),
        ("base", "/other"),
        ("app", "/srv/app.py"),
        ("mule", "/srv/app.py"),
        ("early", "%(base)/late/x"),
        ("late", "/srv/late"),
        ("late", "second"),
        ("unknown", "%(nope) %()"),
        ("bare", None),
        ("use", "[]"),
        ("percent", "/srv"),
        ("self", "%(self)"),
        ("both", "/srv-/srv"),
        ("mid", "x/srv/late"),
        ("grow", "a/srv/late/x"),
    ]


# --- read_config_file --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("conf.ini", ("conf.ini", None)),
        ("conf.ini:dev", ("conf.ini", "dev")),
        ("conf.ini:", ("conf.ini", None)),
        ("/srv/a:b/conf.ini", ("/srv/a:b/conf.ini", None)),
        ("/srv/a:b/conf.ini:dev", ("/srv/a:b/conf.ini", "dev")),
        (":dev", (":dev", None)),
    ],
)
def test_split_spec(spec: str, expected: tuple[str, str | None]) -> None:
    assert split_spec(spec) == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.ini", "[uwsgi]\nmules = 1\n[dev]\nmules = 2\n"),
        ("c.yaml", "uwsgi:\n  mules: 1\ndev:\n  mules: 2\n"),
        ("c.yml", "uwsgi:\n  mules: 1\ndev:\n  mules: 2\n"),
        ("c.json", '{"uwsgi": {"mules": 1}, "dev": {"mules": 2}}'),
        ("c.xml", '<r><uwsgi id="main"><mules>1</mules></uwsgi><uwsgi id="dev"><mules>2</mules></uwsgi></r>'),
    ],
)
def test_read_config_file_picks_reader_by_extension_and_section(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    assert pairs(read_config_file(f"{path}:dev")) == [("mules", "2")]
    first = pairs(read_config_file(path))
    assert first == ([("mules", "1"), ("mules", "2")] if name.endswith(".xml") else [("mules", "1")])


def test_read_config_file_kind_overrides_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.conf", "[uwsgi]\nmule = x.py\n")
    assert read_config_file(path, "ini") == [ConfigEntry("mule", "x.py", f"{path}:2")]
    with pytest.raises(ValueError, match="unknown config file kind 'toml'"):
        read_config_file(path, "toml")


def test_read_config_file_unknown_extension_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative spec: an error cuts a spec longer than 80 characters, and tmp_path's length
    # varies (pytest-xdist adds a folder per worker).
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "mule.py", "print('hi')\n")
    spec = "mule.py:dev"
    with pytest.raises(ConfigError) as caught:
        read_config_file(spec)
    assert caught.value.origin == spec
    assert caught.value.reason == (
        f"unable to load configuration from {spec}: "
        "unknown config file type (use .ini, .xml, .yaml, .yml or .json)"
    )


@pytest.mark.parametrize(
    ("name", "strerror"), [("missing.ini", "No such file or directory"), ("dir.ini", "Is a directory")]
)
def test_read_config_file_unreadable_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, strerror: str
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative spec, never cut (see above)
    (tmp_path / "dir.ini").mkdir()
    spec = f"{name}:dev"
    with pytest.raises(ConfigError) as caught:
        read_config_file(spec)
    assert caught.value.origin == spec
    assert caught.value.reason == f"unable to load configuration from {spec}: {strerror}"


@pytest.mark.parametrize("reader", [read_ini, read_yaml, read_xml, read_json])
def test_readers_report_a_missing_file(tmp_path: Path, reader: Reader) -> None:
    path = str(tmp_path / "missing")
    with pytest.raises(ConfigError) as caught:
        reader(path)
    assert str(caught.value) == f"{path}: unable to load configuration from {path}: No such file or directory"


def test_reader_rejects_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.ini"
    path.write_bytes(b"[uwsgi]\nmule = \xff.py\n")
    with pytest.raises(ConfigError) as caught:
        read_ini(str(path))
    assert str(caught.value) == f"{path}: unable to load configuration from {path}: not UTF-8 text (byte 15)"
