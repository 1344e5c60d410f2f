"""Message previews: a @mulefunc pickle shows as its call, read without ever loading it."""

from __future__ import annotations

import os
import pickle
import pickletools

import pytest

from muletui.ipc.previews import PICKLE_PREVIEW_BYTES, describe, preview_bytes


def mulefunc_call(name: str, *args: object, **kwargs: object) -> bytes:
    """What uwsgidecorators' ``mulefunc.real_call`` sends (the same dict, the default protocol)."""
    return pickle.dumps({"service": "uwsgi_mulefunc", "func": name, "args": args, "kwargs": kwargs})


class Boom:
    """Unpickling this would create a file: nothing may load a previewed pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return os.open, (self.path, os.O_CREAT | os.O_WRONLY)


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a preview loaded a pickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def test_a_mulefunc_call_shows_as_the_call():
    preview = describe(preview_bytes(mulefunc_call("thumbnail", "photo-4.jpg", 128)))
    assert (preview.text, preview.mulefunc) == ("thumbnail('photo-4.jpg', 128)", "thumbnail")
    assert describe(mulefunc_call("store", b"\x00\xff", key=None)).text == "store(b'\\x00\\xff', key=None)"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_arguments_and_keywords_of_every_binary_protocol(protocol):
    data = pickle.dumps(
        {"service": "uwsgi_mulefunc", "func": "f", "args": ([1, 2], {"k": (None, True)}, "é", 2.5), "kwargs": {"size": 3}},
        protocol=protocol,
    )
    assert describe(data).text == "f([1, 2], {'k': (None, True)}, 'é', 2.5, size=3)"


def test_a_call_cut_short_shows_what_was_read():
    data = mulefunc_call("thumbnail", "photo-4.jpg", 128)
    ends = {describe(data[:n]).text for n in range(len(data))}
    assert {"thumbnail(…)", "thumbnail('photo-4.jpg', …)", "thumbnail('photo-4.jpg', 128, …)"} <= ends
    long = preview_bytes(mulefunc_call("resize", "x" * 500, 3))
    assert len(long) == PICKLE_PREVIEW_BYTES and describe(long).text == "resize(…)"


def test_an_object_argument_is_never_built_and_its_code_never_runs(tmp_path):
    path = tmp_path / "pwned"
    data = mulefunc_call("thumbnail", "photo.jpg", Boom(str(path)))
    assert "REDUCE" in {op.name for op, _arg, _pos in pickletools.genops(data)}
    assert describe(data).text == "thumbnail('photo.jpg', …)"
    assert not path.exists()


def test_other_messages_and_other_pickles_show_as_escaped_bytes():
    assert describe(b"hello\x00").text == "hello\\x00"
    assert describe(b"hello\x00").mulefunc == ""
    other = pickle.dumps({"service": "something else", "func": "f", "args": (), "kwargs": {}})
    assert describe(preview_bytes(other)).text.startswith("\\x80")
    assert describe(b"\x80\x04garbage").text == "\\x80\\x04garbage"
    assert len(preview_bytes(b"y" * 1000)) == 64
